"""Figures of linear-probe scores (plot_probe_results)."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from sk_brainjepa.plotting import (  # noqa: E402
    plot_probe_results,
)

from ._helpers import error_bar_halves  # noqa: E402


def probe_table(scores, task="classification"):
    """A table shaped like linear_probe's: repeat rows, then mean and std."""
    n = len(scores)
    rows = pd.DataFrame(
        {
            "repeat": range(n),
            "n_train": 12,
            "n_val": 4,
            "n_test": 4,
            "regularization": 1.0,
            "accuracy": scores,
            "balanced_accuracy": scores,
            "f1": np.asarray(scores) - 0.1,
        }
    )
    table = pd.concat([rows, rows.select_dtypes("number").agg(["mean", "std"])])
    table.attrs.update(task=task)
    return table


def test_plot_probe_results_single_table():
    table = probe_table([0.6, 0.7, 0.8])
    ax = plot_probe_results(table)
    assert len(ax.patches) == 1  # balanced_accuracy, the task's main score
    assert ax.patches[0].get_height() == pytest.approx(0.7)
    np.testing.assert_allclose(error_bar_halves(ax), [0.1])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["balanced_accuracy"]
    assert "3 repeats" in ax.get_ylabel()
    ax = plot_probe_results(table, metric=["accuracy", "f1"])
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.7, 0.6])


def test_plot_probe_results_compares_models():
    tables = {
        "Brain-JEPA": probe_table([0.6, 0.7, 0.8]),
        "FC": probe_table([0.5, 0.55]),
    }
    ax = plot_probe_results(tables, metric=["accuracy", "f1"])
    assert len(ax.patches) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Brain-JEPA", "FC"]
    assert "2/3 repeats" in ax.get_ylabel()
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == pytest.approx(sorted([0.7, 0.6, 0.525, 0.425]))


def test_plot_probe_results_regression_default_and_no_summary_rows():
    rows = pd.DataFrame({"mse": [2.0, 3.0], "pearson_r": [0.3, 0.5]})
    ax = plot_probe_results(rows)  # no attrs, no mean/std rows: computed here
    assert [t.get_text() for t in ax.get_xticklabels()] == ["pearson_r"]
    assert ax.patches[0].get_height() == pytest.approx(0.4)


def test_plot_probe_results_bad_input():
    table = probe_table([0.6, 0.7])
    with pytest.raises(ValueError, match=r"metric \['r2'\] not in the score"):
        plot_probe_results(table, metric="r2")
    with pytest.raises(ValueError, match=r"frame\['b'\]"):
        plot_probe_results({"a": table, "b": table.drop(columns="f1")}, metric="f1")
    with pytest.raises(TypeError, match="non-empty dict"):
        plot_probe_results({})
    with pytest.raises(TypeError, match=r"frame\['a'\] must be a DataFrame"):
        plot_probe_results({"a": [0.5]})
    with pytest.raises(ValueError, match="no score rows"):
        plot_probe_results(pd.DataFrame({"repeat": [0, 1]}))
