"""Classification and regression scores."""

import numpy as np
import pytest

from sk_brainjepa.model_selection import classification_scores, regression_scores


def test_metrics():
    s = classification_scores(
        np.array([0, 1, 1, 0]),
        np.array([0, 1, 0, 0]),
        np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]),
        np.array([0, 1]),
    )
    assert s["accuracy"] == 0.75 and s["balanced_accuracy"] == 0.75
    assert s["f1"] == pytest.approx(2 / 3) and s["roc_auc"] == 1.0
    r = regression_scores([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert r["mse"] == pytest.approx(1 / 3) and r["mae"] == pytest.approx(1 / 3)
    assert r["pearson_r"] == pytest.approx(np.corrcoef([1, 2, 3], [1, 2, 4])[0, 1])
