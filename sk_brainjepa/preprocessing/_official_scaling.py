"""The input scaling of the official Brain-JEPA code.

- :class:`SampleZScore`: per-sample global z-score (the official downstream
  loader's ``use_normalization``).
- :func:`official_scaling`: the transformer the official code applies at each
  stage, under one name (:class:`SampleZScore`, or the
  :class:`~sk_brainjepa.preprocessing.ROIRobustScaler` of the pretraining
  loader).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._scaling import check_zscore_params, zscore_samples
from sk_brainjepa._utils._validation import LAYOUTS, apply_layout
from sk_brainjepa.preprocessing._base import (
    FitROICountMixin,
    PerSubjectWindowScaling,
    TimeSeriesOutputMixin,
    read_fitted,
)
from sk_brainjepa.preprocessing._roi_scaling import ROIRobustScaler


class SampleZScore(
    FitROICountMixin,
    PerSubjectWindowScaling,
    TimeSeriesOutputMixin,
    TimeSeriesEstimatorMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Z-score each sample over all its ROIs and frames: one mean, one std.

    ``x <- (x - mean(x)) / std(x)``, the mean and standard deviation taken over
    the whole ``(n_rois, n_timepoints)`` matrix of one sample. This is what the
    official Brain-JEPA downstream scripts feed the released checkpoint
    (``use_normalization`` in the official repository file
    ``src/datasets/hca_sex_datasets.py``); the paper describes robust scaling
    instead (official issue #3). Each sample is scaled by its own statistics, so
    nothing is learnt: ``fit`` only records the ROI count that ``transform``
    then checks.

    Each sample is scaled as given: pass whole runs and crop afterwards (e.g.
    with :class:`TemporalResampler`) to do what the official loader does, which
    z-scores the stored run and then crops it. For the same scaling applied
    window by window to a streamed cohort, see :meth:`to_window_transform`.

    Read more in docs/user-guide.md, "Data formats and preprocessing".

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
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How each subject's 2-D array is ordered, in the input and in the
        output. The statistics do not depend on it.

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
    SubjectRobustScaler : per-ROI robust scaling of each subject by itself.
    SampleZScore.to_window_transform : the same z-score, window by window.

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

    _parameter_constraints: dict = {
        "ddof": [Interval(Integral, 0, None, closed="left")],
        "min_std": [Interval(Real, 0, None, closed="left")],
        "layout": [StrOptions(set(LAYOUTS))],
    }

    def __init__(self, *, ddof=1, min_std=1e-12, layout="rois_x_time"):
        self.ddof = ddof
        self.min_std = min_std
        self.layout = layout

    def _fit_input(self, X):
        # The window transform's check too: it also rejects ddof=True,
        # which an Integral interval lets through.
        check_zscore_params(self.ddof, self.min_std)
        return super()._fit_input(X)

    def transform(self, X):
        """Z-score each sample by its own mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Time series in ``layout``.

        Returns
        -------
        X_scaled : ndarray of shape (n_subjects, n_rois, n_timepoints) or list
            Same container, dtype (float32 stays float32) and ``layout`` as
            the input; each sample has mean 0 and standard deviation 1 (with
            the ``ddof`` used).

        Raises
        ------
        ValueError
            If a sample is constant (standard deviation <= ``min_std``), with
            its index.
        """
        check_is_fitted(self)
        ddof, min_std = check_zscore_params(self.ddof, self.min_std)
        X = read_fitted(self, X)
        kwargs = {"ddof": ddof, "min_std": min_std}
        if isinstance(X, np.ndarray):
            # One vectorised call; a constant sample is reported by its index in X.
            out = zscore_samples(X, name="X", **kwargs)
        else:
            out = [zscore_samples(x, name=f"X[{i}]", **kwargs) for i, x in enumerate(X)]
        return apply_layout(out, self.layout)

    def to_window_transform(self, *, over="run"):
        """This z-score as a callable that scales one window as it is read.

        For :class:`~sk_brainjepa.sources.ScaledSource`: wrap a cohort in
        ``ScaledSource(source, SampleZScore().to_window_transform())`` and
        every window read from it comes out z-scored, without the scaled
        cohort in memory. Nothing is learnt, so the transformer need not be
        fitted. The callable pickles small, to run in DataLoader workers.

        Parameters
        ----------
        over : {"run", "window"}, default="run"
            Which frames the mean and std are taken over.

            - ``"run"`` (the official loader): the subject's whole run; the
              window is then cut from the scaled run (its ``needs_full_run``
              is True, so ``ScaledSource`` reads the run). A window then
              equals ``SampleZScore().fit_transform(X)[i][:, start:start + length]``.
            - ``"window"``: only the frames the model sees, so every window
              has mean 0 and std 1; reads only the window from disk. It
              equals ``SampleZScore().fit_transform(X[:, :, start:start + length])[i]``.

        Returns
        -------
        transform : callable
            Maps a float32 array of shape (n_rois, n_timepoints), always ROIs
            first (sources read ``layout`` themselves), or a batch of them of
            shape (B, n_rois, n_timepoints), to the z-scored array of the same
            shape, with this transformer's ``ddof`` and ``min_std``.

        Raises
        ------
        ValueError
            If ``over``, ``ddof`` or ``min_std`` is invalid.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_brainjepa.preprocessing import SampleZScore
        >>> from sk_brainjepa.sources import ScaledSource
        >>> X = np.random.default_rng(0).normal(8000.0, 50.0, (3, 4, 50))
        >>> transform = SampleZScore().to_window_transform(over="window")
        >>> w = ScaledSource(X, transform).window(0, 10, 20)
        >>> bool(abs(w.mean()) < 1e-5 and abs(w.std(ddof=1) - 1) < 1e-5)
        True
        """
        return SampleZScoring(ddof=self.ddof, min_std=self.min_std, over=over)


# ------------------------------------------------------------ window transforms
# What the scalers' to_window_transform() return. Not public (one public name
# per scaling, its estimator); the class names stay as they were because a
# training checkpoint records the scaling of its data by class name and
# attributes (estimators._resume.describe_scaling), so runs checkpointed with
# the former public classes still resume. Imported by _streaming too, their
# former home, so that objects pickled before still load.


class SampleZScoring(PerSubjectWindowScaling):
    """Z-score each subject over all its ROIs and frames, one window at a time.

    The window transform of :class:`~sk_brainjepa.preprocessing.SampleZScore`,
    made by its ``to_window_transform()`` (the same function computes both):
    one mean and one standard deviation per subject, taken over ROIs x time
    together, as the official Brain-JEPA downstream scripts scale what they
    feed the released checkpoint. Needs no fitting.

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
    >>> from sk_brainjepa.preprocessing import SampleZScore
    >>> from sk_brainjepa.sources import ScaledSource
    >>> X = np.random.default_rng(0).normal(8000.0, 50.0, (3, 4, 50))
    >>> scaled = ScaledSource(X, SampleZScore().to_window_transform(over="window"))
    >>> w = scaled.window(0, 10, 20)
    >>> bool(abs(w.mean()) < 1e-5 and abs(w.std(ddof=1) - 1) < 1e-5)
    True
    """

    def __init__(self, *, ddof=1, min_std=1e-12, over="run"):
        self._set_span(over)
        self.ddof, self.min_std = check_zscore_params(ddof, min_std)

    def _scale(self, x: np.ndarray) -> np.ndarray:
        return zscore_samples(x, ddof=self.ddof, min_std=self.min_std, name="x")

    def __repr__(self) -> str:
        return f"SampleZScore(ddof={self.ddof}).to_window_transform(over={self.over!r})"

    def _estimator(self):
        return SampleZScore(ddof=self.ddof, min_std=self.min_std)


_STAGES = ("pretrain", "downstream")


def official_scaling(stage):
    """The input scaling the official Brain-JEPA code applies at ``stage``.

    The official code scales differently at its two stages
    (docs/differences-from-official.md, "Input scaling"):

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
    ``official_scaling("pretrain").fit(X_train).to_window_transform()`` or
    ``official_scaling("downstream").to_window_transform()`` with
    :class:`~sk_brainjepa.sources.ScaledSource`.

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
