"""Robust scaling of each subject by its own statistics (nothing learnt).

- :class:`SubjectRobustScaler`: per-ROI robust scaling of each subject by its
  own median and IQR (the scaling docs/user-guide.md recommends).
- :func:`robust_scale_subject`: the per-subject formula, shared with the
  window transform of ``SubjectRobustScaler().to_window_transform()``.
- ``SubjectRobustScaling`` (private): what ``to_window_transform()`` returns,
  the same scaling applied to one window at a time, for
  :class:`~sk_brainjepa.sources.ScaledSource`.

The scaler with statistics learnt on training data, :class:`ROIRobustScaler`,
and its window transform are in :mod:`._roi_scaling`; they are imported here,
their former home, so that this import path and objects pickled before the
move still resolve to them. The official downstream scaling,
:class:`SampleZScore`, and :func:`official_scaling` are in
:mod:`._official_scaling`.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._scaling import robust_scale_subject
from sk_brainjepa._utils._validation import (
    apply_layout,
    check_quantile_range,
    stack_if_equal,
)
from sk_brainjepa.preprocessing._base import (
    FitROICountMixin,
    PerSubjectWindowScaling,
    TimeSeriesOutputMixin,
    read_fitted,
)

# ROIRobustScaler and ROIScalerTransform lived here: imported so that this
# path, and objects pickled with it, still resolve to the same classes.
from sk_brainjepa.preprocessing._roi_scaling import (  # noqa: F401
    _ROBUST_CONSTRAINTS,
    ROIRobustScaler,
    ROIScalerTransform,
)


class SubjectRobustScaler(
    FitROICountMixin,
    PerSubjectWindowScaling,
    TimeSeriesOutputMixin,
    TimeSeriesEstimatorMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Scale each ROI of each subject by that subject's own median and IQR.

    ``x[r] <- (x[r] - median(x[r])) / iqr(x[r])`` with the statistics of the
    subject being scaled, so the per-subject ROI offsets of raw BOLD (scanner
    gain, coil distance), which dwarf the fluctuations within a run, are
    removed whatever the other subjects look like. Nothing is learnt from
    other subjects: ``fit`` only records the ROI count that ``transform``
    then checks, so the transformer can sit at the head of a ``Pipeline``
    without leaking test statistics.

    Each subject is scaled as given, so put it before
    :class:`TemporalResampler` to take the statistics over whole runs; for
    the same scaling applied window by window to a streamed cohort, see
    :meth:`to_window_transform` (the same function computes both).

    Read more in docs/user-guide.md, "Data formats and preprocessing".

    Parameters
    ----------
    quantile_range : tuple of float, default=(25.0, 75.0)
        Percentiles whose difference is the scale (25-75 gives the IQR).
    min_scale : float, default=1e-12
        A subject's ROI whose range is at or below this is constant (an empty
        parcel, a failed scan): ``transform`` raises a ValueError naming the
        subject and the ROI instead of dividing by zero.
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How each subject's 2-D array is ordered, in the input and in the
        output. The steps after it in a ``Pipeline`` need the same
        ``layout``: a pretrainer left at its default reads the output's
        frames as ROIs (its log and first shape error say how it read them).

    Attributes
    ----------
    n_rois_ : int
        Number of ROIs seen in ``fit``.
    n_features_in_ : int
        Same as ``n_rois_``: ROIs are the features of time-series input.

    See Also
    --------
    ROIRobustScaler : statistics learnt once on training subjects.
    SampleZScore : one mean and one std per subject, over all its ROIs.
    SubjectRobustScaler.to_window_transform : the same scaling, window by window.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.preprocessing import SubjectRobustScaler
    >>> X = np.random.default_rng(0).normal(8000.0, 50.0, (3, 4, 40))
    >>> Xs = SubjectRobustScaler().fit_transform(X)
    >>> bool(np.allclose(np.median(Xs, axis=2), 0.0))
    True
    """

    _parameter_constraints: dict = dict(_ROBUST_CONSTRAINTS)

    def __init__(
        self, quantile_range=(25.0, 75.0), *, min_scale=1e-12, layout="rois_x_time"
    ):
        self.quantile_range = quantile_range
        self.min_scale = min_scale
        self.layout = layout

    def _fit_input(self, X):
        check_quantile_range(self.quantile_range)
        return super()._fit_input(X)

    def transform(self, X):
        """Scale each subject's ROIs by the subject's own medians and IQRs.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Time series in ``layout``; subjects may differ in length.

        Returns
        -------
        X_scaled : ndarray of shape (n_subjects, n_rois, n_timepoints) or list
            Same container, dtype (float32 stays float32) and ``layout`` as
            the input; each subject's ROIs have median 0 and IQR 1.

        Raises
        ------
        ValueError
            If a subject has a constant ROI, naming both.
        """
        check_is_fitted(self)
        quantiles = check_quantile_range(self.quantile_range)
        X = read_fitted(self, X)
        out = [
            robust_scale_subject(
                x, quantiles, min_scale=float(self.min_scale), name=f"X[{i}]"
            )
            for i, x in enumerate(X)
        ]
        return apply_layout(stack_if_equal(out, X), self.layout)

    def to_window_transform(self, *, over="run"):
        """This scaling as a callable that scales one window as it is read.

        For :class:`~sk_brainjepa.sources.ScaledSource`: wrap a cohort in
        ``ScaledSource(source, SubjectRobustScaler().to_window_transform())``
        and every window read from it comes out scaled, without the scaled
        cohort in memory. Nothing is learnt, so the scaler need not be
        fitted. The callable pickles small, to run in DataLoader workers.

        Parameters
        ----------
        over : {"run", "window"}, default="run"
            Which frames each subject's medians and IQRs are taken over.

            - ``"run"``: the subject's whole run, and the window is then cut
              from the scaled run (its ``needs_full_run`` is True, so
              ``ScaledSource`` reads the run). A window then equals
              ``SubjectRobustScaler().fit_transform(X)[i][:, start:start + length]``.
            - ``"window"``: only the frames the model sees; reads only the
              window from disk. A window then equals
              ``SubjectRobustScaler().fit_transform(X[:, :, start:start + length])[i]``.

        Returns
        -------
        transform : callable
            Maps a float32 array of shape (n_rois, n_timepoints), always ROIs
            first (sources read ``layout`` themselves), or a batch of them of
            shape (B, n_rois, n_timepoints), to the scaled array of the same
            shape, with this scaler's ``quantile_range`` and ``min_scale``.

        Raises
        ------
        ValueError
            If ``over`` or ``quantile_range`` is invalid.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_brainjepa.preprocessing import SubjectRobustScaler
        >>> from sk_brainjepa.sources import ScaledSource
        >>> X = np.random.default_rng(0).normal(5.0, 2.0, (3, 4, 50))
        >>> scaled = ScaledSource(X, SubjectRobustScaler().to_window_transform())
        >>> bool(abs(np.median(scaled[0], axis=1)).max() < 1e-6)
        True
        """
        return SubjectRobustScaling(
            self.quantile_range, min_scale=self.min_scale, over=over
        )


# ------------------------------------------------------------ window transform
# What SubjectRobustScaler().to_window_transform() returns. Not public (one
# public name per scaling, its estimator); the class name stays as it was
# because a training checkpoint records the scaling of its data by class name
# and attributes (estimators._resume.describe_scaling), so runs checkpointed
# with the former public class still resume. Imported by _streaming too, its
# former home, so that objects pickled before still load.


class SubjectRobustScaling(PerSubjectWindowScaling):
    """Scale each ROI by its own median and IQR within one subject's run.

    The window transform of
    :class:`~sk_brainjepa.preprocessing.SubjectRobustScaler`, made by its
    ``to_window_transform()`` (the same function computes both): equal to
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
        self._set_span(over)
        self.quantile_range = check_quantile_range(quantile_range)
        self.min_scale = float(min_scale)

    def _scale_one(self, x: np.ndarray) -> np.ndarray:
        return robust_scale_subject(x, self.quantile_range, min_scale=self.min_scale)

    def _scale(self, x: np.ndarray) -> np.ndarray:
        if x.ndim == 2:
            return self._scale_one(x)
        return np.stack([self._scale_one(s) for s in x])

    def __repr__(self) -> str:
        return (
            f"SubjectRobustScaler(quantile_range={self.quantile_range})"
            f".to_window_transform(over={self.over!r})"
        )

    def _estimator(self):
        return SubjectRobustScaler(tuple(self.quantile_range), min_scale=self.min_scale)
