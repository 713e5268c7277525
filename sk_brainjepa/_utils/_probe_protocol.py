"""The probe protocol's core, shared by ``linear_probe`` and the pretraining monitor.

One train / validation / test split (``three_way_split``), and on it one
linear probe (``probe_split``): standardised features, a logistic regression
(classes) or ridge (real values) fitted for every value of the grid, the
value with the best validation score (balanced accuracy, or MSE) kept and
scored on the test part. ``model_selection`` builds the repeated, checked
protocol of ``linear_probe`` / ``probe_features`` on it; ``estimators`` (below
``model_selection`` in the layers) runs the same protocol for the monitor.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import pearsonr
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import (
    GroupShuffleSplit,
    ShuffleSplit,
    StratifiedShuffleSplit,
)
from sklearn.preprocessing import StandardScaler

from sk_brainjepa._utils._random import spawn_seeds

# Candidate C (logistic regression) or alpha (ridge) values.
DEFAULT_GRID = tuple(10.0 ** np.arange(-4, 5))


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


# Fewest samples of a class a stratified split can hold: one per part.
MIN_PER_CLASS = 3


def part_sizes(n: int, ratios) -> tuple[int, int, int]:
    """(train, validation, test) sizes that the splits give ``n`` samples (groups)."""
    _, val_r, test_r = ratios
    # As scikit-learn's ShuffleSplit: ceil for the held-out part, the rest trains.
    n_test = math.ceil(test_r * n)
    n_rest = n - n_test
    n_val = math.ceil(val_r / (1.0 - test_r) * n_rest)
    return n_rest - n_val, n_val, n_test


def min_units(ratios, need: tuple[int, int, int]) -> int:
    """Fewest samples (groups) whose parts hold at least ``need`` (train, val, test)."""
    n = 1
    while any(
        size < least for size, least in zip(part_sizes(n, ratios), need, strict=True)
    ):
        n += 1
    return n


def _two_way(n_test, stratify, groups, seed):
    if groups is not None:
        return GroupShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
    if stratify:
        return StratifiedShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
    return ShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)


def three_way_split(n_samples, y, groups, ratios, stratify, seed):
    """One (train, validation, test) split of ``range(n_samples)``."""
    _, val_r, test_r = ratios
    y_arr = None if y is None else np.asarray(y)
    groups_arr = None if groups is None else np.asarray(groups)
    index = np.arange(n_samples)
    # scikit-learn splitters take seeds below 2**32.
    first, second = (s % 2**32 for s in spawn_seeds(seed % 2**32, 2))
    dummy = np.zeros((n_samples, 1))
    splitter = _two_way(test_r, stratify, groups_arr, first)
    rest, test = next(splitter.split(dummy, y_arr, groups_arr))
    val_share = val_r / (1.0 - test_r)
    splitter = _two_way(
        val_share, stratify, None if groups_arr is None else groups_arr[rest], second
    )
    sub_y = None if y_arr is None else y_arr[rest]
    sub_groups = None if groups_arr is None else groups_arr[rest]
    train, val = next(splitter.split(dummy[rest], sub_y, sub_groups))
    return np.sort(index[rest][train]), np.sort(index[rest][val]), np.sort(test)


def probe_split(features, y, split, classification, grid, repeat):
    """Fit one repeat: choose the regularisation on validation, score the test part."""
    train, val, test = split
    scaler = StandardScaler().fit(features[train])
    f_train, f_val, f_test = (scaler.transform(features[i]) for i in (train, val, test))
    # Strongest regularisation first; a strictly better validation score is
    # needed to move on, so ties keep the simpler model.
    if classification:
        candidates = [LogisticRegression(C=c, max_iter=5000) for c in sorted(grid)]
    else:
        candidates = [Ridge(alpha=a) for a in sorted(grid, reverse=True)]
    best, best_score = None, -np.inf
    for estimator in candidates:
        estimator.fit(f_train, y[train])
        pred = estimator.predict(f_val)
        if classification:
            score = classification_scores(
                y[val], pred, estimator.predict_proba(f_val), estimator.classes_
            )["balanced_accuracy"]
        else:
            # Only the MSE: R^2 is undefined on a one-subject validation part.
            score = -float(np.mean((y[val] - pred) ** 2))
        if score > best_score:
            best, best_score = estimator, score
    pred = best.predict(f_test)
    if classification:
        scores = classification_scores(
            y[test], pred, best.predict_proba(f_test), best.classes_
        )
        regularization = best.C
    else:
        scores = regression_scores(y[test], pred)
        regularization = best.alpha
    return {
        "repeat": repeat,
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
        "regularization": regularization,
        **scores,
    }
