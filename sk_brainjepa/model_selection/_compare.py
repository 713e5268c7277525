"""``compare_models``: is Brain-JEPA worth it on my data? All models, same splits."""

from __future__ import annotations

import logging
import platform
import time
from contextlib import contextmanager
from numbers import Integral

import numpy as np
import pandas as pd

from sk_brainjepa._utils._docstrings import fill_doc
from sk_brainjepa._utils._random import spawn_seeds
from sk_brainjepa._utils._validation import check_int, check_timeseries
from sk_brainjepa.model_selection._comparison import ModelComparison, paired_summary
from sk_brainjepa.model_selection._contenders import MODEL_NAMES, resolve_models
from sk_brainjepa.model_selection._probe import (
    DEFAULT_GRID,
    _check_grid,
    _check_target,
    _plan_splits,
)
from sk_brainjepa.model_selection._split_scoring import Harmonizer, SplitScorer

__all__ = ["DEFAULT_COMPARED", "compare_models"]

logger = logging.getLogger(__name__)

#: What ``compare_models`` runs by default: the classical baselines, the nets
#: on FC, and (with ``pretrained``) the Brain-JEPA probe and fine-tuning.
DEFAULT_COMPARED = ("fc", "tangent", "lag", "brainnetcnn", "bnt")
_BRAINJEPA_DEFAULTS = ("probe-connectivity", "finetune")
_MAIN_METRIC = {"classification": "balanced_accuracy", "regression": "pearson_r"}
_HARMONIZERS = ("combat",)


def _check_sites(sites, n, harmonize, by_site):
    if harmonize is not None and harmonize not in _HARMONIZERS:
        raise ValueError(
            f"harmonize must be None or one of {_HARMONIZERS}; got {harmonize!r}."
        )
    if sites is None:
        if harmonize is not None or by_site is not None:
            what = f"harmonize={harmonize!r}" if harmonize else f"by_site={by_site!r}"
            raise ValueError(f"{what} needs sites= (the site of each sample).")
        return None
    sites = np.asarray(sites)
    if sites.shape != (n,):
        raise ValueError(
            f"sites must have shape (n_samples,) = ({n},); got shape {sites.shape}."
        )
    if harmonize is not None and by_site == "leave_out":
        raise ValueError(
            "harmonize='combat' cannot be combined with by_site='leave_out': ComBat "
            "estimates each site's effect from its training samples, and a "
            "left-out site has none."
        )
    return sites


def _plan(y, task, n_repeats, ratios, groups, sites, by_site, random_state):
    """The shared (train, validation, test) splits."""
    if by_site is None:
        return _plan_splits(y, task, n_repeats, ratios, groups, random_state)
    from sk_brainjepa.model_selection._split import TrainValTestSplit

    splitter = TrainValTestSplit(
        n_repeats, ratios=ratios, random_state=random_state, by_site=by_site
    )
    return list(splitter.split_with_test(y, y, groups, sites=sites))


def _versions() -> dict:
    import sklearn
    import torch

    from sk_brainjepa._version import __version__

    versions = {
        "sk_brainjepa": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
    }
    for name in ("nilearn", "combatlearn"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        versions[name] = getattr(module, "__version__", "?")
    return versions


@fill_doc
def compare_models(
    X,
    y,
    *,
    models=None,
    pretrained=None,
    gradients=None,
    task="auto",
    groups=None,
    sites=None,
    covariates=None,
    harmonize=None,
    by_site=None,
    n_repeats=5,
    ratios=(0.6, 0.2, 0.2),
    regularization=DEFAULT_GRID,
    reference=None,
    metric=None,
    model_params=None,
    random_state=None,
    verbose=0,
):
    """Score several models on the same repeated train / validation / test splits.

    The question every user of a foundation model has: does it beat the
    classical baselines *on my data*? Each model is fitted on the training
    part of every split, its hyperparameter (``C`` / ``alpha`` of the linear
    readout, a grid point of an estimator) or its stopping epoch (nets) is
    chosen on the validation part only, and it is scored once on the test
    part. Every model sees the same splits, so scores are compared repeat by
    repeat against a reference model, with the Nadeau-Bengio correction for
    the overlap of the training parts.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_rois, n_timepoints) or list of arrays
        ROI time series, scaled as the Brain-JEPA model expects (e.g.
        ``SubjectRobustScaler``), or raw when ``pretrained`` is a
        ``save_pretrained`` folder, whose recorded scaling is then applied for
        the probes and the fine-tuning. FC and the other baselines are
        computed from ``X`` (per-ROI affine scaling does not change FC).
    y : array-like of shape (n_samples,)
        Target: classes or real values (``task``).
    models : sequence, mapping or None, default=None
        Names (``"fc"``, ``"tangent"``, ``"partial"``, ``"lag"``,
        ``"dynamics"``, ``"brainnetcnn"``, ``"bnt"``, ``"probe"``,
        ``"probe-connectivity"``, ``"probe-lagged"``, ``"probe-roi"``,
        ``"probe-untrained"``, ``"finetune"``, ``"finetune-untrained"``; see
        :data:`MODEL_NAMES`), estimators, or ``(estimator, param_grid)``
        pairs. A transformer (no ``predict``) gets the linear readout; an
        estimator with ``predict`` is fitted as it is. A mapping gives display
        names: ``{"FC": "fc", "my net": (net, {"lr": [1e-3, 1e-4]})}``. None:
        ``fc``, ``tangent``, ``lag``, ``brainnetcnn``, ``bnt``, and with
        ``pretrained`` also ``probe-connectivity`` and ``finetune``.
    pretrained : BrainJEPAPretrainer, BrainJEPAEmbedder, str, path or None
        The Brain-JEPA model of the ``probe*`` and ``finetune*`` models: a
        fitted pretrainer, an embedder, or a checkpoint (our file, a
        ``save_pretrained`` folder or hub id, or the official checkpoint, which
        needs ``gradients``). ``*-untrained`` need a pretrainer.
    %(gradients_official)s
    task : {"auto", "classification", "regression"}, default="auto"
        As in :func:`linear_probe`.
    groups : array-like of shape (n_samples,) or None, default=None
        The participant of each sample: the runs of one participant stay on
        one side of every split. Without it, several runs per participant
        inflate every score.
    sites : array-like of shape (n_samples,) or None, default=None
        The acquisition site of each sample, for ``harmonize`` and
        ``by_site``.
    covariates : DataFrame, array-like or None, default=None
        Variables ComBat protects (e.g. age, sex); never the target.
    harmonize : {None, "combat"}, default=None
        ``"combat"``: :class:`~sk_brainjepa.preprocessing.ComBatHarmonizer`
        on the features of every features + linear model and on the FC of
        the FC nets, fitted on the training part of each split. Fine-tuning
        on time series is not harmonised.
    by_site : {None, "stratify", "leave_out"}, default=None
        Splits that keep the site shares in every part, or test on one whole
        site per repeat (see :class:`TrainValTestSplit`).
    n_repeats : int, default=5
    ratios : tuple of float, default=(0.6, 0.2, 0.2)
    regularization : sequence of float, default=10**-4 ... 10**4
        ``C`` / ``alpha`` candidates of the linear readout.
    reference : str or None, default=None
        Display name of the model the others are compared with; None takes
        ``"fc"`` when compared, else the first model.
    metric : str or None, default=None
        Score of the summary; None: ``balanced_accuracy`` (classes) or
        ``pearson_r`` (real values).
    model_params : mapping or None, default=None
        Per display name, constructor parameters of a named model (its
        feature transformer, embedder or net), e.g. ``{"finetune":
        {"max_epochs": 20}}``.
    random_state : int, RandomState instance or None, default=None
        Seeds the splits and the nets (repeat ``k`` of an int seed ``s``
        trains its nets with ``s + k``).
    verbose : int, default=0
        1 logs each model and shows a progress bar over models x repeats.

    Returns
    -------
    comparison : ModelComparison
        ``scores`` (one row per model and repeat), ``summary`` (mean, sd,
        paired difference against ``reference``, corrected t and p, wins),
        ``info`` (task, sizes, splits, versions, machine), and ``save``,
        ``plot``, ``to_markdown``.

    Examples
    --------
    >>> from sk_brainjepa import make_brain_dynamics
    >>> from sk_brainjepa.model_selection import compare_models
    >>> X, pheno = make_brain_dynamics(n_subjects=40, n_rois=6, n_timepoints=60,
    ...                                random_state=0)
    >>> result = compare_models(X, pheno["sex"], models=["fc", "partial"],
    ...                         n_repeats=2, random_state=0)
    >>> list(result.summary.index), result.metric
    (['fc', 'partial'], 'balanced_accuracy')
    """
    started = time.perf_counter()
    X = check_timeseries(X, min_timepoints=3)
    n = len(X)
    n_repeats = check_int(n_repeats, "n_repeats")
    target_name = getattr(y, "name", None)
    task, y = _check_target(task, y, n)
    classification = task == "classification"
    y = np.asarray(y)
    if classification:
        classes, y = np.unique(y, return_inverse=True)
    else:
        classes, y = None, y.astype(np.float64)
    grid = _check_grid(regularization)
    sites = _check_sites(sites, n, harmonize, by_site)
    if by_site is not None and by_site not in ("stratify", "leave_out"):
        raise ValueError(
            f"by_site must be None, 'stratify' or 'leave_out'; got {by_site!r}."
        )
    if covariates is not None and harmonize is None:
        raise ValueError("covariates are ComBat's; pass harmonize='combat' with them.")
    splits = _plan(y, task, n_repeats, ratios, groups, sites, by_site, random_state)
    if models is None:
        models = DEFAULT_COMPARED + (
            _BRAINJEPA_DEFAULTS if pretrained is not None else ()
        )
    resolved = resolve_models(models, model_params, pretrained, gradients, X)
    names = [m.name for m in resolved]
    if reference is None:
        reference = "fc" if "fc" in names else names[0]
    elif reference not in names:
        raise ValueError(f"reference {reference!r} is not among the models {names}.")
    metric = metric or _MAIN_METRIC[task]
    if isinstance(random_state, Integral):
        net_seeds = [int(random_state) + k for k in range(len(splits))]
    else:
        net_seeds = [s % 2**31 for s in spawn_seeds(random_state, len(splits))]
    harmonizer = None if harmonize is None else Harmonizer(sites, covariates)

    from tqdm.auto import tqdm

    progress = tqdm(
        total=len(resolved) * len(splits), disable=not verbose, desc="compare"
    )
    rows, seconds = [], {}
    scorer = SplitScorer(X, y, splits, classification, grid, harmonizer, net_seeds)
    # X was read (and its reading logged) once above; the models read it
    # again split by split, which would repeat that line dozens of times.
    with _quiet_rereads():
        for model in resolved:
            tic = time.perf_counter()
            if verbose:
                logger.info("compare_models: %s (%s)", model.name, model.description)
            results = scorer.score(model, progress.update)
            seconds[model.name] = time.perf_counter() - tic
            per_repeat = seconds[model.name] / len(splits)
            for k, (split, result) in enumerate(zip(splits, results, strict=True)):
                rows.append(
                    {
                        "model": model.name,
                        "repeat": k,
                        "n_train": len(split[0]),
                        "n_val": len(split[1]),
                        "n_test": len(split[2]),
                        **result,
                        "fit_seconds": per_repeat,
                    }
                )
    progress.close()
    scores = pd.DataFrame(rows)
    summary = paired_summary(scores, metric, reference)
    info = {
        "task": task,
        "target": target_name,
        "classes": None if classes is None else [str(c) for c in classes],
        "n_samples": n,
        "n_rois": int(X[0].shape[0]),
        "n_groups": None
        if groups is None
        else int(pd.Series(np.asarray(groups)).nunique()),
        "n_sites": None if sites is None else int(pd.Series(sites).nunique()),
        "n_repeats": len(splits),
        "ratios": list(ratios),
        "splits": _split_description(groups, sites, by_site, classification),
        "random_state": random_state if isinstance(random_state, Integral) else None,
        "harmonize": None
        if harmonize is None
        else (
            "ComBat (combatlearn) on each model's features, fitted on the training part"
        ),
        "models": names,
        "descriptions": {m.name: m.description for m in resolved},
        "seconds": seconds,
        "wall_seconds": time.perf_counter() - started,
        "versions": _versions(),
        "machine": (
            f"{platform.platform()}, {platform.processor() or platform.machine()}"
        ),
    }
    return ModelComparison(scores, summary, metric, reference, info, splits)


@contextmanager
def _quiet_rereads():
    """Within the block, the data-entry lines saying how X was read are not logged."""
    reader = logging.getLogger("sk_brainjepa._utils._reading")
    level = reader.level
    if reader.getEffectiveLevel() < logging.WARNING:
        reader.setLevel(logging.WARNING if level < logging.WARNING else level)
    try:
        yield
    finally:
        reader.setLevel(level)


def _split_description(groups, sites, by_site, classification) -> str:
    parts = []
    if by_site == "leave_out":
        parts.append("test part one whole site per repeat")
    elif by_site == "stratify":
        parts.append("site shares kept in every part")
    if groups is not None:
        parts.append("participants kept on one side")
    elif classification and by_site is None:
        parts.append("stratified by class")
    return ", ".join(parts) or "random"


# The named models, for the docs and the CLI.
__doc__ += "\n\nNamed models:\n\n" + "\n".join(
    f"- ``{name}``: {text}" for name, text in MODEL_NAMES.items()
)
