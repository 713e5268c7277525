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


def summarize(frame):
    """Append ``mean`` and ``std`` rows (over repeats) to a per-repeat score table."""
    numeric = frame.select_dtypes("number")
    summary = numeric.agg(["mean", "std"])
    return pd.concat([frame, summary])
