"""Temporal alignment: bring runs to one TR and one length (paper section 3.1)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._random import numpy_generator
from sk_brainjepa._utils._validation import LAYOUTS, apply_layout
from sk_brainjepa.preprocessing._base import (
    FitROICountMixin,
    TimeSeriesOutputMixin,
    read_fitted,
    read_timeseries,
)

_METHODS = ("stride", "interpolate")
_CROPS = ("random", "center", "start")
_PADS = ("constant", "edge", "error")


def _sample_positions(
    n_frames: int, step: float, n_out: int | None, crop: str, rng: np.random.Generator
) -> np.ndarray:
    """Fractional frame positions ``s + k * step`` that fit inside ``n_frames``.

    Returns at most ``n_out`` positions (all that fit when ``n_out`` is None or
    the run is too short).
    """
    n_fit = int(np.floor((n_frames - 1) / step + 1e-9)) + 1
    if n_out is None or n_fit <= n_out:
        return np.arange(n_fit) * step
    slack = (n_frames - 1) - (n_out - 1) * step  # free span for the window start
    if crop == "random":
        start = rng.uniform(0.0, slack)
    elif crop == "center":
        start = slack / 2.0
    else:
        start = 0.0
    return start + np.arange(n_out) * step


class TemporalResampler(
    FitROICountMixin,
    TimeSeriesOutputMixin,
    TimeSeriesEstimatorMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Resample ROI time series to a common TR and crop or pad to a fixed length.

    Brain-JEPA feeds windows of 160 frames at an effective TR of about 2 s (UKB
    runs at TR 0.735 s are taken every third frame). This transformer does the
    same for any input TR: output frame ``k`` of a subject is read at input
    position ``s + k * target_tr / tr``, where the start ``s`` places the window
    at random (seeded), in the centre, or at the start of the run.

    Parameters
    ----------
    tr : float or None, default=None
        Repetition time of the input in seconds. None means the input is
        already at ``target_tr`` (no resampling, only cropping/padding).
    target_tr : float, default=2.0
        Repetition time of the output in seconds.
    method : {"stride", "interpolate"}, default="stride"
        ``"stride"`` keeps the input frame at or just before each output
        position (the paper's temporal down-sampling by stride);
        ``"interpolate"`` interpolates linearly between neighbouring frames.
    n_timepoints : int or None, default=160
        Output length. Longer runs are cropped, shorter ones padded (see
        ``pad``). None keeps every resampled frame (lengths may then differ and
        the output is a list).
    crop : {"random", "center", "start"}, default="center"
        Where the window sits in a longer run. ``"random"`` draws each
        subject's start from ``random_state``.
    pad : {"constant", "edge", "error"}, default="constant"
        What to do with runs shorter than ``n_timepoints`` after resampling:
        append zeros (the ROI median after :class:`ROIRobustScaler`), repeat the
        last frame, or raise a ``ValueError``.
    random_state : int, RandomState instance or None, default=None
        Seeds the random crop positions. With an int, every call of
        ``transform`` places the windows identically.
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How each subject's 2-D array is ordered, in the input and in the
        output; frames are resampled along the time axis either way.

    Attributes
    ----------
    n_rois_ : int
        Number of ROIs seen in ``fit``.
    n_features_in_ : int
        Same as ``n_rois_``.
    step_ : float
        Input frames per output frame, ``target_tr / tr``.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa import TemporalResampler
    >>> X = np.random.default_rng(0).normal(size=(2, 5, 490)).astype("float32")
    >>> TemporalResampler(tr=0.735, target_tr=2.205).fit_transform(X).shape
    (2, 5, 160)
    """

    _parameter_constraints: dict = {
        "tr": [Interval(Real, 0, None, closed="neither"), None],
        "target_tr": [Interval(Real, 0, None, closed="neither")],
        "method": [StrOptions(set(_METHODS))],
        "n_timepoints": [Interval(Integral, 1, None, closed="left"), None],
        "crop": [StrOptions(set(_CROPS))],
        "pad": [StrOptions(set(_PADS))],
        "random_state": ["random_state"],
        "layout": [StrOptions(set(LAYOUTS))],
    }

    def __init__(
        self,
        tr=None,
        target_tr=2.0,
        *,
        method="stride",
        n_timepoints=160,
        crop="center",
        pad="constant",
        random_state=None,
        layout="rois_x_time",
    ):
        self.tr = tr
        self.target_tr = target_tr
        self.method = method
        self.n_timepoints = n_timepoints
        self.crop = crop
        self.pad = pad
        self.random_state = random_state
        self.layout = layout

    def _fit_input(self, X):
        # The one thing fit learns besides the ROI count: a ratio of parameters.
        X = read_timeseries(X, self.layout)
        self.step_ = 1.0 if self.tr is None else float(self.target_tr) / float(self.tr)
        return X

    def _resample_one(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        positions = _sample_positions(
            x.shape[1], self.step_, self.n_timepoints, self.crop, rng
        )
        if self.method == "stride":
            # The small epsilon keeps exact integers (e.g. 3.0000000001) on their frame.
            out = x[:, np.floor(positions + 1e-9).astype(int)]
        else:
            left = np.floor(positions).astype(int)
            right = np.minimum(left + 1, x.shape[1] - 1)
            frac = (positions - left).astype(x.dtype)
            out = x[:, left] * (1 - frac) + x[:, right] * frac
        missing = 0 if self.n_timepoints is None else self.n_timepoints - out.shape[1]
        if missing > 0:
            if self.pad == "error":
                raise ValueError(
                    f"A run of {x.shape[1]} frames at TR {self.tr or self.target_tr} s "
                    f"gives {out.shape[1]} frames at TR {self.target_tr} s, fewer than "
                    f"n_timepoints={self.n_timepoints}. Lower n_timepoints or set "
                    "pad='constant' or pad='edge'."
                )
            mode = "constant" if self.pad == "constant" else "edge"
            out = np.pad(out, ((0, 0), (0, missing)), mode=mode)
        return out

    def transform(self, X):
        """Resample, then crop or pad each subject.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Time series in ``layout``.

        Returns
        -------
        X_out : ndarray of shape (n_subjects, n_rois, n_timepoints_out) or list
            A 3-D array whenever every subject ends with the same length
            (always the case when ``n_timepoints`` is set), else a list; in
            ``layout``.
        """
        check_is_fitted(self)
        X = read_fitted(self, X)
        rng = numpy_generator(self.random_state)
        out = [self._resample_one(x, rng) for x in X]
        if len({o.shape[1] for o in out}) == 1:
            out = np.stack(out)
        return apply_layout(out, self.layout)
