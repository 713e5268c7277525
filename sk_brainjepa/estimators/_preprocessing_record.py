"""The scaling a pretrained model was trained with, recorded without pickle.

:func:`record_preprocessing` turns the library's scalers (or a ``Pipeline`` of
them) into JSON (each step's class and parameters) plus the fitted arrays
(``ROIRobustScaler``'s ``center_`` and ``scale_``), which the pretrained
folder stores in ``config.json`` and ``preprocessing.safetensors``.
:func:`rebuild_preprocessing` makes the same fitted steps again from these:
only classes named in :data:`SUPPORTED_STEPS` are ever constructed, and their
parameters are validated like user input, so a folder can carry no code.

The window transforms of :mod:`sk_brainjepa.preprocessing` (the scalers'
``to_window_transform()``, what ``ScaledSource`` and ``sk-brainjepa pretrain
--scaling subject`` apply) are recorded as the in-memory transformer that
computes the same numbers, which each gives with ``to_estimator()``. So the
record names only estimators: folders written when the window transforms
were public classes (``SubjectRobustScaling``, ``SampleZScoring``,
``ROIScalerTransform``) hold the same records and load unchanged.
"""

from __future__ import annotations

import re
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa.preprocessing import (
    ROIRobustScaler,
    SampleZScore,
    SubjectRobustScaler,
    TemporalResampler,
)

__all__ = [
    "SUPPORTED_STEPS",
    "changes_length",
    "describe",
    "rebuild_preprocessing",
    "record_preprocessing",
    "set_layout",
    "steps_of",
]

# The only classes a folder may name; anything else is refused on save and load.
SUPPORTED_STEPS = {
    cls.__name__: cls
    for cls in (ROIRobustScaler, SubjectRobustScaler, SampleZScore, TemporalResampler)
}
# What a fitted step learnt from data besides its ROI count, stored as arrays.
_FITTED_ARRAYS = {"ROIRobustScaler": ("center_", "scale_")}
_SUPPORTED_TEXT = (
    f"{', '.join(SUPPORTED_STEPS)} (their to_window_transform(), over='run', is "
    "recorded as the in-memory scaler), or a sklearn Pipeline of them"
)


def _snake(name: str) -> str:
    """``ROIRobustScaler`` -> ``roi_robust_scaler``: a step name for a lone step."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _in_memory(step):
    """The in-memory transformer that computes what a window transform does.

    A scaler's ``to_window_transform()`` knows its in-memory form
    (``to_estimator()``, which refuses ``over="window"``); the classes behind
    it are private to ``preprocessing``, so they are asked, not imported.
    Whatever it returns is still checked against :data:`SUPPORTED_STEPS`.
    """
    if isinstance(step, BaseEstimator):
        return step
    to_estimator = getattr(step, "to_estimator", None)
    return to_estimator() if callable(to_estimator) else step


def steps_of(preprocessing) -> list[tuple[str, object]]:
    """``(name, transformer)`` of every step, streamed scalings made in-memory.

    Parameters
    ----------
    preprocessing : None, transformer, Pipeline or list
        A list holds transformers or ``(name, transformer)`` pairs; nested
        pipelines are flattened (names joined with ``_``); ``"passthrough"``
        and None steps are dropped.

    Returns
    -------
    steps : list of (str, transformer)
        Window transforms (a scaler's ``to_window_transform()``) are given as
        the scaler that computes the same numbers.
    """
    if preprocessing is None:
        return []
    if isinstance(preprocessing, Pipeline):
        items = list(preprocessing.steps)
    elif isinstance(preprocessing, (list, tuple)):
        items = [
            item if isinstance(item, tuple) else (_snake(type(item).__name__), item)
            for item in preprocessing
        ]
    else:
        items = [(_snake(type(preprocessing).__name__), preprocessing)]
    steps = []
    for name, step in items:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if isinstance(step, Pipeline):
            steps += [(f"{name}_{n}", s) for n, s in steps_of(step)]
        else:
            steps.append((str(name), _in_memory(step)))
    return steps


def _json_value(value, where: str):
    """A parameter value as JSON (tuples become lists), or a ValueError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (Integral, Real)) and not isinstance(value, bool):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (list, tuple)):
        return [_json_value(v, where) for v in value]
    raise ValueError(
        f"{where} is {value!r}, which cannot be recorded without pickle; give "
        "an int, float, str, None or a tuple of them (e.g. random_state=0)."
    )


def _check_step(name: str, step, n_rois: int) -> None:
    """A supported class, fitted where it learns from data, with the model's ROIs."""
    kind = type(step).__name__
    if kind not in SUPPORTED_STEPS or type(step) is not SUPPORTED_STEPS[kind]:
        raise ValueError(
            f"preprocessing step {name!r} ({kind}) cannot be recorded in a pretrained "
            f"folder; supported steps: {_SUPPORTED_TEXT}."
        )
    if kind in _FITTED_ARRAYS:
        try:
            check_is_fitted(step)
        except NotFittedError:
            raise ValueError(
                f"preprocessing step {name!r} ({kind}) is not fitted: its statistics "
                "are what the model was trained with, so fit it on the training "
                "data first."
            ) from None
    fitted_rois = getattr(step, "n_rois_", None)
    if fitted_rois is not None and fitted_rois != n_rois:
        raise ValueError(
            f"preprocessing step {name!r} ({kind}) was fitted on {fitted_rois} ROIs, "
            f"but the model has {n_rois}."
        )


def record_preprocessing(preprocessing, *, n_rois: int):
    """JSON record and fitted arrays of the scaling a model was trained with.

    Parameters
    ----------
    preprocessing : None, transformer, Pipeline or list
        See :func:`steps_of`. Supported: :data:`SUPPORTED_STEPS` and their
        ``to_window_transform()`` with ``over="run"``.
    n_rois : int
        The model's ROI count; fitted steps must have it.

    Returns
    -------
    record : dict or None
        ``{"pipeline": bool, "steps": [{"name", "class", "params"}, ...]}``;
        None when there is no step.
    arrays : dict of str to ndarray
        ``"<step name>.<attribute>"`` -> fitted array (e.g. ``center_``,
        shape (n_rois,), float64).

    Raises
    ------
    ValueError
        For an unsupported step (the message lists the supported ones), an
        unfitted ``ROIRobustScaler``, another ROI count, or a parameter value
        that is not plain JSON.
    """
    steps = steps_of(preprocessing)
    if not steps:
        return None, {}
    entries, arrays = [], {}
    for name, step in steps:
        _check_step(name, step, n_rois)
        kind = type(step).__name__
        params = {
            key: _json_value(value, f"{kind} parameter {key!r} of step {name!r}")
            for key, value in step.get_params(deep=False).items()
        }
        for attribute in _FITTED_ARRAYS.get(kind, ()):
            arrays[f"{name}.{attribute}"] = np.ascontiguousarray(
                getattr(step, attribute), dtype=np.float64
            )
        entries.append({"name": name, "class": kind, "params": params})
    is_pipeline = isinstance(preprocessing, (Pipeline, list, tuple)) or len(steps) > 1
    return {"pipeline": is_pipeline, "steps": entries}, arrays


def _dummy_input(n_rois: int, layout: str) -> np.ndarray:
    """Two frames of zeros: enough for ``fit`` of a step that learns only the ROIs."""
    x = np.zeros((1, n_rois, 2))
    return x.transpose(0, 2, 1) if layout == "time_x_rois" else x


def _rebuild_step(entry, arrays, n_rois: int, where: str):
    """One fitted step from its record; nothing but a supported class is built."""
    if not isinstance(entry, dict) or not {"name", "class", "params"} <= set(entry):
        raise ValueError(
            f"{where}: a preprocessing step record is malformed: {entry!r}."
        )
    name, kind, params = entry["name"], entry["class"], entry["params"]
    if kind not in SUPPORTED_STEPS:
        raise ValueError(
            f"{where} names the preprocessing step {kind!r}, which this version "
            f"cannot rebuild; supported: {', '.join(SUPPORTED_STEPS)}. Pass "
            "preprocessing=None to skip it and scale the input yourself."
        )
    # Tuples were written as JSON lists (quantile_range is the only one).
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    try:
        step = SUPPORTED_STEPS[kind](**params)
        step._validate_params()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: step {name!r} ({kind}): {exc}") from None
    if kind not in _FITTED_ARRAYS:
        return name, step.fit(_dummy_input(n_rois, step.layout))
    for attribute in _FITTED_ARRAYS[kind]:
        key = f"{name}.{attribute}"
        if key not in arrays:
            raise ValueError(f"{where} lacks the array {key!r} of step {name!r}.")
        value = np.asarray(arrays[key], dtype=np.float64)
        if value.shape != (n_rois,):
            raise ValueError(
                f"{where}: {key} has shape {value.shape}; expected ({n_rois},), one "
                "value per ROI of the model."
            )
        setattr(step, attribute, value)
    step._check_params()
    step.n_rois_ = step.n_features_in_ = n_rois
    return name, step


def rebuild_preprocessing(record, arrays, *, n_rois: int, where: str):
    """The fitted steps of a :func:`record_preprocessing` record.

    Parameters
    ----------
    record : dict or None
    arrays : dict of str to ndarray
    n_rois : int
        The model's ROI count.
    where : str
        The folder, named in messages.

    Returns
    -------
    preprocessing : Pipeline, transformer or None
        A ``Pipeline`` when a pipeline (or several steps) was recorded.
    """
    if record is None:
        return None
    steps = [
        _rebuild_step(entry, arrays, n_rois, where) for entry in record.get("steps", [])
    ]
    if not steps:
        return None
    if record.get("pipeline") or len(steps) > 1:
        return Pipeline(steps)
    return steps[0][1]


def set_layout(preprocessing, layout: str):
    """Set ``layout`` on every step (in place) and return ``preprocessing``."""
    for _, step in steps_of(preprocessing):
        step.set_params(layout=layout)
    return preprocessing


def changes_length(preprocessing) -> bool:
    """Whether a step resamples or crops, so runs cannot be scaled as read."""
    return any(
        isinstance(step, TemporalResampler) for _, step in steps_of(preprocessing)
    )


def describe(record) -> str:
    """One line: the recorded steps, with the parameters that differ from defaults."""
    if record is None:
        return "none recorded"
    parts = []
    for entry in record["steps"]:
        defaults = SUPPORTED_STEPS[entry["class"]]().get_params(deep=False)
        shown = []
        for key, value in entry["params"].items():
            value = tuple(value) if isinstance(value, list) else value
            if key != "layout" and defaults.get(key, value) != value:
                shown.append(f"{key}={value!r}")
        parts.append(f"{entry['class']}({', '.join(shown)})")
    return " -> ".join(parts)
