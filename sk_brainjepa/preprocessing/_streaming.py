"""Preprocessing that streams: scalings applied window by window, and group FC.

:class:`ROIScalerTransform` applies a fitted ``ROIRobustScaler``'s per-ROI
statistics, :class:`SubjectRobustScaling` each subject's own per-ROI
statistics and :class:`SampleZScoring` each subject's one global mean and std
to a window (or a batch); wrap a source in
:class:`~sk_brainjepa.sources.ScaledSource` with one of them so that every
window read from it comes out scaled, and the scaled cohort never sits in
memory. All pickle small, to run in DataLoader workers. :func:`group_fc`
averages the functional connectivity of a source one subject at a time.
"""

from __future__ import annotations

import numpy as np

from sk_brainjepa._utils._scaling import (
    check_zscore_params,
    robust_scale_subject,
    zscore_samples,
)
from sk_brainjepa._utils._validation import check_quantile_range
from sk_brainjepa.preprocessing._connectivity import (
    FunctionalConnectivity,
    fisher_z_mean,
)
from sk_brainjepa.sources import as_source


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
        before it is cropped (:class:`~sk_brainjepa.sources.ScaledSource` and
        :class:`~sk_brainjepa.training.WindowDataset` do so).
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
          :class:`~sk_brainjepa.sources.ScaledSource` reads the run). A window
          then equals
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
    >>> from sk_brainjepa.sources import ScaledSource
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


def group_fc(source, *, average: str = "fisher") -> np.ndarray:
    """Group functional connectivity, one subject in memory at a time.

    Gives what :class:`~sk_brainjepa.GradientPositioner` computes from
    ``FunctionalConnectivity().fit_transform(X)`` for float32 ``X`` (which is
    what sources return), without holding the (n_subjects, n_rois, n_rois)
    stack: pass the result to ``positioner.fit``.

    Parameters
    ----------
    source : TimeSeriesSource, array-like or path-like
        Anything :func:`~sk_brainjepa.sources.as_source` accepts.
    average : {"fisher", "mean"}, default="fisher"
        Fisher z averaging (the positioner's, for correlation kernels), or the
        plain mean (its rule for ``kernel="precomputed"``).

    Returns
    -------
    fc : ndarray of shape (n_rois, n_rois)
        float64; a single subject's float32 matrix when there is one subject.
    """
    if average not in ("fisher", "mean"):
        raise ValueError(f"average must be 'fisher' or 'mean'; got {average!r}.")
    source = as_source(source)
    measure = FunctionalConnectivity()

    def matrices():
        for index in range(len(source)):
            try:
                fc = measure.fit_transform(source[index][np.newaxis])[0]
            except ValueError as exc:
                raise ValueError(f"{source.subject_name(index)}: {exc}") from exc
            yield fc

    if len(source) == 1:
        return next(matrices())
    if average == "fisher":
        return fisher_z_mean(matrices())
    # float32 running sum, as fc.mean(axis=0) reduces a float32 stack.
    plain_sum = np.zeros((source.n_rois, source.n_rois), dtype=np.float32)
    for fc in matrices():
        plain_sum += fc
    return plain_sum / len(source)
