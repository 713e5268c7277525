"""What :func:`compare_models` can compare: named models and user estimators.

Every model is one of three kinds, which differ in how its hyperparameter is
chosen on the validation part:

- **features + linear** (FC, tangent FC, partial correlation, lag features,
  Brain-JEPA probes, any transformer): features, then standardisation and
  logistic regression / ridge with ``C`` / ``alpha`` chosen on validation;
- **nets** (BrainNetCNN, BNT, Brain-JEPA fine-tuning): trained on the
  training part, the validation part is the early-stopping set;
- **estimators** (anything with ``predict``): each point of an optional
  parameter grid is fitted on the training part, the best on validation is
  scored.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sklearn.base import clone

__all__ = [
    "MODEL_NAMES",
    "EstimatorModel",
    "FeatureModel",
    "NetModel",
    "resolve_models",
]

#: Named models and what they are (``compare_models(models=...)``).
MODEL_NAMES = {
    "fc": "Pearson FC (Fisher z, upper triangle) + linear",
    "tangent": "tangent-space FC (nilearn, fitted on the training part) + linear",
    "partial": "partial correlation (Ledoit-Wolf) + linear",
    "lag": "lagged cross-covariance asymmetry (DynamicFeatures 'lagged') + linear",
    "dynamics": "all DynamicFeatures (lags, moments, states) + linear",
    "brainnetcnn": "BrainNetCNN on FC matrices, early stopping on validation",
    "bnt": "Brain Network Transformer on FC matrices, early stopping on validation",
    "probe": "Brain-JEPA linear probe, mean readout (the paper's)",
    "probe-connectivity": "Brain-JEPA linear probe, connectivity readout",
    "probe-lagged": "Brain-JEPA linear probe, lagged-connectivity readout",
    "probe-roi": "Brain-JEPA linear probe, per-ROI readout",
    "probe-untrained": "linear probe (connectivity readout) of the same "
    "architecture, seed and recipe with no pretraining epochs",
    "finetune": "Brain-JEPA fine-tuning (library defaults), early stopping on "
    "validation",
    "finetune-untrained": "fine-tuning of the same architecture and seed with no "
    "pretraining epochs, same settings",
}
_PROBE_READOUTS = {
    "probe": "mean",
    "probe-connectivity": "connectivity",
    "probe-lagged": "lagged",
    "probe-roi": "roi",
    "probe-untrained": "connectivity",
}


@dataclass
class FeatureModel:
    """Features, then the linear readout with its regularisation chosen on validation.

    Attributes
    ----------
    name : str
    transformer : estimator
        Time series -> (n_samples, n_features).
    per_sample : bool
        Each sample's features depend on that sample alone (FC, a frozen
        encoder): computed once for all samples instead of once per split.
    description : str
    """

    name: str
    transformer: object
    per_sample: bool
    description: str
    kind: str = field(default="features", init=False)


@dataclass
class NetModel:
    """A skorch net trained on the training part, stopped on the validation part.

    Attributes
    ----------
    name : str
    make : callable
        ``make(classification, random_state, train_split) -> net``.
    input : {"fc", "timeseries"}
        FC matrices (BrainNetCNN, BNT) or the time series (fine-tuning).
    description : str
    preprocess : transformer or None
        Applied to the time series first: the scaling a ``save_pretrained``
        folder records, which its embedder applies and a fine-tuner does not.
    """

    name: str
    make: Callable
    input: str
    description: str
    preprocess: object = None
    kind: str = field(default="net", init=False)


@dataclass
class EstimatorModel:
    """A user estimator on the time series; its grid point chosen on validation."""

    name: str
    estimator: object
    param_grid: object
    description: str
    kind: str = field(default="estimator", init=False)


class _Needs:
    """Errors for named models that need what the call did not give."""

    @staticmethod
    def pretrained(name, pretrained):
        if pretrained is None:
            raise ValueError(
                f"model {name!r} needs pretrained=: a fitted BrainJEPAPretrainer, a "
                "BrainJEPAEmbedder, or a checkpoint (file, save_pretrained folder "
                "or the official checkpoint with gradients=)."
            )

    @staticmethod
    def pretrainer(name, pretrained):
        from sk_brainjepa.estimators import BrainJEPAPretrainer, unfreeze

        model = unfreeze(pretrained)
        if not isinstance(model, BrainJEPAPretrainer):
            raise ValueError(
                f"model {name!r} rebuilds the pretrainer with no epochs, so "
                "pretrained= must be a fitted BrainJEPAPretrainer (or "
                f"BrainJEPAPretrainer.load(file)); got {type(model).__name__}."
            )
        return model


def untrained_twin(pretrainer, X):
    """The pretrainer's architecture, recipe and seed, fitted with no epochs.

    The gradients are the pretrained model's, so the twin differs from it
    only by the pretraining epochs: the comparison that can show whether
    pretraining added anything. ``X`` (any series of the model's ROI count)
    only sizes the modules; no weight is trained on it.
    """
    twin = clone(pretrainer).set_params(
        max_epochs=0, gradients=pretrainer.gradients_, verbose=0
    )
    return twin.fit(X)


def _pretrainer_or_checkpoint(pretrained, gradients) -> dict:
    """Fine-tuner parameters that load the encoder of ``pretrained``."""
    from sklearn.frozen import FrozenEstimator

    from sk_brainjepa.estimators import (
        BrainJEPAEmbedder,
        BrainJEPAPretrainer,
        unfreeze,
    )

    model = unfreeze(pretrained)
    if isinstance(model, BrainJEPAEmbedder):
        if model.pretrainer is not None:
            return {"pretrainer": model.pretrainer}
        return {"checkpoint": model.checkpoint, "gradients": model.gradients}
    if isinstance(model, BrainJEPAPretrainer):
        return {"pretrainer": FrozenEstimator(model)}
    if isinstance(model, (str, os.PathLike)):
        return {"checkpoint": model, "gradients": gradients}
    raise TypeError(
        "pretrained must be a fitted BrainJEPAPretrainer, a BrainJEPAEmbedder or "
        f"a checkpoint path; got {type(pretrained).__name__}."
    )


def _fine_tuner(start: dict, params: dict):
    """``make(classification, random_state, train_split)`` of a fine-tuner."""

    def make(classification, random_state, train_split):
        from sk_brainjepa.estimators import BrainJEPAClassifier, BrainJEPARegressor

        Net = BrainJEPAClassifier if classification else BrainJEPARegressor
        settings = {"valid_fraction": None, "random_state": random_state, **params}
        return Net(**start, **settings, train_split=train_split)

    return make


def _fc_net(name: str, params: dict):
    def make(classification, random_state, train_split):
        from sk_brainjepa import baselines

        Clf, Reg = {
            "brainnetcnn": (
                baselines.BrainNetCNNClassifier,
                baselines.BrainNetCNNRegressor,
            ),
            "bnt": (baselines.BNTClassifier, baselines.BNTRegressor),
        }[name]
        Net = Clf if classification else Reg
        settings = {"valid_fraction": None, "random_state": random_state, **params}
        return Net(**settings, train_split=train_split)

    return make


def _named(name, key, params, pretrained, gradients, X):
    """The model behind a name of :data:`MODEL_NAMES` (``key``), shown as ``name``."""
    from sk_brainjepa.preprocessing import (
        DynamicFeatures,
        FunctionalConnectivity,
        TangentConnectivity,
    )

    description = MODEL_NAMES[key]
    if key in ("fc", "partial"):
        kind = "pearson" if key == "fc" else "partial"
        settings = {"kind": kind, "fisher_z": True, "output": "vector", **params}
        return FeatureModel(name, FunctionalConnectivity(**settings), True, description)
    if key == "tangent":
        return FeatureModel(name, TangentConnectivity(**params), False, description)
    if key in ("lag", "dynamics"):
        settings = {"kind": "lagged" if key == "lag" else "all", **params}
        return FeatureModel(name, DynamicFeatures(**settings), True, description)
    if key in ("brainnetcnn", "bnt"):
        return NetModel(name, _fc_net(key, params), "fc", description)
    _Needs.pretrained(name, pretrained)
    if key in _PROBE_READOUTS:
        from sk_brainjepa.estimators import resolve_model

        source = pretrained
        if key == "probe-untrained":
            source = untrained_twin(_Needs.pretrainer(name, pretrained), X)
        settings = {"readout": _PROBE_READOUTS[key], **params}
        if key != "probe-untrained" and gradients is not None:
            settings.setdefault("gradients", gradients)
        embedder = resolve_model(source, **settings)
        return FeatureModel(name, embedder, True, description)
    if key == "finetune-untrained":
        twin = untrained_twin(_Needs.pretrainer(name, pretrained), X)
        return NetModel(
            name,
            _fine_tuner(_pretrainer_or_checkpoint(twin, None), params),
            "timeseries",
            description,
        )
    # "finetune"
    start = _pretrainer_or_checkpoint(pretrained, gradients)
    return NetModel(
        name,
        _fine_tuner(start, params),
        "timeseries",
        description,
        preprocess=_recorded_preprocessing(start),
    )


def _recorded_preprocessing(start: dict):
    """The scaling a checkpoint folder records (None for files and pretrainers).

    The probes' embedder applies it to the time series by itself; the
    fine-tuners do not, so the comparison applies it for them, and both
    Brain-JEPA models see the series as the model was trained on them.
    """
    checkpoint = start.get("checkpoint")
    if checkpoint is None:
        return None
    from sk_brainjepa.estimators import BrainJEPAEmbedder

    embedder = BrainJEPAEmbedder(checkpoint, gradients=start.get("gradients")).fit()
    return getattr(embedder, "preprocessing_", None)


def _display_names(models) -> dict:
    """``{display name: spec}`` from a sequence or mapping of model specs."""
    if isinstance(models, str):
        models = [models]
    if isinstance(models, Mapping):
        return dict(models)
    named = {}
    for spec in models:
        base = spec if isinstance(spec, str) else _estimator_of(spec).__class__.__name__
        name, k = base, 2
        while name in named:
            name, k = f"{base} ({k})", k + 1
        named[name] = spec
    return named


def _estimator_of(spec):
    return spec[0] if isinstance(spec, tuple) else spec


def resolve_models(models, model_params, pretrained, gradients, X) -> list:
    """The models to compare, each a :class:`FeatureModel`, :class:`NetModel`
    or :class:`EstimatorModel`, in the order given.

    Parameters
    ----------
    models : sequence or mapping
        Names of :data:`MODEL_NAMES`, estimators or ``(estimator,
        param_grid)`` pairs; a mapping gives them display names.
    model_params : mapping or None
        Per display name, constructor parameters of the named model (its
        feature transformer, embedder or net).
    pretrained, gradients
        The Brain-JEPA model of the ``probe*`` / ``finetune*`` names.
    X : time series
        Sizes the untrained twins.
    """
    named = _display_names(models)
    if not named:
        raise ValueError("models must name at least one model.")
    model_params = dict(model_params or {})
    unknown = sorted(set(model_params) - set(named))
    if unknown:
        raise ValueError(
            f"model_params names {unknown}, which are not among the models "
            f"{list(named)}."
        )
    resolved = []
    for name, spec in named.items():
        params = dict(model_params.get(name, {}))
        if isinstance(spec, str):
            if spec not in MODEL_NAMES:
                raise ValueError(
                    f"Unknown model {spec!r}; the named models are "
                    f"{sorted(MODEL_NAMES)}, or pass an estimator."
                )
            resolved.append(_named(name, spec, params, pretrained, gradients, X))
            continue
        estimator, grid = spec if isinstance(spec, tuple) else (spec, None)
        if params:
            estimator = clone(estimator).set_params(**params)
        if hasattr(estimator, "predict"):
            resolved.append(
                EstimatorModel(name, estimator, grid, f"{type(estimator).__name__}")
            )
        elif hasattr(estimator, "transform"):
            if grid is not None:
                raise ValueError(
                    f"model {name!r} is a transformer: its features get the linear "
                    "readout, whose regularisation is chosen on validation; a "
                    "param_grid is only for estimators with predict."
                )
            resolved.append(
                FeatureModel(
                    name,
                    estimator,
                    _is_per_sample(estimator),
                    f"{type(estimator).__name__} features + linear",
                )
            )
        else:
            raise TypeError(
                f"model {name!r} must be a name of {sorted(MODEL_NAMES)}, an "
                "estimator with predict, a transformer, or an (estimator, "
                f"param_grid) pair; got {type(estimator).__name__}."
            )
    return resolved


def _is_per_sample(estimator) -> bool:
    """True for transformers whose output for a sample depends on that sample alone.

    The library's FC and dynamics transformers and frozen embedders; any other
    transformer is fitted on each training part.
    """
    from sk_brainjepa.estimators import BrainJEPAEmbedder
    from sk_brainjepa.preprocessing import DynamicFeatures, FunctionalConnectivity

    return isinstance(
        estimator, (BrainJEPAEmbedder, DynamicFeatures, FunctionalConnectivity)
    )
