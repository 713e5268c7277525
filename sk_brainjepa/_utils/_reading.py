"""How time series were read: the words every entry check and error uses.

Nothing in a subject's array says which axis is time. A (150, 200) array is
150 ROIs x 200 frames or 150 frames x 200 ROIs, and no statistic of the values
tells the two apart reliably (``benchmarks/orientation_guard.py`` measured
the candidates on real HCP and simulated data: correctly oriented data at a
slow TR scores as "transposed" as transposed data at a fast TR does). So the
data is never guessed at: where it enters, :func:`log_read` logs how it was
read, and the first error about its shape says so too (:func:`read_as`,
:func:`layout_hint`), naming ``layout``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, MappingView, Set

import numpy as np

logger = logging.getLogger(__name__)

#: What may be given as time series (named when something else is).
ACCEPTED_INPUTS = (
    "a 3-D array (n_subjects, n_rois, n_timepoints), a list of 2-D arrays, a "
    "folder or a list of files, or a TimeSeriesSource (sk_brainjepa.sources."
    "as_source)"
)


def _frames(n_timepoints) -> str:
    """``"200"``, or ``"150-200"`` for subjects of different lengths."""
    lengths = np.atleast_1d(np.asarray(n_timepoints, dtype=np.int64))
    low, high = int(lengths.min()), int(lengths.max())
    return str(low) if low == high else f"{low}-{high}"


def read_as(n_rois: int, n_timepoints, layout: str | None = None) -> str:
    """How subjects were read, as their (n_rois, n_timepoints) shape and layout.

    E.g. ``"(n_rois=150, n_timepoints=200) with layout='rois_x_time'"``.

    Parameters
    ----------
    n_rois : int
        ROIs as read.
    n_timepoints : int or array-like of int
        Frames as read; several lengths are shown as their range.
    layout : {"rois_x_time", "time_x_rois"} or None, default=None
        The layout the data was read with; None when the caller does not know
        it (the data was already put in (n_rois, n_timepoints) order).

    Returns
    -------
    text : str
    """
    shape = f"(n_rois={int(n_rois)}, n_timepoints={_frames(n_timepoints)})"
    return shape if layout is None else f"{shape} with layout={layout!r}"


def layout_hint(layout: str | None = None) -> str:
    """The sentence that says which ``layout`` to pass when the reading is wrong."""
    if layout == "time_x_rois":
        return "If each subject is (n_rois, n_timepoints), pass layout='rois_x_time'."
    if layout == "rois_x_time":
        return (
            "If each subject is (n_timepoints, n_rois), as nilearn maskers return "
            "it, pass layout='time_x_rois'."
        )
    return (
        "Subjects are read as (n_rois, n_timepoints) unless layout='time_x_rois' "
        "(the order nilearn maskers return); check layout."
    )


def describe_read(
    n_subjects: int, n_rois: int, n_timepoints, layout: str | None = None
) -> str:
    """The log line of a read cohort.

    E.g. ``"read 12 subjects as (n_rois=150, n_timepoints=200) with
    layout='rois_x_time'"``.
    """
    noun = "subject" if n_subjects == 1 else "subjects"
    return f"read {n_subjects} {noun} as {read_as(n_rois, n_timepoints, layout)}"


def log_read(
    n_subjects: int, n_rois: int, n_timepoints, layout: str | None = None
) -> None:
    """Log, at INFO, how time series entering the package were read.

    The only trace of the orientation when nothing else (a fitted model, the
    gradients) knows the ROI count: a transposed cohort reads without error.
    """
    if logger.isEnabledFor(logging.INFO):
        logger.info("%s", describe_read(n_subjects, n_rois, n_timepoints, layout))


def check_not_iterator(X, name: str = "X") -> None:
    """Raise a TypeError when ``X`` is a generator, an iterator or a set.

    They would otherwise become a 0-D object array ("object dtype"), and a
    generator can be read only once while the estimators read data more than
    once (shapes first, then windows).
    """
    if isinstance(X, (str, bytes, os.PathLike, np.ndarray)):
        return
    if isinstance(X, Iterator):
        what = "a generator" if hasattr(X, "gi_frame") else "an iterator"
    elif isinstance(X, (Set, MappingView)):
        what = f"an unordered {type(X).__name__}"
    else:
        return
    raise TypeError(
        f"{name} is {what} ({type(X).__name__}), which is not accepted; pass "
        f"{ACCEPTED_INPUTS}. For example, {name}=list({name})."
    )
