"""Input checks for fMRI-shaped arrays, written once and used everywhere.

Every public estimator and function validates its input through these helpers, so
that the same mistake gets the same message wherever it is made. Messages always say
what was received and what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import numpy as np
import pandas as pd
from pandas import CategoricalDtype

TIMESERIES_CONTRACT = (
    "a 3-D array of shape (n_subjects, n_rois, n_timepoints) or a list of 2-D "
    "arrays of shape (n_rois, n_timepoints)"
)

#: How one subject's 2-D array is laid out: the package's own (n_rois,
#: n_timepoints), or (n_timepoints, n_rois) as nilearn maskers and most
#: tools return it.
LAYOUTS = ("rois_x_time", "time_x_rois")

_LAYOUT_HINT = (
    "If each subject is given as (n_timepoints, n_rois), as nilearn returns "
    "it, pass layout='time_x_rois'."
)


def check_layout(layout) -> str:
    """Return ``layout`` when it is one of :data:`LAYOUTS`, else raise."""
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}; got {layout!r}.")
    return layout


def apply_layout(X, layout: str):
    """Present in-memory time series as (n_rois, n_timepoints) per subject.

    Parameters
    ----------
    X : array-like of shape (n_subjects, A, B) or list of 2-D array-like
        Subjects in ``layout``. Anything else (paths, sources) is returned
        unchanged: files carry their own ``layout`` option.
    layout : {"rois_x_time", "time_x_rois"}
        How each subject's 2-D array is ordered.

    Returns
    -------
    X_rois_x_time : same container as ``X``
        Transposed views (no copy) when ``layout="time_x_rois"``.

    Examples
    --------
    >>> import numpy as np
    >>> apply_layout(np.zeros((2, 150, 10)), "time_x_rois").shape
    (2, 10, 150)
    """
    check_layout(layout)
    if layout == "rois_x_time":
        return X
    if isinstance(X, np.ndarray):
        return X.transpose(0, 2, 1) if X.ndim == 3 else X
    if isinstance(X, Sequence) and not isinstance(X, (str, bytes)):
        if X and all(isinstance(x, np.ndarray) or isinstance(x, Sequence) for x in X):
            if any(isinstance(x, (str, bytes)) for x in X):
                return X
            return [np.asarray(x).T for x in X]
    return X


def restore_layout(X, layout: str):
    """Give (n_rois, n_timepoints) data back in ``layout`` (undoes apply_layout)."""
    return apply_layout(X, layout)


def _as_float_array(x, name: str) -> np.ndarray:
    """Convert ``x`` to a float ndarray, keeping float32 and promoting the rest."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype == object:
        raise ValueError(
            f"{name} has an object dtype (ragged or mixed content); expected numbers."
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must hold numbers; got dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real-valued; got dtype {arr.dtype}.")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite value(s); expected finite "
            "values. Impute or drop the affected ROIs/frames first."
        )


def check_timeseries(X, *, name: str = "X", min_timepoints: int = 1):
    """Validate ROI time series.

    Parameters
    ----------
    X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
        Either one 3-D array, or a sequence of 2-D arrays of shape
        (n_rois, n_timepoints_i) whose lengths may differ.
    name : str, default="X"
        Name used in error messages.
    min_timepoints : int, default=1
        Smallest number of frames a subject may have.

    Returns
    -------
    X_checked : ndarray of shape (n_subjects, n_rois, n_timepoints) or list of ndarray
        A float32/float64 3-D array when ``X`` was array-like with equal lengths,
        otherwise a list of 2-D float arrays (one per subject).

    Raises
    ------
    ValueError
        On a wrong number of dimensions, an empty input, subjects with different
        ROI counts, too few frames, or NaN/inf values.
    """
    if isinstance(X, np.ndarray) or not isinstance(X, Sequence):
        arr = _as_float_array(X, name)
        if arr.ndim != 3:
            hint = ""
            if arr.ndim == 2:
                hint = " For a single subject, pass X[np.newaxis] (or [X])."
            raise ValueError(
                f"{name} must be {TIMESERIES_CONTRACT}; got a {arr.ndim}-D array of "
                f"shape {arr.shape}.{hint}"
            )
        if 0 in arr.shape:
            raise ValueError(f"{name} is empty: got shape {arr.shape}.")
        if arr.shape[2] < min_timepoints:
            raise ValueError(
                f"{name} has {arr.shape[2]} time points per subject; at least "
                f"{min_timepoints} are needed."
            )
        _check_finite(arr, name)
        return arr

    if len(X) == 0:
        raise ValueError(f"{name} is an empty list; expected {TIMESERIES_CONTRACT}.")
    subjects = []
    for i, x in enumerate(X):
        arr = _as_float_array(x, f"{name}[{i}]")
        if arr.ndim != 2:
            raise ValueError(
                f"{name}[{i}] must be a 2-D array of shape (n_rois, n_timepoints); "
                f"got shape {arr.shape}. Overall, {name} must be {TIMESERIES_CONTRACT}."
            )
        if 0 in arr.shape:
            raise ValueError(f"{name}[{i}] is empty: got shape {arr.shape}.")
        if arr.shape[1] < min_timepoints:
            raise ValueError(
                f"{name}[{i}] has {arr.shape[1]} time points; at least "
                f"{min_timepoints} are needed."
            )
        _check_finite(arr, f"{name}[{i}]")
        subjects.append(arr)
    n_rois = {s.shape[0] for s in subjects}
    if len(n_rois) > 1:
        raise ValueError(
            f"All subjects in {name} must have the same number of ROIs; got ROI "
            f"counts {sorted(n_rois)}. {_LAYOUT_HINT}"
        )
    dtype = np.result_type(*subjects)
    return [s.astype(dtype, copy=False) for s in subjects]


def n_rois_of(X) -> int:
    """Number of ROIs of validated time series (3-D array or list)."""
    return X.shape[1] if isinstance(X, np.ndarray) else X[0].shape[0]


def stack_if_equal(subjects: list, like) -> np.ndarray | list:
    """Return a 3-D array when ``like`` was one, else keep the list of subjects."""
    if isinstance(like, np.ndarray):
        return np.stack(subjects)
    return subjects


def check_fc(X, *, name: str = "X", symmetry_tol: float = 1e-5) -> np.ndarray:
    """Validate functional-connectivity matrices.

    Parameters
    ----------
    X : array-like of shape (n_subjects, n_rois, n_rois) or (n_rois, n_rois)
        Square, symmetric connectivity matrices.
    name : str, default="X"
        Name used in error messages.
    symmetry_tol : float, default=1e-5
        Largest absolute difference allowed between ``X`` and its transpose.

    Returns
    -------
    fc : ndarray of shape (n_subjects, n_rois, n_rois)
        A single matrix is returned with a leading axis of length 1.
    """
    arr = _as_float_array(X, name)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must be a connectivity matrix of shape (n_rois, n_rois) or a "
            f"stack of shape (n_subjects, n_rois, n_rois); got a {arr.ndim}-D array "
            f"of shape {arr.shape}."
        )
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty: got shape {arr.shape}.")
    if arr.shape[1] != arr.shape[2]:
        raise ValueError(
            f"{name} must hold square (n_rois, n_rois) matrices; got matrices of "
            f"shape {arr.shape[1:]}. Did you pass time series instead of FC? "
            "Use FunctionalConnectivity first."
        )
    _check_finite(arr, name)
    asym = float(np.max(np.abs(arr - np.swapaxes(arr, 1, 2))))
    scale = max(1.0, float(np.max(np.abs(arr))))
    if asym > symmetry_tol * scale:
        raise ValueError(
            f"{name} must hold symmetric matrices; the largest |X - X.T| is "
            f"{asym:.3g}. Symmetrize with (X + X.T) / 2 if this is rounding noise."
        )
    return arr


def check_quantile_range(quantile_range) -> tuple[float, float]:
    """``(q_min, q_max)`` as floats with ``0 <= q_min < q_max <= 100``.

    Raises
    ------
    ValueError
        If ``quantile_range`` is not a pair of numbers in that order and range.
    """
    try:
        q_lo, q_hi = (float(q) for q in quantile_range)
    except (TypeError, ValueError):
        raise ValueError(
            "quantile_range must be a pair of floats (q_min, q_max); got "
            f"{quantile_range!r}."
        ) from None
    if not 0.0 <= q_lo < q_hi <= 100.0:
        raise ValueError(
            "quantile_range must satisfy 0 <= q_min < q_max <= 100; got "
            f"{quantile_range!r}."
        )
    return q_lo, q_hi


def check_n_rois(
    n_rois: int,
    fitted_n_rois: int,
    estimator_name: str,
    *,
    n_timepoints=None,
    name: str = "X",
) -> None:
    """Raise when data has a different ROI count than the model expects.

    Parameters
    ----------
    n_rois : int
        ROI count of the data, as read with the current ``layout``.
    fitted_n_rois : int
        ROI count the model was fitted on (or that its gradients have).
    estimator_name : str
        What expects ``fitted_n_rois`` (named in the message).
    n_timepoints : int or array-like of int, optional
        The data's frame counts; when one of them equals ``fitted_n_rois`` the
        data looks transposed and the message says so.
    name : str, default="X"
        Name of the data in the message.
    """
    if n_rois == fitted_n_rois:
        return
    lengths = np.atleast_1d(
        np.asarray(n_timepoints if n_timepoints is not None else [])
    )
    if lengths.size and np.all(lengths == fitted_n_rois):
        raise ValueError(
            f"{name} has {n_rois} ROIs and {fitted_n_rois} time points, but "
            f"{estimator_name} expects {fitted_n_rois} ROIs: {name} looks "
            "transposed. Pass layout='time_x_rois' if each subject is "
            "(n_timepoints, n_rois), or transpose it."
        )
    raise ValueError(
        f"{name} has {n_rois} ROIs, but {estimator_name} expects "
        f"{fitted_n_rois} ROIs. Check the ROI set, and the layout: subjects are "
        "read as (n_rois, n_timepoints) unless layout='time_x_rois'."
    )


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
