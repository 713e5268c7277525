"""Numerical kernels shared by the in-memory and the streaming scalers.

Kept in ``_utils`` (numpy only) so that the in-memory, streamed and official
scalings of ``preprocessing`` import one formula.
"""

from __future__ import annotations

import numpy as np


def check_zscore_params(ddof, min_std) -> tuple[int, float]:
    """``(ddof, min_std)`` as an int >= 0 and a float >= 0.

    Raises
    ------
    ValueError
        Naming the parameter, if either is out of range or of the wrong type.
    """
    if (
        not isinstance(ddof, (int, np.integer))
        or isinstance(ddof, (bool, np.bool_))
        or ddof < 0
    ):
        raise ValueError(f"ddof must be an integer >= 0; got {ddof!r}.")
    try:
        valid = float(min_std) >= 0
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"min_std must be a number >= 0; got {min_std!r}.")
    return int(ddof), float(min_std)


def zscore_samples(
    x: np.ndarray, *, ddof: int = 1, min_std: float = 1e-12, name: str = "x"
) -> np.ndarray:
    """Z-score each sample over its ROIs and frames together.

    One mean and one standard deviation per sample, taken over the last two
    axes (ROIs x time): ``(x - mean) / std``. This is the ``use_normalization``
    step of the official Brain-JEPA downstream loader (torch's ``x.std()``,
    i.e. ``ddof=1``), written for numpy.

    Parameters
    ----------
    x : ndarray of shape (..., n_rois, n_timepoints)
        One sample (2-D) or a stack of samples; float32 or float64.
    ddof : int, default=1
        Delta degrees of freedom of the standard deviation. 1 (unbiased) is
        what the official code uses; 0 gives the population standard deviation.
    min_std : float, default=1e-12
        A sample whose standard deviation is at or below this is constant
        (e.g. an empty scan); a ValueError is raised instead of returning the
        NaN or inf the official code would.
    name : str, default="x"
        Name used in error messages.

    Returns
    -------
    x_scaled : ndarray of the same shape and dtype as ``x``

    Raises
    ------
    ValueError
        If ``x`` has fewer than 2 dimensions, a sample has at most ``ddof``
        values, holds NaN or inf, or is constant.
    """
    if x.ndim < 2:
        raise ValueError(
            f"{name} must have shape (..., n_rois, n_timepoints); got shape {x.shape}."
        )
    n_values = x.shape[-2] * x.shape[-1]
    if n_values <= ddof:
        raise ValueError(
            f"{name} has {n_values} value(s) per sample (shape {x.shape}); the "
            f"standard deviation with ddof={ddof} needs more than {ddof}."
        )
    # Statistics in float64, one sample at a time: a float32 sum over 450 x 1200
    # values loses digits, and a float64 copy of a whole float32 cohort would
    # double its memory; per sample the float64 temporary is a few MB.
    flat = x.reshape(-1, *x.shape[-2:])
    mean = np.empty(len(flat))
    std = np.empty(len(flat))
    for i, sample in enumerate(flat):
        mean[i] = sample.mean(dtype=np.float64)
        std[i] = sample.std(ddof=ddof, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(std))
    if bad.size:
        where = (
            "" if x.ndim == 2 else f" (sample index {', '.join(map(str, bad[:10]))})"
        )
        raise ValueError(
            f"{name} contains NaN or infinite values{where}; expected finite "
            "values. Impute or drop the affected ROIs/frames first."
        )
    constant = np.flatnonzero(std <= min_std)
    if constant.size:
        rule = f"standard deviation <= min_std={min_std:g}"
        if x.ndim == 2:
            raise ValueError(
                f"{name} is constant ({rule}), so it cannot be z-scored. Drop "
                "empty or constant scans first."
            )
        shown = ", ".join(map(str, constant[:10])) + (
            ", ..." if constant.size > 10 else ""
        )
        raise ValueError(
            f"{name} has {constant.size} constant sample(s) ({rule}), which cannot "
            f"be z-scored: sample index {shown}. Drop empty or constant scans first."
        )
    shape = x.shape[:-2] + (1, 1)
    mean = mean.astype(x.dtype).reshape(shape)
    std = std.astype(x.dtype).reshape(shape)
    return (x - mean) / std


def _shown(indices: np.ndarray) -> str:
    """The first ten indices, comma-separated, with an ellipsis for more."""
    return ", ".join(map(str, indices[:10])) + (", ..." if indices.size > 10 else "")


def robust_statistics(values: np.ndarray, quantile_range) -> tuple[np.ndarray, ...]:
    """Median and quantile range of each column.

    Parameters
    ----------
    values : ndarray of shape (n_values, n_rois)
        One column per ROI (frames, or subject means, down the rows).
    quantile_range : tuple of float
        ``(q_min, q_max)`` percentiles, already checked.

    Returns
    -------
    center : ndarray of shape (n_rois,)
        Column medians.
    scale : ndarray of shape (n_rois,)
        ``percentile(q_max) - percentile(q_min)`` of each column.
    """
    center = np.median(values, axis=0)
    lo, hi = np.percentile(values, list(quantile_range), axis=0)
    return center, hi - lo


def scale_rois(x: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(x - center) / scale`` per ROI, in ``x``'s dtype.

    Parameters
    ----------
    x : ndarray of shape (n_rois, n_timepoints)
    center, scale : ndarray of shape (n_rois,)

    Returns
    -------
    x_scaled : ndarray of shape (n_rois, n_timepoints)
    """
    # Statistics are cast to the data's dtype so float32 input stays float32.
    return (x - center.astype(x.dtype)[:, None]) / scale.astype(x.dtype)[:, None]


def robust_scale_subject(
    x: np.ndarray,
    quantile_range=(25.0, 75.0),
    *,
    min_scale: float = 1e-12,
    name: str | None = None,
) -> np.ndarray:
    """Scale each ROI of one subject by its own median and interquartile range.

    The one formula behind
    :class:`~sk_brainjepa.preprocessing.SubjectRobustScaler` (in memory) and
    its ``to_window_transform()`` (streamed). It
    equals ``ROIRobustScaler(quantile_range=...).fit_transform(x[None])[0]``.

    Parameters
    ----------
    x : ndarray of shape (n_rois, n_timepoints)
        One subject's run, float32 or float64.
    quantile_range : tuple of float, default=(25.0, 75.0)
        ``(q_min, q_max)`` percentiles, already checked.
    min_scale : float, default=1e-12
        A ROI whose range is at or below this is constant.
    name : str or None, default=None
        Names the subject in the error message.

    Returns
    -------
    x_scaled : ndarray of shape (n_rois, n_timepoints), dtype of ``x``

    Raises
    ------
    ValueError
        If a ROI is constant within the subject, with its index.
    """
    # Same reductions, on the same (frames, ROIs) layout, as ROIRobustScaler.fit.
    center, scale = robust_statistics(x.T, quantile_range)
    constant = np.flatnonzero(scale <= min_scale)
    if constant.size:
        prefix = f"{name}: " if name else ""
        raise ValueError(
            f"{prefix}{constant.size} ROI(s) are constant within the subject (zero "
            f"interquartile range), so they cannot be scaled: ROI index "
            f"{_shown(constant)}."
        )
    return scale_rois(x, center, scale)
