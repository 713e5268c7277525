"""Which frames of a run a model sees: the one rule for every window and crop.

A model reads windows of ``n_timepoints`` frames. Where a window starts in a
longer run is decided here, and only here, for every place that cuts one:
embedding (``"center"``, ``"start"`` or ``"average"``), the fine-tuners'
crop of longer series (``"center"``) and the random crops of pre-training
epochs (``"random"``). Plain slicing on the last axis, so :func:`crop` works
on numpy arrays and torch tensors alike.
"""

from __future__ import annotations

import numpy as np

#: The windows an embedding can be computed from (see :func:`window_starts`).
WINDOWS = ("center", "start", "average")
_HOWS = (*WINDOWS, "random")


def window_starts(
    length: int,
    n_timepoints: int,
    how: str = "center",
    *,
    rng: np.random.Generator | None = None,
) -> range:
    """First frames of the windows of ``n_timepoints`` frames cut from a run.

    Parameters
    ----------
    length : int
        Frames in the run; at least ``n_timepoints``.
    n_timepoints : int
        Window length.
    how : {"center", "start", "average", "random"}, default="center"
        - ``"center"``: one window in the middle, starting at
          ``(length - n_timepoints) // 2`` (one frame earlier than the middle
          when the spare frames are odd);
        - ``"start"``: one window at frame 0;
        - ``"average"``: every non-overlapping window from frame 0; trailing
          frames that do not fill a window are not used;
        - ``"random"``: one window starting at
          ``rng.integers(0, length - n_timepoints + 1)`` (one scalar draw).
    rng : numpy.random.Generator or None, default=None
        Needed for ``how="random"``, and advanced by it.

    Returns
    -------
    starts : range

    Examples
    --------
    >>> list(window_starts(10, 4, "center")), list(window_starts(10, 4, "average"))
    ([3], [0, 4])
    """
    length, n_timepoints = int(length), int(n_timepoints)
    if how not in _HOWS:
        raise ValueError(f"how must be one of {_HOWS}; got {how!r}.")
    if not 1 <= n_timepoints <= length:
        raise ValueError(
            f"A window of {n_timepoints} frames does not fit in a run of {length} "
            "frames."
        )
    if how == "start":
        return range(0, 1)
    if how == "center":
        start = (length - n_timepoints) // 2
    elif how == "random":
        if rng is None:
            raise ValueError("how='random' needs rng, a numpy Generator.")
        start = int(rng.integers(0, length - n_timepoints + 1))
    else:
        return range(0, length - n_timepoints + 1, n_timepoints)
    return range(start, start + 1)


def crop(x, n_timepoints: int, how: str = "center", *, rng=None):
    """One window of ``n_timepoints`` frames of ``x``, cut on its last axis.

    Parameters
    ----------
    x : ndarray or Tensor of shape (..., n_frames)
        ``n_frames >= n_timepoints``.
    n_timepoints : int
    how : {"center", "start", "random"}, default="center"
        See :func:`window_starts`.
    rng : numpy.random.Generator or None, default=None
        For ``how="random"``.

    Returns
    -------
    window : view of ``x`` of shape (..., n_timepoints)
    """
    if how == "average":
        raise ValueError("crop cuts one window; use cut_windows for 'average'.")
    (start,) = window_starts(x.shape[-1], n_timepoints, how, rng=rng)
    return x[..., start : start + n_timepoints]


def cut_windows(x: np.ndarray, n_timepoints: int, how: str) -> np.ndarray:
    """The windows of one subject that its embedding is computed from.

    Parameters
    ----------
    x : ndarray of shape (n_rois, n_frames)
    n_timepoints : int
    how : {"center", "start", "average"}
        See :func:`window_starts`.

    Returns
    -------
    windows : ndarray of shape (n_windows, n_rois, n_timepoints)
        One window for ``"center"``/``"start"``; every non-overlapping window
        (from the start) for ``"average"``.
    """
    starts = window_starts(x.shape[-1], n_timepoints, how)
    return np.stack([x[..., s : s + n_timepoints] for s in starts])
