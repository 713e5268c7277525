"""The scores of the paper's evaluation (ACC/F1, MSE/Pearson r) and a few more."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import pearsonr
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1", "roc_auc")
REGRESSION_METRICS = ("mse", "mae", "pearson_r", "r2")


def classification_scores(y_true, y_pred, proba, classes) -> dict[str, float]:
    """Accuracy, balanced accuracy, F1 and ROC AUC.

    F1 is binary for two classes (positive class = ``classes[1]``, as the
    official code's label 1) and macro-averaged otherwise; ROC AUC is one-vs-rest
    for several classes, and NaN when the test part holds a single class.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    proba : ndarray of shape (n_samples, n_classes) or None
        Class probabilities; None (a model without ``predict_proba``) gives
        a NaN ROC AUC.
    classes : ndarray of shape (n_classes,) or None
        The columns of ``proba``; None takes the sorted labels of ``y_true``
        and ``y_pred``.

    Returns
    -------
    scores : dict
    """
    if classes is None:
        classes = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    binary = len(classes) == 2
    f1 = (
        f1_score(y_true, y_pred, pos_label=classes[1])
        if binary
        else f1_score(y_true, y_pred, average="macro")
    )
    if proba is None or len(np.unique(y_true)) < 2:
        auc = float("nan")
    elif binary:
        auc = roc_auc_score(y_true == classes[1], proba[:, 1])
    else:
        auc = roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "f1": f1,
        "roc_auc": auc,
    }


def regression_scores(y_true, y_pred) -> dict[str, float]:
    """MSE, MAE, Pearson r and R^2 (Pearson r is NaN for a constant prediction).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)

    Returns
    -------
    scores : dict
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    constant = np.ptp(y_pred) == 0 or np.ptp(y_true) == 0
    return {
        "mse": mean_squared_error(y_true, y_pred),
        "mae": mean_absolute_error(y_true, y_pred),
        "pearson_r": float("nan") if constant else pearsonr(y_true, y_pred)[0],
        "r2": r2_score(y_true, y_pred),
    }


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
