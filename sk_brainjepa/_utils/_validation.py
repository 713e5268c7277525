"""Input checks for fMRI-shaped arrays, written once and used everywhere.

Every public estimator and function validates its input through these helpers, so
that the same mistake gets the same message wherever it is made. Messages always say
what was received and what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np

from sk_brainjepa._utils._reading import (
    check_not_iterator,
    layout_hint,
    log_read,
    read_as,
)

TIMESERIES_CONTRACT = (
    "a 3-D array of shape (n_subjects, n_rois, n_timepoints) or a list of 2-D "
    "arrays of shape (n_rois, n_timepoints)"
)

#: What one subject's array must be.
SUBJECT_CONTRACT = "a 2-D array of shape (n_rois, n_timepoints)"

#: How one subject's 2-D array is laid out: the package's own (n_rois,
#: n_timepoints), or (n_timepoints, n_rois) as nilearn maskers and most
#: tools return it.
LAYOUTS = ("rois_x_time", "time_x_rois")

# ROIs of the official Brain-JEPA model and gradient file, and their atlas (the
# layout sk_brainjepa.imaging.official_brainjepa_atlas builds).
ROI_COUNT_OFFICIAL = 450
OFFICIAL_ATLAS = (
    "the official Brain-JEPA atlas: 50 Tian Scale-III subcortical regions, then "
    "the 400 Schaefer-2018 parcels in 17-network order"
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


def check_real_dtype(dtype: np.dtype, name: str) -> None:
    """Raise a ValueError unless ``dtype`` holds real numbers (booleans count)."""
    if not (
        np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)
    ) or np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers; got dtype {dtype}.")


def check_ndim(
    arr: np.ndarray,
    name: str,
    ndim: int,
    expected: str,
    *,
    hint: str = "",
    say_ndim: bool = False,
) -> None:
    """Raise a ValueError unless ``arr`` has ``ndim`` axes, none of them empty.

    Parameters
    ----------
    arr : ndarray
    name : str
        What ``arr`` is called in the messages (``"X"``, ``"X[3]"``).
    ndim : int
        The number of axes ``arr`` must have.
    expected : str
        What ``arr`` must be, e.g. ``"a 2-D array of shape (n_rois,
        n_timepoints)"``; the message says ``"{name} must be {expected}; got
        shape {arr.shape}."``.
    hint : str, default=""
        Appended to the message on a wrong number of axes.
    say_ndim : bool, default=False
        Say ``"got a 1-D array of shape ..."`` instead of ``"got shape ..."``.
    """
    if arr.ndim != ndim:
        got = f"a {arr.ndim}-D array of shape" if say_ndim else "shape"
        raise ValueError(f"{name} must be {expected}; got {got} {arr.shape}.{hint}")
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty: got shape {arr.shape}.")


def _check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite value(s); expected finite "
            "values. Impute or drop the affected ROIs/frames first."
        )


def check_timeseries(
    X, *, name: str = "X", min_timepoints: int = 1, layout: str | None = None
):
    """Validate ROI time series, and log how they were read.

    The one check of in-memory time series where they enter the package (the
    preprocessing transformers read through it, and
    :func:`~sk_brainjepa.sources.as_source` for the estimators): its INFO log
    and its errors say how each subject was read, so that a cohort given in
    the other orientation is seen (no statistic of the values can tell; see
    :mod:`sk_brainjepa._utils._reading`).

    Parameters
    ----------
    X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
        Either one 3-D array, or a sequence of 2-D arrays of shape
        (n_rois, n_timepoints_i) whose lengths may differ, already in that
        order (see :func:`apply_layout`).
    name : str, default="X"
        Name used in error messages.
    min_timepoints : int, default=1
        Smallest number of frames a subject may have.
    layout : {"rois_x_time", "time_x_rois"} or None, default=None
        The layout ``X`` was read with, named in the log and the messages;
        it is not applied here. None: not known to the caller.

    Returns
    -------
    X_checked : ndarray of shape (n_subjects, n_rois, n_timepoints) or list of ndarray
        A float32/float64 3-D array when ``X`` was array-like with equal lengths,
        otherwise a list of 2-D float arrays (one per subject).

    Raises
    ------
    TypeError
        When ``X`` is a generator or iterator (it can be read only once).
    ValueError
        On a wrong number of dimensions, an empty input, subjects with different
        ROI counts, too few frames, or NaN/inf values.
    """
    check_not_iterator(X, name)
    if isinstance(X, np.ndarray) or not isinstance(X, Sequence):
        arr = _as_float_array(X, name)
        hint = ""
        if arr.ndim == 2:
            hint = " For a single subject, pass X[np.newaxis] (or [X])."
        check_ndim(arr, name, 3, TIMESERIES_CONTRACT, hint=hint, say_ndim=True)
        if arr.shape[2] < min_timepoints:
            raise ValueError(
                f"{name} has {arr.shape[2]} time points per subject; at least "
                f"{min_timepoints} are needed. "
                + _read_note(name, arr.shape[1], arr.shape[2], layout)
            )
        _check_finite(arr, name)
        log_read(arr.shape[0], arr.shape[1], arr.shape[2], layout)
        return arr

    if len(X) == 0:
        raise ValueError(f"{name} is an empty list; expected {TIMESERIES_CONTRACT}.")
    subjects = []
    for i, x in enumerate(X):
        arr = _as_float_array(x, f"{name}[{i}]")
        check_ndim(
            arr,
            f"{name}[{i}]",
            2,
            SUBJECT_CONTRACT,
            hint=f" Overall, {name} must be {TIMESERIES_CONTRACT}.",
        )
        if arr.shape[1] < min_timepoints:
            raise ValueError(
                f"{name}[{i}] has {arr.shape[1]} time points; at least "
                f"{min_timepoints} are needed. "
                + _read_note(f"{name}[{i}]", arr.shape[0], arr.shape[1], layout)
            )
        _check_finite(arr, f"{name}[{i}]")
        subjects.append(arr)
    n_rois = {s.shape[0] for s in subjects}
    if len(n_rois) > 1:
        shapes = sorted({s.shape for s in subjects})[:4]
        raise ValueError(
            f"All subjects in {name} must have the same number of ROIs; got ROI "
            f"counts {sorted(n_rois)} (subjects read as (n_rois, n_timepoints) "
            f"shapes {shapes}{'' if layout is None else f' with layout={layout!r}'}"
            f"). {layout_hint(layout)}"
        )
    dtype = np.result_type(*subjects)
    log_read(
        len(subjects), subjects[0].shape[0], [s.shape[1] for s in subjects], layout
    )
    return [s.astype(dtype, copy=False) for s in subjects]


def _read_note(name: str, n_rois: int, n_timepoints, layout: str | None) -> str:
    """``"{name} was read as (n_rois=.., n_timepoints=..) ...; {layout hint}"``."""
    return f"{name} was read as {read_as(n_rois, n_timepoints, layout)}. " + (
        layout_hint(layout)
    )


def check_int(
    value, name: str, minimum: int = 1, *, allow_none: bool = False, owner: str = ""
):
    """``value`` as an int when it is an integer >= ``minimum``, else a ValueError.

    The one integer check of functions and torch modules (estimators declare
    ``_parameter_constraints`` instead). numpy integers pass; booleans do not.

    Parameters
    ----------
    value : object
    name : str
        Parameter name used in the message.
    minimum : int, default=1
    allow_none : bool, default=False
        Let None through (returned as None).
    owner : str, default=""
        Prefix naming who checks, e.g. ``"EncoderConfig: "``.

    Returns
    -------
    value : int or None

    Examples
    --------
    >>> check_int(np.int64(3), "n_rois")
    3
    >>> check_int(0, "depth", 0)
    0
    """
    if value is None and allow_none:
        return None
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, Integral)
        or value < minimum
    ):
        if minimum == 1:
            kind = "a positive integer"
        elif minimum == 0:
            kind = "a non-negative integer"
        else:
            kind = f"an integer >= {minimum}"
        alternative = " or None" if allow_none else ""
        raise ValueError(f"{owner}{name} must be {kind}{alternative}; got {value!r}.")
    return int(value)


def check_gradient_matrix(values: np.ndarray, name: str = "gradients") -> None:
    """Raise unless ``values`` is a non-empty, finite (n_rois, n_components) array.

    The one check of a gradient matrix that is written, plotted or read back
    (:func:`~sk_brainjepa.gradients.write_gradient_csv`,
    :func:`~sk_brainjepa.plotting.plot_gradients`).

    Parameters
    ----------
    values : ndarray
        Already numeric.
    name : str, default="gradients"
        Name used in messages.
    """
    if values.ndim != 2 or 0 in values.shape:
        raise ValueError(
            f"{name} must be a non-empty 2-D array of shape (n_rois, "
            f"n_components); got shape {values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contain NaN or infinite values.")


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
    layout: str | None = None,
) -> None:
    """Raise when data has a different ROI count than the model expects.

    The ROI count known from context (a fitted model's ``n_rois_``, the
    gradients, the official checkpoint's 450) is the one reliable evidence of
    a transposed cohort: the message says how the data was read and names
    ``layout``, and says "looks transposed" when the other reading would fit.

    Parameters
    ----------
    n_rois : int
        ROI count of the data, as read with the current ``layout``.
    fitted_n_rois : int
        ROI count the model was fitted on (or that its gradients have).
    estimator_name : str
        What expects ``fitted_n_rois`` (named in the message).
    n_timepoints : int or array-like of int, optional
        The data's frame counts; when every one of them equals
        ``fitted_n_rois`` the data looks transposed and the message says so.
    name : str, default="X"
        Name of the data in the message.
    layout : {"rois_x_time", "time_x_rois"} or None, default=None
        The layout the data was read with, named in the message.
    """
    if n_rois == fitted_n_rois:
        return
    lengths = np.atleast_1d(
        np.asarray(n_timepoints if n_timepoints is not None else [])
    )
    read = (
        f" ({name} was read as {read_as(n_rois, lengths, layout)} per subject)"
        if lengths.size
        else ""
    )
    if lengths.size and np.all(lengths == fitted_n_rois):
        if layout is None:
            # The caller does not know which layout was used: name both.
            advice = (
                "Check layout: subjects are read as (n_rois, n_timepoints) unless "
                "layout='time_x_rois' is given; pass the other one"
            )
        else:
            other = "rois_x_time" if layout == "time_x_rois" else "time_x_rois"
            order = (
                "(n_rois, n_timepoints)"
                if other == "rois_x_time"
                else ("(n_timepoints, n_rois)")
            )
            advice = f"Pass layout={other!r} if each subject is {order}"
        raise ValueError(
            f"{name} has {n_rois} ROIs and {fitted_n_rois} time points, but "
            f"{estimator_name} expects {fitted_n_rois} ROIs: {name} looks "
            f"transposed{read}. {advice}, or transpose {name}."
        )
    atlas = ""
    if fitted_n_rois == ROI_COUNT_OFFICIAL:
        atlas = (
            f" {ROI_COUNT_OFFICIAL} ROIs is the layout of {OFFICIAL_ATLAS} "
            "(sk_brainjepa.imaging.official_brainjepa_atlas builds it); extract "
            "the series with that atlas, not with another parcellation."
        )
    raise ValueError(
        f"{name} has {n_rois} ROIs, but {estimator_name} expects "
        f"{fitted_n_rois} ROIs{read}. Check the ROI set and the layout. "
        f"{layout_hint(layout)}{atlas}"
    )
