"""Robust scaling per ROI with statistics learnt on training data.

- :class:`ROIRobustScaler`: per-ROI median and IQR fitted on the training
  subjects and applied to any data (paper section 3.1; its ``subject_mean``
  statistic is the official pretraining loader's).
- ``ROIScalerTransform`` (private): what the fitted scaler's
  ``to_window_transform()`` returns, the same scaling applied to one window
  at a time, for :class:`~sk_brainjepa.sources.ScaledSource`.

The parameter constraints that every robust scaler shares,
``_ROBUST_CONSTRAINTS``, are defined here too. Each subject scaled by its own
statistics, :class:`SubjectRobustScaler`, is in :mod:`._scaling`.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._scaling import _shown, robust_statistics, scale_rois
from sk_brainjepa._utils._validation import (
    LAYOUTS,
    apply_layout,
    check_quantile_range,
    n_rois_of,
    stack_if_equal,
)
from sk_brainjepa.preprocessing._base import (
    TimeSeriesOutputMixin,
    read_fitted,
    read_timeseries,
)

_STATISTICS = ("pooled", "subject_mean")

# The constraints every robust scaler shares. quantile_range is only checked
# to be a sequence here; its order and bounds need check_quantile_range.
_ROBUST_CONSTRAINTS = {
    "quantile_range": ["array-like"],
    "min_scale": [Interval(Real, 0, None, closed="left")],
    "layout": [StrOptions(set(LAYOUTS))],
}


class ROIRobustScaler(
    TimeSeriesOutputMixin, TimeSeriesEstimatorMixin, TransformerMixin, BaseEstimator
):
    """Scale each ROI by a median and an interquartile range learnt on training data.

    Brain-JEPA removes the large, site- and ROI-specific offsets of raw BOLD
    signal with robust scaling per ROI: ``x[r] <- (x[r] - median_r) / iqr_r``.
    The statistics are fitted once, on the training participants, and the same
    ones are applied to any new data, so no test information leaks into them.

    Read more in docs/user-guide.md, "Data formats and preprocessing".

    Parameters
    ----------
    statistics : {"pooled", "subject_mean"}, default="pooled"
        What the median and IQR of ROI ``r`` are computed over.

        - ``"pooled"`` (the paper): every time point of every training
          participant for that ROI.
        - ``"subject_mean"`` (the official code): the per-participant temporal
          mean of that ROI, i.e. the spread *between* participants. This
          removes the offsets but divides within-subject fluctuations by a
          between-subject spread (official repository file
          ``src/datasets/ukbiobank_scale.py``).
          ``official_scaling("pretrain")`` returns this scaler.
    quantile_range : tuple of float, default=(25.0, 75.0)
        Percentiles whose difference is the scale (25-75 gives the IQR).
    min_scale : float, default=1e-12
        A fitted scale at or below this value means a constant ROI; ``fit``
        then raises instead of dividing by zero.
    center_subjects : bool, default=False
        First subtract each subject's own temporal mean from each of its ROIs
        (in ``fit`` and ``transform``), so that the statistics, and the
        model, see the fluctuations rather than per-subject offsets. Raw BOLD
        carries offsets (scanner gain, coil distance) that differ between
        subjects far more than the fluctuations within a run; with pooled
        statistics they then set the scale and shrink the dynamics. Not in
        the paper; ``inverse_transform`` cannot restore the removed offsets.
        Requires ``statistics="pooled"``.
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How each subject's 2-D array is ordered, in the input and in the
        output: ``"time_x_rois"`` takes and returns (n_timepoints, n_rois)
        subjects, as nilearn maskers give them. The steps after it in a
        ``Pipeline`` need the same ``layout``: a pretrainer left at its
        default reads the output's frames as ROIs (its log and first shape
        error say how it read them).

    Attributes
    ----------
    center_ : ndarray of shape (n_rois,)
        Fitted per-ROI medians.
    scale_ : ndarray of shape (n_rois,)
        Fitted per-ROI interquartile ranges.
    n_rois_ : int
        Number of ROIs seen in ``fit``.
    n_features_in_ : int
        Same as ``n_rois_``: ROIs are the features of time-series input.

    See Also
    --------
    sklearn.preprocessing.RobustScaler : the tabular equivalent.
    SubjectRobustScaler : each subject scaled by its own statistics.
    official_scaling : the official code's scaler for each stage.
    SampleZScore : per-sample z-score, the official downstream scaling.
    ROIRobustScaler.to_window_transform : the fitted scaling, window by window.

    Examples
    --------
    >>> from sk_brainjepa import ROIRobustScaler, make_brain_dynamics
    >>> X, _ = make_brain_dynamics(n_subjects=4, n_rois=6, n_timepoints=40,
    ...                            random_state=0)
    >>> Xs = ROIRobustScaler().fit_transform(X)
    >>> Xs.shape, Xs.dtype
    ((4, 6, 40), dtype('float32'))
    """

    _parameter_constraints: dict = {
        "statistics": [StrOptions(set(_STATISTICS))],
        "center_subjects": ["boolean"],
        **_ROBUST_CONSTRAINTS,
    }

    def __init__(
        self,
        statistics="pooled",
        *,
        quantile_range=(25.0, 75.0),
        min_scale=1e-12,
        center_subjects=False,
        layout="rois_x_time",
    ):
        self.statistics = statistics
        self.quantile_range = quantile_range
        self.min_scale = min_scale
        self.center_subjects = center_subjects
        self.layout = layout

    def _check_params(self) -> tuple[float, float]:
        """The checks types cannot express; returns ``(q_min, q_max)``."""
        quantiles = check_quantile_range(self.quantile_range)
        if self.center_subjects and self.statistics != "pooled":
            raise ValueError(
                "center_subjects=True removes the subject means that "
                "statistics='subject_mean' is computed from; use statistics='pooled'."
            )
        return quantiles

    def _centered(self, X):
        """Subjects with their per-ROI temporal means removed, when asked for."""
        if not self.center_subjects:
            return X
        return [x - x.mean(axis=1, keepdims=True) for x in X]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn per-ROI medians and IQRs.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Training time series in ``layout``; a list may hold subjects of
            different lengths.
        y : None
            Ignored.

        Returns
        -------
        self : ROIRobustScaler
        """
        quantiles = self._check_params()
        X = self._centered(read_timeseries(X, self.layout))
        if self.statistics == "pooled":
            # (total frames, n_rois): every frame of every subject counts once.
            values = np.concatenate(list(X), axis=1).T
        else:
            # (n_subjects, n_rois). float64 means, as the official code's (its
            # CSVs load as float64): a float32 mean of a ROI near 8000 is only
            # good to ~1e-3, which the IQR of nearby means then carries.
            values = np.stack([x.mean(axis=1, dtype=np.float64) for x in X])
        center, scale = robust_statistics(values, quantiles)
        constant = np.flatnonzero(scale <= self.min_scale)
        if constant.size:
            raise ValueError(
                f"{constant.size} ROI(s) have a zero interquartile range "
                f"(statistics={self.statistics!r}), so they cannot be scaled: ROI "
                f"index {_shown(constant)}. Drop constant ROIs (e.g. empty parcels) "
                "first."
            )
        self.center_ = center
        self.scale_ = scale
        self.n_rois_ = n_rois_of(X)
        self.n_features_in_ = self.n_rois_
        return self

    def _apply(self, X, inverse: bool):
        check_is_fitted(self)
        X = read_fitted(self, X)
        out = []
        for x in X if inverse else self._centered(X):
            if inverse:
                center = self.center_.astype(x.dtype)[:, None]
                out.append(x * self.scale_.astype(x.dtype)[:, None] + center)
            else:
                out.append(scale_rois(x, self.center_, self.scale_))
        return apply_layout(stack_if_equal(out, X), self.layout)

    def transform(self, X):
        """Scale time series with the fitted statistics.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Time series in ``layout``.

        Returns
        -------
        X_scaled : ndarray of shape (n_subjects, n_rois, n_timepoints) or list
            Same container, dtype (float32 stays float32) and ``layout`` as
            the input.
        """
        return self._apply(X, inverse=False)

    def inverse_transform(self, X):
        """Undo the scaling.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Scaled time series in ``layout``.

        Returns
        -------
        X_original : ndarray of shape (n_subjects, n_rois, n_timepoints) or list
            Same container and ``layout`` as the input.
        """
        return self._apply(X, inverse=True)

    def to_window_transform(self):
        """The fitted scaling as a callable that scales one window as it is read.

        For :class:`~sk_brainjepa.sources.ScaledSource`: every window read from
        ``ScaledSource(source, scaler.to_window_transform())`` equals the same
        frames of ``scaler.transform(X)``, and the scaled cohort never sits in
        memory. The callable holds only ``center_`` and ``scale_`` (cast to
        float32, the dtype of windows), so it pickles small and runs in
        DataLoader workers; later changes to the scaler do not reach it.

        Returns
        -------
        transform : callable
            Maps a float32 array of shape (..., n_rois, n_timepoints), always
            ROIs first (sources read ``layout`` themselves), to the scaled
            array of the same shape. Its ``needs_full_run`` is
            ``center_subjects``: the subject mean removed is that of the whole
            run, so ``ScaledSource`` scales the run and then cuts the window.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the scaler is not fitted.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_brainjepa.preprocessing import ROIRobustScaler
        >>> from sk_brainjepa.sources import ScaledSource
        >>> X = np.random.default_rng(0).normal(5.0, 2.0, (3, 4, 50))
        >>> X = X.astype(np.float32)
        >>> scaler = ROIRobustScaler().fit(X)
        >>> scaled = ScaledSource(X, scaler.to_window_transform())
        >>> in_memory = scaler.transform(X)[1, :, 10:30]
        >>> bool(np.allclose(scaled.window(1, 10, 20), in_memory))
        True
        """
        check_is_fitted(self)
        return ROIScalerTransform(self)


# ------------------------------------------------------------ window transform
# What a fitted ROIRobustScaler's to_window_transform() returns. Not public
# (one public name per scaling, its estimator); the class name stays as it
# was because a training checkpoint records the scaling of its data by class
# name and attributes (estimators._resume.describe_scaling), so runs
# checkpointed with the former public class still resume. Imported by
# _scaling and _streaming too, its former homes, so that objects pickled
# before still load.


class ROIScalerTransform:
    """Apply a fitted :class:`~sk_brainjepa.ROIRobustScaler` to windows or batches.

    Made by :meth:`ROIRobustScaler.to_window_transform`. Holds only the
    scaler's per-ROI statistics, so it pickles small and can run in
    DataLoader workers: streaming users fit the scaler on a sample of
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
        before it is cropped (:class:`~sk_brainjepa.sources.ScaledSource`
        does so).
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
                f"{self!r} expects arrays of shape (..., {len(self.center)}, "
                f"n_timepoints), the ROIs the scaler was fitted on; got {x.shape}."
            )
        if self.needs_full_run:
            x = x - x.mean(axis=-1, keepdims=True)
        return (x - self.center) / self.scale

    def __repr__(self) -> str:
        # Named by the public spelling that makes it; its fitted statistics
        # cannot be written as parameters, hence the angle brackets.
        return (
            f"<ROIRobustScaler(center_subjects={self.needs_full_run})"
            f".to_window_transform(), n_rois={len(self.center)}>"
        )

    def to_estimator(self):
        """The fitted :class:`ROIRobustScaler` that computes the same numbers.

        What ``save_pretrained`` records for this transform (the folder
        stores estimators, not callables).

        Returns
        -------
        scaler : ROIRobustScaler
            Fitted, with this transform's statistics as float64 and
            ``center_subjects=needs_full_run``.
        """
        scaler = ROIRobustScaler(center_subjects=self.needs_full_run)
        scaler.center_ = self.center[:, 0].astype(np.float64)
        scaler.scale_ = self.scale[:, 0].astype(np.float64)
        scaler.n_rois_ = scaler.n_features_in_ = len(scaler.center_)
        return scaler
