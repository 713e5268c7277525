"""Linear probing from one call: embed once, then repeated 6/2/2 evaluation."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from sk_brainjepa._utils._deprecation import renamed_keywords
from sk_brainjepa._utils._docstrings import fill_doc
from sk_brainjepa._utils._probe_protocol import DEFAULT_GRID
from sk_brainjepa._utils._probe_protocol import probe_split as _probe_one
from sk_brainjepa._utils._targets import resolve_task
from sk_brainjepa._utils._validation import check_int, check_layout
from sk_brainjepa.estimators import check_encoder, resolve_model, unfreeze
from sk_brainjepa.model_selection._metrics import (
    summarize,
)
from sk_brainjepa.model_selection._split import (
    MIN_PER_CLASS,
    TrainValTestSplit,
    _check_ratios,
    min_units,
)
from sk_brainjepa.nn import FEATURE_READOUTS
from sk_brainjepa.sources import as_source

logger = logging.getLogger(__name__)

# Fewest subjects a part may hold: R^2 and a ridge fit need two; a validation
# score needs one.
_MIN_TRAIN, _MIN_VAL, _MIN_TEST = 2, 1, 2
# Fewest subjects per class: one for each of the three parts.
_MIN_PER_CLASS = MIN_PER_CLASS
# Class counts named in a message at most.
_SHOWN_CLASSES = 10


@fill_doc
@renamed_keywords({"encoder": "source_encoder"})
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
    readout=None,
    source_encoder=None,
    layout=None,
    n_jobs=None,
    random_state=None,
):
    """Linear probing of frozen Brain-JEPA features, as the paper evaluates them.

    The data are embedded once. Then, for each of ``n_repeats`` train /
    validation / test splits (6/2/2 by default, stratified for classes), a
    linear model on standardised features (logistic regression for classes,
    ridge for real values) is fitted on the training part for every value of
    ``regularization``; the value with the best validation score (balanced
    accuracy, or MSE) is kept and scored on the test part. The target and
    the splits are checked before anything is embedded.

    Parameters
    ----------
    model : BrainJEPAPretrainer, BrainJEPAEmbedder, str or os.PathLike
        A fitted pretrainer, an embedder (fitted, or holding a fitted
        pretrainer or a checkpoint path), or a checkpoint path (ours or the
        official one, which also needs ``gradients``). It is never modified.
    X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
        Robust-scaled time series, in ``layout``; or a folder or files, as
        :func:`sk_brainjepa.sources.as_source` reads them.
    y : array-like of shape (n_subjects,)
        Target, finite and without missing values.
    task : {"auto", "classification", "regression"}, default="auto"
        "auto" treats strings, booleans, categoricals and two-valued numbers
        as classes, and numbers with 10 or more distinct values (e.g.
        integer ages) or that never repeat as real values. Repeated numbers
        with 3 to 9 distinct values could be either: integers are taken as
        classes, other numbers as real values, with a ``UserWarning``; pass
        the task to choose.
    n_repeats : int, default=5
    ratios : tuple of float, default=(0.6, 0.2, 0.2)
        Train, validation and test fractions of the subjects (of the groups
        with ``groups``).
    regularization : sequence of float, default=10**-4 ... 10**4
        Candidate ``C`` (logistic regression) or ``alpha`` (ridge) values.
    groups : array-like of shape (n_subjects,) or None, default=None
        Keep each group (e.g. the windows of one subject) on one side.
    %(gradients_official)s
    readout : {"mean", "roi", "connectivity", "lagged"} or None, default=None
        Features, see :class:`BrainJEPAEmbedder`: the paper's mean readout,
        per-ROI means, the correlation between ROIs of their token
        trajectories (second order; for labels carried by connectivity), or
        that correlation at a lag of one time patch in both directions. None
        keeps a given embedder's readout, and is ``"mean"`` otherwise; a
        value applies to an embedder too (a new one is made).
    source_encoder : {"target", "online"} or None, default=None
        Features of the EMA target encoder (the paper's) or of the online
        context encoder, see :class:`BrainJEPAEmbedder`. None keeps a given
        embedder's encoder, and is ``"target"`` otherwise. Called ``encoder``
        before 0.2 (that keyword still works, with a ``FutureWarning``, until
        0.3).
    layout : {"rois_x_time", "time_x_rois"} or None, default=None
        How each subject of ``X`` is ordered: (n_rois, n_timepoints), or
        (n_timepoints, n_rois) as nilearn returns it. None takes the model's
        ``layout`` (an embedder's or a pretrainer's), ``"rois_x_time"`` for a
        checkpoint path.
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
        ``std`` over the repeats of the scores only: their repeat, sizes and
        regularisation cells are empty, and the counts are integers
        (``Int64``). ``scores.attrs`` records the ``task`` that
        was probed, the feature count (``n_features``), and the ``readout``
        and ``encoder`` the features came from.

    Raises
    ------
    TypeError
        When ``model`` is none of the accepted types.
    ValueError
        Before any embedding, for a target that cannot be probed (missing or
        infinite values, a single value or class, too few subjects for the
        splits) or an invalid setting.

    Warns
    -----
    UserWarning
        When ``task="auto"`` had to guess, saying what it chose.

    Examples
    --------
    >>> from sk_brainjepa import (BrainJEPAPretrainer, linear_probe,
    ...                           make_brain_dynamics)
    >>> X, pheno = make_brain_dynamics(n_subjects=30, n_rois=8, n_timepoints=32,
    ...                                random_state=0)
    >>> pre = BrainJEPAPretrainer(window_length=32, max_epochs=1, batch_size=10,
    ...                           random_state=0).fit(X)
    >>> table = linear_probe(pre, X, pheno["sex"], n_repeats=2, random_state=0)
    >>> list(table.index), table.attrs["task"]
    ([0, 1, 'mean', 'std'], 'classification')
    """
    # Settings, target and splits first: they fail in moments, the embedding
    # may take hours.
    if readout is not None and readout not in FEATURE_READOUTS:
        raise ValueError(
            f"readout must be one of {FEATURE_READOUTS} for probing; got {readout!r}."
        )
    if source_encoder is not None:
        check_encoder(source_encoder)
    if layout is None:
        layout = getattr(unfreeze(model), "layout", "rois_x_time")
    source = as_source(X, layout=check_layout(layout))
    task, y = _check_target(task, y, len(source))
    grid = _check_grid(regularization)
    splits = _plan_splits(y, task, n_repeats, ratios, groups, random_state)
    embedder = resolve_model(
        model,
        readout=readout,
        source_encoder=source_encoder,
        gradients=gradients,
        layout=layout,
    )
    if embedder.readout not in FEATURE_READOUTS:
        raise ValueError(
            f"The embedder's readout={embedder.readout!r} gives no 2-D features to "
            f"probe; pass readout= one of {FEATURE_READOUTS}."
        )
    # float64, as probe_features takes them: the two give the same scores.
    features = np.asarray(embedder.transform(source), dtype=np.float64)
    table = _probe_splits(features, y, task, splits, grid, n_jobs)
    # The value the embedder used, also when a given one still sets the old name.
    source_encoder = embedder._renamed_params()["source_encoder"]
    table.attrs.update(readout=embedder.readout, encoder=source_encoder)
    logger.info(
        "linear_probe: %s of y on %d %s features of the %s encoder, %d repeats",
        task,
        features.shape[1],
        embedder.readout,
        source_encoder,
        len(splits),
    )
    return table


def _check_target(task, y, n_subjects: int):
    """Validated ``(task, y)``: the task resolved, ``y`` as a 1-D array.

    Raises a ValueError naming ``y`` for targets that cannot be probed, and
    warns when ``task="auto"`` had to guess (see :func:`infer_task`).
    """
    y_in = y
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_subjects,); got shape {y.shape}.")
    if len(y) != n_subjects:
        raise ValueError(f"X has {n_subjects} subjects but y has {len(y)} values.")
    return resolve_task(y_in, task, stacklevel=4)


def _check_grid(regularization) -> list[float]:
    grid = [float(v) for v in np.atleast_1d(regularization)]
    if not grid or min(grid) <= 0:
        raise ValueError(
            f"regularization must be positive values; got {regularization!r}."
        )
    return grid


def _min_units(ratios, n_classes: int) -> int:
    """Fewest subjects (or groups) for which every part is large enough.

    Stratified parts must each hold at least one subject per class, as
    scikit-learn's stratified splitters require.
    """
    need = (
        (n_classes, n_classes, n_classes)
        if n_classes
        else (_MIN_TRAIN, _MIN_VAL, _MIN_TEST)
    )
    return max(min_units(ratios, need), _MIN_PER_CLASS * n_classes)


def _plan_splits(y, task, n_repeats, ratios, groups, random_state) -> list:
    """The (train, validation, test) index triples, or a ValueError naming ``y``.

    Checks that the subjects (or groups) are enough for the splits before
    drawing them, so that no scikit-learn splitter fails with a message about
    its own internals, and that every training part holds two classes.
    """
    n_repeats = check_int(n_repeats, "n_repeats")
    ratios = _check_ratios(ratios)
    classification = task == "classification"
    n_subjects = len(y)
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n_subjects,):
            raise ValueError(
                f"groups must have shape (n_subjects,) = ({n_subjects},); got "
                f"shape {groups.shape}."
            )
        n_units = len(pd.unique(pd.Series(groups, dtype=object)))
        given = f"{n_subjects} subjects in {n_units} groups"
        unit = "groups"
    else:
        n_units, given, unit = n_subjects, f"{n_subjects} subjects", "subjects"
    # Stratification keeps every class in every part; groups rule it out.
    stratify = classification and groups is None
    splits_name = f"train/validation/test splits with ratios {ratios}"
    counts = ""
    if classification:
        labels, class_counts = np.unique(y.astype(str), return_counts=True)
        rarest = np.argsort(class_counts, kind="stable")
        counts = ", ".join(
            f"{str(labels[i])!r}: {class_counts[i]}" for i in rarest[:_SHOWN_CLASSES]
        ) + (", ..." if len(labels) > _SHOWN_CLASSES else "")
    if stratify:
        needed = _min_units(ratios, len(labels))
        if n_units < needed or class_counts.min() < _MIN_PER_CLASS:
            raise ValueError(
                f"y has {given}, too few for {splits_name} stratified by class: "
                f"they need at least {needed} subjects, and at least "
                f"{_MIN_PER_CLASS} of every class (one per part); class counts "
                f"here, rarest first: {counts}."
            )
    else:
        needed = _min_units(ratios, 0)
        if n_units < needed:
            raise ValueError(
                f"y has {given}, too few for {splits_name}: they need at least "
                f"{needed} {unit} (at least {_MIN_TRAIN} to train, {_MIN_VAL} to "
                f"validate and {_MIN_TEST} to test)."
            )
    splitter = TrainValTestSplit(
        n_repeats, ratios=ratios, random_state=random_state, stratify=stratify
    )
    try:
        splits = list(splitter.split_with_test(y, y if stratify else None, groups))
    except ValueError as exc:
        detail = f" (class counts: {counts})" if counts else ""
        raise ValueError(
            f"y has {given}{detail}, which cannot be split for {splits_name}: {exc}"
        ) from exc
    if classification:
        for k, (train, _, _) in enumerate(splits):
            if len(np.unique(y[train].astype(str))) < 2:
                raise ValueError(
                    f"y has a single class in the training part of repeat {k} "
                    f"(class counts: {counts}): with groups, the splits are not "
                    "stratified; give more subjects of every class or smaller "
                    "groups."
                )
    return splits


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
        As in :func:`linear_probe`, whose target checks and warnings apply.

    Returns
    -------
    scores : pandas.DataFrame
        As in :func:`linear_probe`; ``scores.attrs`` records ``task`` and
        ``n_features``.
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
    grid = _check_grid(regularization)
    splits = _plan_splits(y, task, n_repeats, ratios, groups, random_state)
    table = _probe_splits(features, y, task, splits, grid, n_jobs)
    logger.info(
        "probe_features: %s of y on %d features, %d repeats",
        task,
        features.shape[1],
        len(splits),
    )
    return table


def _probe_splits(features, y, task, splits, grid, n_jobs) -> pd.DataFrame:
    """Score every planned split; the per-repeat table with mean and std rows."""
    classification = task == "classification"
    logger.debug("probing %s on features %s", task, features.shape)
    rows = Parallel(n_jobs=n_jobs)(
        delayed(_probe_one)(features, y, split, classification, grid, k)
        for k, split in enumerate(splits)
    )
    table = summarize(pd.DataFrame(rows).set_index(pd.Index(range(len(splits)))))
    table.attrs.update(task=task, n_features=features.shape[1])
    return table
