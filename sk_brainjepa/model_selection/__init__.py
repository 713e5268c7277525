"""Model selection and evaluation: 6/2/2 splits, linear probing, score tables."""

from sk_brainjepa.model_selection._metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    classification_scores,
    regression_scores,
)
from sk_brainjepa.model_selection._probe import linear_probe, probe_features
from sk_brainjepa.model_selection._split import TrainValTestSplit, train_val_test_split

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "TrainValTestSplit",
    "classification_scores",
    "linear_probe",
    "probe_features",
    "regression_scores",
    "train_val_test_split",
]
