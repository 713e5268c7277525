"""Input scaling for Brain-JEPA.

- :class:`ROIRobustScaler`: per-ROI robust scaling (paper section 3.1; its
  ``subject_mean`` statistic is the official pretraining loader's).
- :class:`SampleZScore`: per-sample global z-score (the official downstream
  loader's ``use_normalization``).
- :func:`official_scaling`: the transformer the official code applies at each
  stage, under one name.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._scaling import check_zscore_params, zscore_samples
from sk_brainjepa._utils._validation import (
    check_n_rois,
    check_quantile_range,
    check_timeseries,
    n_rois_of,
    stack_if_equal,
)

_STATISTICS = ("pooled", "subject_mean")


class ROIRobustScaler(TimeSeriesEstimatorMixin, TransformerMixin, BaseEstimator):
    """Scale each ROI by a median and an interquartile range learnt on training data.

    Brain-JEPA removes the large, site- and ROI-specific offsets of raw BOLD
    signal with robust scaling per ROI: ``x[r] <- (x[r] - median_r) / iqr_r``.
    The statistics are fitted once, on the training participants, and the same
    ones are applied to any new data, so no test information leaks into them.

    Read more in the README, section "Preprocessing".

    Parameters
    ----------
    statistics : {"pooled", "subject_mean"}, default="pooled"
        What the median and IQR of ROI ``r`` are computed over.

        - ``"pooled"`` (the paper): every time point of every training
          participant for that ROI.
        - ``"subject_mean"`` (the official code): the per-participant temporal
          mean of that ROI, i.e. the spread *between* participants. This
          removes the offsets but divides within-subject fluctuations by a
          between-subject spread (reference-brainjepa.md section 2.2).
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
    official_scaling : the official code's scaler for each stage.
    SampleZScore : per-sample z-score, the official downstream scaling.

    Examples
    --------
    >>> from sk_brainjepa import ROIRobustScaler, make_brain_dynamics
    >>> X, _ = make_brain_dynamics(n_subjects=4, n_rois=6, n_timepoints=40,
    ...                            random_state=0)
    >>> Xs = ROIRobustScaler().fit_transform(X)
    >>> Xs.shape, Xs.dtype
    ((4, 6, 40), dtype('float32'))
    """

    def __init__(
        self,
        statistics="pooled",
        *,
        quantile_range=(25.0, 75.0),
        min_scale=1e-12,
        center_subjects=False,
    ):
        self.statistics = statistics
        self.quantile_range = quantile_range
        self.min_scale = min_scale
        self.center_subjects = center_subjects

    def _check_params(self):
        if self.statistics not in _STATISTICS:
            raise ValueError(
                f"statistics must be one of {_STATISTICS}; got {self.statistics!r}."
            )
        q_lo, q_hi = check_quantile_range(self.quantile_range)
        if not self.min_scale >= 0:
            raise ValueError(f"min_scale must be >= 0; got {self.min_scale!r}.")
        if not isinstance(self.center_subjects, (bool, np.bool_)):
            raise ValueError(
                f"center_subjects must be True or False; got {self.center_subjects!r}."
            )
        if self.center_subjects and self.statistics != "pooled":
            raise ValueError(
                "center_subjects=True removes the subject means that "
                "statistics='subject_mean' is computed from; use statistics='pooled'."
            )
        return q_lo, q_hi

    def _centered(self, X):
        """Subjects with their per-ROI temporal means removed, when asked for."""
        if not self.center_subjects:
            return X
        return [x - x.mean(axis=1, keepdims=True) for x in X]

    def fit(self, X, y=None):
        """Learn per-ROI medians and IQRs.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Training time series; a list may hold subjects of different lengths.
        y : None
            Ignored.

        Returns
        -------
        self : ROIRobustScaler
        """
        q_lo, q_hi = self._check_params()
        X = self._centered(check_timeseries(X))
        if self.statistics == "pooled":
            # (n_rois, total frames): every frame of every subject counts once.
            values = np.concatenate(list(X), axis=1).T
        else:
            # (n_subjects, n_rois). float64 means, as the official code's (its
            # CSVs load as float64): a float32 mean of a ROI near 8000 is only
            # good to ~1e-3, which the IQR of nearby means then carries.
            values = np.stack([x.mean(axis=1, dtype=np.float64) for x in X])
        center = np.median(values, axis=0)
        lo, hi = np.percentile(values, [q_lo, q_hi], axis=0)
        scale = hi - lo
        constant = np.flatnonzero(scale <= self.min_scale)
        if constant.size:
            shown = ", ".join(map(str, constant[:10])) + (
                ", ..." if constant.size > 10 else ""
            )
            raise ValueError(
                f"{constant.size} ROI(s) have a zero interquartile range "
                f"(statistics={self.statistics!r}), so they cannot be scaled: ROI "
                f"index {shown}. Drop constant ROIs (e.g. empty parcels) first."
            )
        self.center_ = center
        self.scale_ = scale
        self.n_rois_ = n_rois_of(X)
        self.n_features_in_ = self.n_rois_
        return self

    def _apply(self, X, inverse: bool):
        check_is_fitted(self)
        X = check_timeseries(X)
        check_n_rois(n_rois_of(X), self.n_rois_, type(self).__name__)
        out = []
        for x in X if inverse else self._centered(X):
            center = self.center_.astype(x.dtype)[:, None]
            scale = self.scale_.astype(x.dtype)[:, None]
            out.append(x * scale + center if inverse else (x - center) / scale)
        return stack_if_equal(out, X)

    def transform(self, X):
        """Scale time series with the fitted statistics.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays

        Returns
        -------
        X_scaled : ndarray of shape (n_subjects, n_rois, n_timepoints) or list
            Same container and dtype (float32 stays float32) as the input.
        """
        return self._apply(X, inverse=False)

    def inverse_transform(self, X):
        """Undo the scaling.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays

        Returns
        -------
        X_original : ndarray of shape (n_subjects, n_rois, n_timepoints) or list
        """
        return self._apply(X, inverse=True)


class SampleZScore(TimeSeriesEstimatorMixin, TransformerMixin, BaseEstimator):
    """Z-score each sample over all its ROIs and frames: one mean, one std.

    ``x <- (x - mean(x)) / std(x)``, the mean and standard deviation taken over
    the whole ``(n_rois, n_timepoints)`` matrix of one sample. This is what the
    official Brain-JEPA downstream scripts feed the released checkpoint
    (``use_normalization`` in ``hca_sex_datasets.py``, reference-brainjepa.md
    section 2.3); the paper describes robust scaling instead (official issue
    #3). Each sample is scaled by its own statistics, so nothing is learnt:
    ``fit`` only records the ROI count that ``transform`` then checks.

    Each sample is scaled as given: pass whole runs and crop afterwards (e.g.
    with :class:`TemporalResampler`) to do what the official loader does, which
    z-scores the stored run and then crops it. For the same scaling applied
    window by window to a streamed cohort, see
    :class:`~sk_brainjepa.datasets.SampleZScoring`.

    Read more in the README, section "Data formats and preprocessing".

    Parameters
    ----------
    ddof : int, default=1
        Delta degrees of freedom of the standard deviation. 1 (unbiased, torch's
        ``Tensor.std`` default) matches the official code; 0 gives the
        population standard deviation, so the output has a standard deviation
        of exactly 1.
    min_std : float, default=1e-12
        A sample whose standard deviation is at or below this is constant (an
        empty or failed scan). The official code would return NaN or inf for
        it; here ``transform`` raises a ValueError naming the sample instead.

    Attributes
    ----------
    n_rois_ : int
        Number of ROIs seen in ``fit``.
    n_features_in_ : int
        Same as ``n_rois_``: ROIs are the features of time-series input.

    See Also
    --------
    official_scaling : this transformer for ``stage="downstream"``.
    ROIRobustScaler : per-ROI robust scaling with statistics learnt on training data.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.preprocessing import SampleZScore
    >>> X = np.random.default_rng(0).normal(8000.0, 50.0, (3, 4, 20))
    >>> Xs = SampleZScore().fit_transform(X)
    >>> bool(np.allclose(Xs.mean(axis=(1, 2)), 0.0))
    True
    >>> bool(np.allclose(Xs.std(axis=(1, 2), ddof=1), 1.0))
    True
    """

    def __init__(self, *, ddof=1, min_std=1e-12):
        self.ddof = ddof
        self.min_std = min_std

    def fit(self, X, y=None):
        """Check the input and record its ROI count; there is nothing to learn.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Time series; a list may hold subjects of different lengths.
        y : None
            Ignored.

        Returns
        -------
        self : SampleZScore
        """
        check_zscore_params(self.ddof, self.min_std)
        X = check_timeseries(X)
        self.n_rois_ = n_rois_of(X)
        self.n_features_in_ = self.n_rois_
        return self

    def transform(self, X):
        """Z-score each sample by its own mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays

        Returns
        -------
        X_scaled : ndarray of shape (n_subjects, n_rois, n_timepoints) or list
            Same container and dtype (float32 stays float32) as the input; each
            sample has mean 0 and standard deviation 1 (with the ``ddof`` used).

        Raises
        ------
        ValueError
            If a sample is constant (standard deviation <= ``min_std``), with
            its index.
        """
        check_is_fitted(self)
        ddof, min_std = check_zscore_params(self.ddof, self.min_std)
        X = check_timeseries(X)
        check_n_rois(n_rois_of(X), self.n_rois_, type(self).__name__)
        kwargs = {"ddof": ddof, "min_std": min_std}
        if isinstance(X, np.ndarray):
            # One vectorised call; a constant sample is reported by its index in X.
            return zscore_samples(X, name="X", **kwargs)
        return [zscore_samples(x, name=f"X[{i}]", **kwargs) for i, x in enumerate(X)]


_STAGES = ("pretrain", "downstream")


def official_scaling(stage):
    """The input scaling the official Brain-JEPA code applies at ``stage``.

    The official code scales differently at its two stages
    (reference-brainjepa.md sections 2.2, 2.3 and 8, item 8):

    - ``"pretrain"`` (UK Biobank loader, ``ukbiobank_scale.py``): per-ROI
      robust scaling whose median and IQR are taken over the training
      subjects' temporal ROI means, i.e. ``ROIRobustScaler(
      statistics="subject_mean")``. Its UK Biobank statistics
      (``normalization_params_train.npz``) were not released, so fit it on
      your own training subjects.
    - ``"downstream"`` (HCP-Aging loader with ``--use_normalization``, as in
      the released fine-tuning and linear-probing scripts): per-sample global
      z-score, i.e. ``SampleZScore(ddof=1)``. This is what the released
      checkpoint was evaluated on; it needs no fitting on other subjects.

    Both official loaders scale the whole run and crop the 160-frame window
    afterwards, so put the returned transformer before
    :class:`TemporalResampler`. For streamed cohorts use
    ``ROIScalerTransform(official_scaling("pretrain").fit(X_train))`` or
    ``SampleZScoring()`` with :class:`~sk_brainjepa.datasets.ScaledSource`.

    Parameters
    ----------
    stage : {"pretrain", "downstream"}
        Which official loader to reproduce.

    Returns
    -------
    scaler : ROIRobustScaler or SampleZScore
        A new, unfitted transformer.

    Examples
    --------
    >>> from sk_brainjepa.preprocessing import official_scaling
    >>> official_scaling("pretrain")
    ROIRobustScaler(statistics='subject_mean')
    >>> official_scaling("downstream")
    SampleZScore()
    """
    if stage == "pretrain":
        return ROIRobustScaler(statistics="subject_mean")
    if stage == "downstream":
        return SampleZScore(ddof=1)
    raise ValueError(f"stage must be one of {_STAGES}; got {stage!r}.")
