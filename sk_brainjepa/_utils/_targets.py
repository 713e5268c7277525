"""Supervised targets: which task one calls for, and whether it can be learnt.

The one rule that decides classification or regression wherever labels are
probed, and the one refusal of targets nothing can be learnt from (missing or
infinite values, a single class, a constant).
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
import pandas as pd
from pandas import CategoricalDtype
from sklearn.utils.multiclass import type_of_target

#: A numeric target with more than two but fewer distinct values than this
#: could be class codes or a coarse measurement: ``infer_task`` then guesses.
FEW_DISTINCT_VALUES = 10


def _numeric_values(y) -> np.ndarray | None:
    """``y`` as a float array when it holds plain real numbers, else None."""
    if isinstance(getattr(y, "dtype", None), CategoricalDtype):
        return None  # declared categories are classes, whatever their labels
    arr = np.asarray(y)
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind == "O" and all(
        isinstance(v, Real) and not isinstance(v, (bool, np.bool_)) for v in arr.flat
    ):
        # e.g. a pandas column of Python numbers stored as objects.
        return arr.astype(np.float64)
    return None  # strings, booleans, mixed objects: labels


def infer_task(y) -> tuple[str, str | None]:
    """The task a target calls for, and why the choice is a guess when it is one.

    Strings, booleans and pandas categoricals are class labels. Numbers are
    class labels when they take two distinct values (e.g. 0/1), and real
    values when they take :data:`FEW_DISTINCT_VALUES` or more (e.g. integer
    ages 20 to 80) or never repeat. In between the target could be either:
    integers (0 to 4, say) are taken as class codes and other numbers as
    measurements, and the reason is returned so that the caller can warn.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Target without missing values; a pandas Series keeps its dtype.

    Returns
    -------
    task : {"classification", "regression"}
    ambiguity : str or None
        None when the choice is clear; otherwise what makes ``y`` ambiguous,
        e.g. ``"y holds 5 distinct integer values (0, 1, 2, 3, 4)"``.

    Examples
    --------
    >>> infer_task(["ctl", "asd", "ctl"])
    ('classification', None)
    >>> infer_task(list(range(20, 80)))
    ('regression', None)
    >>> infer_task([0, 1, 2, 3, 4, 0])[0]
    'classification'
    """
    values = _numeric_values(y)
    if values is None:
        return "classification", None
    distinct = np.unique(values)
    if len(distinct) <= 2:
        return "classification", None
    # Values that never repeat cannot be classes (one sample each), however
    # few there are.
    if len(distinct) >= FEW_DISTINCT_VALUES or len(distinct) == len(values):
        return "regression", None
    shown = ", ".join(f"{v:g}" for v in distinct)
    if np.all(np.isfinite(distinct)) and np.all(distinct == np.round(distinct)):
        return (
            "classification",
            f"y holds {len(distinct)} distinct integer values ({shown})",
        )
    return "regression", f"y holds only {len(distinct)} distinct values ({shown})"


def is_classification_target(y) -> bool:
    """True when ``y`` holds class labels (binary or multiclass), not real values.

    The one rule that decides the task wherever labels are probed
    (``linear_probe``, ``probe_features``, the pretrainer's ``monitor``) and
    whether splits are stratified; see :func:`infer_task`. Never warns.

    Parameters
    ----------
    y : array-like of shape (n_samples,)

    Returns
    -------
    is_classification : bool
    """
    return infer_task(y)[0] == "classification"


def _positions(bad: np.ndarray) -> str:
    """``"3 values, at positions 1, 4, 9"`` for a boolean mask (5 shown at most)."""
    where = np.flatnonzero(bad)
    shown = ", ".join(str(i) for i in where[:5]) + (", ..." if len(where) > 5 else "")
    plural = "s" if len(where) > 1 else ""
    return f"{len(where)} value{plural}, at position{plural} {shown}"


def check_target_values(y, task: str, *, name: str = "y") -> np.ndarray:
    """Refuse a supervised target that nothing can be learned from.

    The one check behind ``linear_probe``, ``probe_features`` and every skorch
    network (fine-tuners and baselines): missing or infinite values, a single
    class, a constant regression target.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    task : {"classification", "regression", "auto"}
        "auto" reads a constant numeric target as a constant, a constant
        label as a single class.
    name : str, default="y"
        Name used in messages.

    Returns
    -------
    y : ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        Naming ``name`` and the cause.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,); got shape {y.shape}.")
    if len(y) == 0:
        raise ValueError(f"{name} is empty; expected one target per subject.")
    missing = np.asarray(pd.isna(y), dtype=bool)
    if missing.any():
        raise ValueError(
            f"{name} has missing values (NaN or None): {_positions(missing)}. "
            "Every subject needs a target: drop those subjects or impute "
            f"{name} first."
        )
    try:
        # Numbers, also when stored as objects (strings do not convert).
        values = y.astype(np.float64) if y.dtype.kind in "fO" else None
    except (TypeError, ValueError):
        values = None
    if values is not None and not np.all(np.isfinite(values)):
        raise ValueError(
            f"{name} has infinite values: {_positions(~np.isfinite(values))}. "
            "Targets must be finite: drop those subjects or fix "
            f"{name} first."
        )
    distinct = pd.unique(pd.Series(y, dtype=object))
    if len(distinct) < 2:
        if task == "classification" or (task == "auto" and y.dtype.kind not in "iuf"):
            raise ValueError(
                f"{name} has a single class ({distinct[0]!r}) for all {len(y)} "
                "subjects: classification needs at least two classes."
            )
        raise ValueError(
            f"{name} is constant ({distinct[0]!r} for all {len(y)} subjects): "
            "there is nothing to predict (a regression of a constant scores a "
            "meaningless perfect R^2)."
        )
    return y


#: What ``task=`` accepts wherever labels are probed.
TASKS = ("auto", "classification", "regression")


def resolve_task(y, task: str = "auto", *, name: str = "y", stacklevel: int = 3):
    """Decide the task for a target and return the target ready for it.

    The one rule behind ``linear_probe``, ``probe_features``, ``sk-brainjepa
    probe`` and the pretrainer's ``monitor``: the target is checked
    (:func:`check_target_values`), ``task="auto"`` follows :func:`infer_task`
    and warns (naming ``task=``) when it had to guess.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    task : {"auto", "classification", "regression"}, default="auto"
    name : str, default="y"
        Name used in messages.
    stacklevel : int, default=3
        Where the warning points, counted from this function.

    Returns
    -------
    task : {"classification", "regression"}
    y : ndarray of shape (n_samples,)
        Labels (non-integer numbers chosen as classes become their text) or
        float64 values.
    """
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}.")
    y_in = y
    y = check_target_values(y, task, name=name)
    if task == "auto":
        task, ambiguity = infer_task(y_in)
        if ambiguity is not None:
            other = "regression" if task == "classification" else "classification"
            warnings.warn(
                f"{ambiguity}, which could be class labels or real values: "
                f"task='auto' chose {task}. Pass task='{task}' to keep this "
                f"choice without this warning, or task='{other}'.",
                UserWarning,
                stacklevel=stacklevel,
            )
    if task == "classification" and type_of_target(y) == "continuous":
        # Non-integer numbers chosen as classes: scikit-learn's classifiers
        # refuse them as labels; their text (exact for floats) serves the same.
        y = y.astype(str)
    if task == "regression":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"task='regression' needs numbers in {name}; got values such as "
                f"{y[0]!r} (dtype {y.dtype})."
            ) from None
    return task, y
