"""Scale a cohort one window at a time, so the scaled cohort never sits in memory.

:class:`ROIScalerTransform` applies a fitted ``ROIRobustScaler``'s per-ROI
statistics, :class:`SubjectRobustScaling` each subject's own per-ROI
statistics and :class:`SampleZScoring` each subject's one global mean and std
to a window (or a batch); :class:`ScaledSource` wraps a source so that every
window read from it comes out scaled. All pickle small, to run in
DataLoader workers.
"""

from __future__ import annotations

import numpy as np

from sk_brainjepa._utils._scaling import (
    check_zscore_params,
    robust_scale_subject,
    zscore_samples,
)
from sk_brainjepa._utils._validation import check_quantile_range
from sk_brainjepa.datasets._sources import TimeSeriesSource, as_source


class ROIScalerTransform:
    """Apply a fitted :class:`~sk_brainjepa.ROIRobustScaler` to windows or batches.

    Holds only the scaler's per-ROI statistics, so it pickles small and can run
    in DataLoader workers: streaming users fit the scaler on a sample of
    subjects (or in a pass over the source) and scale each window as it is
    read, instead of the whole cohort in memory.

    Parameters
    ----------
    scaler : ROIRobustScaler
        Fitted.

    Attributes
    ----------
    needs_full_run : bool
        True when the scaler has ``center_subjects=True``: the subject mean it
        removes is that of the whole run, so the transform must see the run
        before it is cropped (:class:`WindowDataset` does so).
    """

    def __init__(self, scaler):
        center = getattr(scaler, "center_", None)
        scale = getattr(scaler, "scale_", None)
        if center is None or scale is None:
            raise ValueError(
                "scaler must be a fitted ROIRobustScaler (with center_ and scale_); "
                f"got {scaler!r}."
            )
        # The scaler casts its statistics to the data's dtype; windows are float32.
        self.center = np.asarray(center, dtype=np.float32)[:, None]
        self.scale = np.asarray(scale, dtype=np.float32)[:, None]
        self.needs_full_run = bool(getattr(scaler, "center_subjects", False))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` of shape (..., n_rois, n_timepoints), float32."""
        if x.ndim < 2 or x.shape[-2] != len(self.center):
            raise ValueError(
                f"ROIScalerTransform expects arrays of shape (..., {len(self.center)}, "
                f"n_timepoints), the ROIs the scaler was fitted on; got {x.shape}."
            )
        if self.needs_full_run:
            x = x - x.mean(axis=-1, keepdims=True)
        return (x - self.center) / self.scale

    def __repr__(self) -> str:
        return f"ROIScalerTransform(n_rois={len(self.center)})"


class SubjectRobustScaling:
    """Scale each ROI by its own median and IQR within one subject's run.

    The streaming form of
    :class:`~sk_brainjepa.preprocessing.SubjectRobustScaler` (the same
    function computes both): equal to
    ``ROIRobustScaler().fit_transform(x[np.newaxis])[0]`` for each subject
    ``x`` (the per-subject scaling of the benchmarks). No other subject's
    statistics are used, so it needs no fitting.

    Parameters
    ----------
    quantile_range : tuple of float, default=(25.0, 75.0)
    min_scale : float, default=1e-12
        A ROI whose IQR is at or below this is constant: a ValueError is
        raised instead of dividing by zero.
    over : {"run", "window"}, default="run"
        Compute the statistics over the whole run (then crop), or over the
        window the model sees.
    """

    def __init__(self, quantile_range=(25.0, 75.0), *, min_scale=1e-12, over="run"):
        if over not in ("run", "window"):
            raise ValueError(f"over must be 'run' or 'window'; got {over!r}.")
        self.quantile_range = check_quantile_range(quantile_range)
        self.min_scale = float(min_scale)
        self.over = over
        self.needs_full_run = over == "run"

    def _scale_one(self, x: np.ndarray) -> np.ndarray:
        return robust_scale_subject(x, self.quantile_range, min_scale=self.min_scale)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` of shape (n_rois, n_timepoints) or a batch (B, n_rois, T)."""
        if x.ndim == 2:
            return self._scale_one(x)
        if x.ndim == 3:
            return np.stack([self._scale_one(s) for s in x])
        raise ValueError(
            f"SubjectRobustScaling expects a (n_rois, n_timepoints) array or a batch "
            f"of them; got shape {x.shape}."
        )

    def __repr__(self) -> str:
        return (
            f"SubjectRobustScaling(quantile_range={self.quantile_range}, "
            f"over={self.over!r})"
        )


class SampleZScoring:
    """Z-score each subject over all its ROIs and frames, one window at a time.

    The streaming form of :class:`~sk_brainjepa.preprocessing.SampleZScore`
    (the same function computes both): one mean and one standard deviation
    per subject, taken over ROIs x time together, as the official Brain-JEPA
    downstream scripts scale what they feed the released checkpoint. Needs no
    fitting.

    Parameters
    ----------
    ddof : int, default=1
        Delta degrees of freedom of the standard deviation; 1 (torch's default)
        matches the official code.
    min_std : float, default=1e-12
        A subject whose standard deviation is at or below this is constant: a
        ValueError is raised instead of returning NaN or inf.
    over : {"run", "window"}, default="run"
        Which frames the mean and std are taken over.

        - ``"run"`` (the official loader): the subject's whole run; the window
          is then cut from the scaled run (``needs_full_run`` is True, so
          :class:`ScaledSource` reads the run). A window then equals
          ``SampleZScore().fit_transform(X)[i][:, start:start + length]``.
        - ``"window"``: only the frames the model sees, so every window has
          mean 0 and std 1. It equals
          ``SampleZScore().fit_transform(X[:, :, start:start + length])[i]``,
          and reads only the window from disk.

    Attributes
    ----------
    needs_full_run : bool
        True when ``over="run"``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(8000.0, 50.0, (3, 4, 50))
    >>> scaled = ScaledSource(X, SampleZScoring(over="window"))
    >>> w = scaled.window(0, 10, 20)
    >>> bool(abs(w.mean()) < 1e-5 and abs(w.std(ddof=1) - 1) < 1e-5)
    True
    """

    def __init__(self, *, ddof=1, min_std=1e-12, over="run"):
        if over not in ("run", "window"):
            raise ValueError(f"over must be 'run' or 'window'; got {over!r}.")
        self.ddof, self.min_std = check_zscore_params(ddof, min_std)
        self.over = over
        self.needs_full_run = over == "run"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` of shape (n_rois, n_timepoints) or a batch (B, n_rois, T)."""
        if x.ndim not in (2, 3):
            raise ValueError(
                "SampleZScoring expects a (n_rois, n_timepoints) array or a batch "
                f"of them; got shape {x.shape}."
            )
        return zscore_samples(x, ddof=self.ddof, min_std=self.min_std, name="x")

    def __repr__(self) -> str:
        return f"SampleZScoring(ddof={self.ddof}, over={self.over!r})"


class ScaledSource(TimeSeriesSource):
    """A source whose subjects are scaled as they are read.

    Wrap a cohort once and hand the result to ``fit``, ``transform``, the
    embedder or ``linear_probe``: every window the model sees (in training
    batches, in DataLoader workers, when embedding) is scaled on the fly, and
    the scaled cohort never exists in memory.

    Parameters
    ----------
    source : TimeSeriesSource or anything :func:`as_source` accepts
    transform : callable
        Maps a float32 array of shape (n_rois, n_frames) to one of the same
        shape, e.g. :class:`SubjectRobustScaling`, :class:`SampleZScoring` or
        :class:`ROIScalerTransform`.
        One with ``needs_full_run = True`` sees the whole run, then the window
        is cut from the result. Must be picklable to run in workers.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(5.0, 2.0, (3, 4, 50))
    >>> scaled = ScaledSource(X, SubjectRobustScaling())
    >>> bool(abs(np.median(scaled[0], axis=1)).max() < 1e-6)
    True
    """

    def __init__(self, source, transform):
        if not callable(transform):
            raise TypeError(f"transform must be callable; got {transform!r}.")
        self.source = as_source(source)
        self.transform = transform
        self.n_rois = self.source.n_rois
        self.lengths = self.source.lengths
        self.in_memory = False  # scaled lazily, window by window

    @property
    def subject_ids(self):
        return getattr(self.source, "subject_ids", None)

    def subject_name(self, index: int) -> str:
        return self.source.subject_name(index)

    def window(self, index: int, start: int, length: int) -> np.ndarray:
        index = self._check_index(index)
        if not 0 <= int(start) < int(start) + int(length) <= self.lengths[index]:
            raise ValueError(
                f"Frames {start} to {int(start) + int(length)} are outside "
                f"{self.subject_name(index)}, which has {self.lengths[index]} frames."
            )
        if getattr(self.transform, "needs_full_run", False):
            raw, offset = self.source[index], int(start)
        else:
            raw, offset = self.source.window(index, start, length), 0
        try:
            out = self.transform(raw)
        except ValueError as exc:
            raise ValueError(
                f"{self.transform!r} failed on {self.subject_name(index)}: {exc}"
            ) from exc
        if out.shape != raw.shape:
            raise ValueError(
                f"transform returned shape {out.shape} for {self.subject_name(index)} "
                f"of shape {raw.shape}; it must keep the shape."
            )
        return np.ascontiguousarray(
            out[:, offset : offset + int(length)], dtype=np.float32
        )

    def __repr__(self) -> str:
        return f"ScaledSource({self.source!r}, {self.transform!r})"
