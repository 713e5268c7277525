"""Linear probing from one call: embed once, then repeated 6/2/2 evaluation."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa.estimators import BrainJEPAEmbedder, BrainJEPAPretrainer
from sk_brainjepa.estimators._loading import check_encoder
from sk_brainjepa.model_selection._metrics import (
    classification_scores,
    regression_scores,
    summarize,
)
from sk_brainjepa.model_selection._split import (
    TrainValTestSplit,
    is_classification_target,
)
from sk_brainjepa.nn import FEATURE_READOUTS

logger = logging.getLogger(__name__)

TASKS = ("auto", "classification", "regression")
DEFAULT_GRID = tuple(10.0 ** np.arange(-4, 5))


def _embedder_for(model, gradients, readout, encoder) -> BrainJEPAEmbedder:
    """The embedder behind ``model``; an embedder keeps its own settings."""
    if isinstance(model, BrainJEPAPretrainer):
        return BrainJEPAEmbedder(
            pretrainer=FrozenEstimator(model), readout=readout, encoder=encoder
        )
    if isinstance(model, BrainJEPAEmbedder):
        try:
            check_is_fitted(model)
            return model
        except NotFittedError:
            return clone(model)
    if isinstance(model, (str, os.PathLike)):
        return BrainJEPAEmbedder(
            checkpoint=model, gradients=gradients, readout=readout, encoder=encoder
        )
    raise ValueError(
        "model must be a fitted BrainJEPAPretrainer, a BrainJEPAEmbedder or a "
        f"checkpoint path; got {type(model).__name__}."
    )


def _probe_one(features, y, split, classification, grid, repeat):
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
            score = -regression_scores(y[val], pred)["mse"]
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


def linear_probe(
    model,
    X,
    y,
    *,
    task="auto",
    n_repeats=5,
    ratios=(0.6, 0.2, 0.2),
    regularization=DEFAULT_GRID,
    groups=None,
    gradients=None,
    readout="mean",
    encoder="target",
    n_jobs=None,
    random_state=None,
):
    """Linear probing of frozen Brain-JEPA features, as the paper evaluates them.

    The data are embedded once. Then, for each of ``n_repeats`` train /
    validation / test splits (6/2/2 by default, stratified for classes), a
    linear model on standardised features (logistic regression for classes,
    ridge for real values) is fitted on the training part for every value of
    ``regularization``; the value with the best validation score (balanced
    accuracy, or MSE) is kept and scored on the test part.

    Parameters
    ----------
    model : BrainJEPAPretrainer, BrainJEPAEmbedder, str or os.PathLike
        A fitted pretrainer, an embedder (fitted or not), or a checkpoint path
        (ours or the official one, which also needs ``gradients``).
    X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
        Robust-scaled time series.
    y : array-like of shape (n_subjects,)
        Target.
    task : {"auto", "classification", "regression"}, default="auto"
        "auto" chooses classification when ``y`` holds class labels
        (integers, strings, booleans, or floats with at most 20 values).
    n_repeats : int, default=5
    ratios : tuple of float, default=(0.6, 0.2, 0.2)
    regularization : sequence of float, default=10**-4 ... 10**4
        Candidate ``C`` (logistic regression) or ``alpha`` (ridge) values.
    groups : array-like of shape (n_subjects,) or None, default=None
        Keep each group (e.g. the windows of one subject) on one side.
    gradients : None, array-like or path, default=None
        Gradients of an official checkpoint.
    readout : {"mean", "roi", "connectivity", "lagged"}, default="mean"
        Features, see :class:`BrainJEPAEmbedder`: the paper's mean readout,
        per-ROI means, the correlation between ROIs of their token
        trajectories (second order; for labels carried by connectivity), or
        that correlation at a lag of one time patch in both directions.
        Ignored when ``model`` is an embedder, which keeps its own.
    encoder : {"target", "online"}, default="target"
        Features of the EMA target encoder (the paper's) or of the online
        context encoder, see :class:`BrainJEPAEmbedder`. Ignored when
        ``model`` is an embedder, which keeps its own.
    n_jobs : int or None, default=None
        Repeats run in parallel with joblib.
    random_state : int, RandomState instance or None, default=None
        Seeds the splits.

    Returns
    -------
    scores : pandas.DataFrame
        One row per repeat (``repeat``, part sizes, the chosen
        ``regularization`` and the test scores: ``accuracy``,
        ``balanced_accuracy``, ``f1``, ``roc_auc`` for classification; ``mse``,
        ``mae``, ``pearson_r``, ``r2`` for regression), then rows ``mean`` and
        ``std`` over the repeats. ``scores.attrs`` records the task, the
        feature count, and the readout and encoder the features came from.

    Examples
    --------
    >>> from sk_brainjepa import (BrainJEPAPretrainer, linear_probe,
    ...                           make_brain_dynamics)
    >>> X, pheno = make_brain_dynamics(n_subjects=30, n_rois=8, n_timepoints=32,
    ...                                random_state=0)
    >>> pre = BrainJEPAPretrainer(n_timepoints=32, max_epochs=1, batch_size=10,
    ...                           random_state=0).fit(X)
    >>> table = linear_probe(pre, X, pheno["sex"], n_repeats=2, random_state=0)
    >>> list(table.index)
    [0, 1, 'mean', 'std']
    """
    if readout not in FEATURE_READOUTS:
        raise ValueError(
            f"readout must be one of {FEATURE_READOUTS} for probing; got {readout!r}."
        )
    check_encoder(encoder)
    task, y = _check_target(task, y, len(X))
    _check_grid(regularization)  # fail before the (slow) embedding
    embedder = _embedder_for(model, gradients, readout, encoder)
    try:
        check_is_fitted(embedder)
    except NotFittedError:
        embedder.fit(X)
    table = probe_features(
        embedder.transform(X),
        y,
        task=task,
        n_repeats=n_repeats,
        ratios=ratios,
        regularization=regularization,
        groups=groups,
        n_jobs=n_jobs,
        random_state=random_state,
    )
    # What the embedder used: a given embedder keeps its own settings.
    table.attrs.update(readout=embedder.readout, encoder=embedder.encoder)
    return table


def _check_target(task, y, n_subjects: int):
    """Validated ``(task, y)``: the task resolved, ``y`` as an array."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}.")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_subjects,); got shape {y.shape}.")
    if len(y) != n_subjects:
        raise ValueError(f"X has {n_subjects} subjects but y has {len(y)} values.")
    if task == "auto":
        task = "classification" if is_classification_target(y) else "regression"
    if task == "classification" and len(np.unique(y)) < 2:
        raise ValueError("y has a single class; classification needs at least two.")
    if task == "regression":
        y = y.astype(float)
    return task, y


def _check_grid(regularization) -> list[float]:
    grid = [float(v) for v in np.atleast_1d(regularization)]
    if not grid or min(grid) <= 0:
        raise ValueError(
            f"regularization must be positive values; got {regularization!r}."
        )
    return grid


def probe_features(
    features,
    y,
    *,
    task="auto",
    n_repeats=5,
    ratios=(0.6, 0.2, 0.2),
    regularization=DEFAULT_GRID,
    groups=None,
    n_jobs=None,
    random_state=None,
):
    """The protocol of :func:`linear_probe` on features computed beforehand.

    Parameters
    ----------
    features : array-like of shape (n_subjects, n_features)
        E.g. what ``BrainJEPAEmbedder.transform`` or ``sk-brainjepa embed``
        gave.
    y : array-like of shape (n_subjects,)
    task, n_repeats, ratios, regularization, groups, n_jobs, random_state
        As in :func:`linear_probe`.

    Returns
    -------
    scores : pandas.DataFrame
        As in :func:`linear_probe`.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(
            f"features must be 2-D (n_subjects, n_features); got shape "
            f"{features.shape}."
        )
    if not np.all(np.isfinite(features)):
        raise ValueError("features contain NaN or infinite values.")
    task, y = _check_target(task, y, len(features))
    classification = task == "classification"
    grid = _check_grid(regularization)
    logger.info("linear_probe: %s on features %s", task, features.shape)
    splitter = TrainValTestSplit(
        n_repeats,
        ratios=ratios,
        random_state=random_state,
        stratify="auto" if classification else False,
    )
    splits = list(
        splitter.split_with_test(features, y if classification else None, groups)
    )
    rows = Parallel(n_jobs=n_jobs)(
        delayed(_probe_one)(features, y, split, classification, grid, k)
        for k, split in enumerate(splits)
    )
    table = summarize(pd.DataFrame(rows).set_index(pd.Index(range(n_repeats))))
    table.attrs.update(task=task, n_features=features.shape[1])
    return table
