"""The scores of the paper's evaluation (ACC/F1, MSE/Pearson r) and a few more."""

from __future__ import annotations

import numpy as np
import pandas as pd

# The scores live with the probe protocol's core, below the estimators.
from sk_brainjepa._utils._probe_protocol import (  # noqa: F401 (re-exported)
    classification_scores,
    regression_scores,
)

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1", "roc_auc")
REGRESSION_METRICS = ("mse", "mae", "pearson_r", "r2")


# Columns of a per-repeat table that count or index: integers, never averaged.
COUNT_COLUMNS = ("repeat", "n_train", "n_val", "n_test")
# Summary rows appended by summarize, over the repeats.
SUMMARY_ROWS = ("mean", "std")
# Columns that describe one repeat and are left empty in the summary rows.
_UNSUMMARIZED = (*COUNT_COLUMNS, "regularization")


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Append ``mean`` and ``std`` rows (over repeats) of the score columns.

    Only scores are summarised: the repeat index, the part sizes and the
    regularisation chosen in each repeat describe one repeat each, and their
    mean would read as a result ("regularization 200.062"). Those cells of
    the summary rows are left empty, and the counts stay integers (pandas'
    nullable ``Int64``), so that they print as ``24``, not ``24.000``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per repeat; columns named in ``CLASSIFICATION_METRICS`` or
        ``REGRESSION_METRICS`` are scores.

    Returns
    -------
    table : pandas.DataFrame
        ``frame`` then rows ``mean`` and ``std``.
    """
    metrics = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)
    scores = [c for c in frame.columns if c in metrics]
    summary = frame[scores].astype(float).agg(list(SUMMARY_ROWS))
    table = pd.concat([frame, summary])
    for column in COUNT_COLUMNS:
        if column in table.columns:
            table[column] = table[column].astype("Int64")
    return table


def format_scores(table: pd.DataFrame) -> str:
    """A probe table as text for a person: counts as integers, scores to 3 places.

    The chosen regularisation keeps its significant digits (``0.0001``, not
    ``0.000``); the cells :func:`summarize` leaves empty print blank, a score
    that is not defined (e.g. ROC AUC of a one-class test part) as ``NaN``.

    Parameters
    ----------
    table : pandas.DataFrame
        As :func:`summarize` returns it (other columns print as they are).

    Returns
    -------
    text : str
    """

    def cell(value, column) -> str:
        if value is pd.NA or (column in _UNSUMMARIZED and pd.isna(value)):
            return ""
        if isinstance(value, (float, np.floating)):
            if np.isnan(value):
                return "NaN"
            return f"{value:g}" if column == "regularization" else f"{value:.3f}"
        return str(value)

    text = pd.DataFrame(
        {c: [cell(v, c) for v in table[c]] for c in table.columns}, index=table.index
    )
    return text.to_string()
