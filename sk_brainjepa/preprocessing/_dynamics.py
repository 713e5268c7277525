"""Hand-made dynamic features: what zero-lag functional connectivity misses."""

from __future__ import annotations

from functools import partial
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._docstrings import fill_doc
from sk_brainjepa._utils._validation import LAYOUTS
from sk_brainjepa.preprocessing._base import (
    FitROICountMixin,
    check_fitted_rois,
    edge_names,
    frame_counts,
    per_subject,
    read_timeseries,
    roi_names,
)
from sk_brainjepa.preprocessing._connectivity import (
    _check_no_constant_roi,
    sym_matrix_to_vec,
)

_KINDS = ("all", "lagged", "moments", "states")
# The order in which kind="all" concatenates the groups.
_GROUPS = ("lagged", "moments", "states")
# The lag-1 autocorrelation of a windowed-FC trajectory needs three windows.
_MIN_WINDOWS = 3


def _zscore(x: np.ndarray) -> np.ndarray:
    """Each ROI series of one subject to zero mean and unit SD.

    Parameters
    ----------
    x : ndarray of shape (n_rois, n_timepoints)

    Returns
    -------
    z : ndarray of shape (n_rois, n_timepoints)
    """
    x = x - x.mean(axis=1, keepdims=True)
    return x / x.std(axis=1, keepdims=True)


def _lagged_asymmetry(z: np.ndarray, lags: tuple[int, ...]) -> np.ndarray:
    """Upper triangle of ``C(L) - C(L).T`` for each lag ``L``.

    ``C(L)[i, j]`` is the covariance of ``z_i(t)`` and ``z_j(t + L)``, so a
    positive entry means ROI ``i`` leads ROI ``j``. A time-reversible process
    (any process without directed coupling) has ``C(L) = C(L).T``.

    Parameters
    ----------
    z : ndarray of shape (n_rois, n_timepoints)
        Z-scored series.

    Returns
    -------
    features : ndarray of shape (len(lags) * n_rois * (n_rois - 1) / 2,)
    """
    out = []
    for lag in lags:
        c = z[:, :-lag] @ z[:, lag:].T / (z.shape[1] - lag)
        out.append(sym_matrix_to_vec(c - c.T))
    return np.concatenate(out)


def _moments(z: np.ndarray) -> np.ndarray:
    """Per-ROI skewness, excess kurtosis and two co-skewness summaries.

    The co-skewness ``M[i, j] = E[z_i**2 z_j]`` has ``n_rois**2`` entries; it
    is summarised per ROI by the mean over the other ROIs of its row (do
    others move up when ``i`` makes large excursions?) and of its column
    (does ``i`` move up when others make large excursions?).

    Parameters
    ----------
    z : ndarray of shape (n_rois, n_timepoints)
        Z-scored series.

    Returns
    -------
    features : ndarray of shape (4 * n_rois,)
        Skewness, kurtosis, row co-skewness, column co-skewness, each per ROI.
    """
    n_rois, n_timepoints = z.shape
    skew = np.mean(z**3, axis=1)
    kurt = np.mean(z**4, axis=1) - 3.0
    coskew = (z**2) @ z.T / n_timepoints
    np.fill_diagonal(coskew, 0.0)
    others = max(n_rois - 1, 1)
    return np.concatenate(
        [skew, kurt, coskew.sum(axis=1) / others, coskew.sum(axis=0) / others]
    )


def _windowed_fc(z: np.ndarray, window: int, step: int) -> np.ndarray:
    """Pearson FC in sliding windows, as edge vectors.

    Parameters
    ----------
    z : ndarray of shape (n_rois, n_timepoints)

    Returns
    -------
    fc : ndarray of shape (n_windows, n_rois * (n_rois - 1) / 2)
        A window in which a ROI is constant gives that ROI's edges 0.
    """
    windows = np.lib.stride_tricks.sliding_window_view(z, window, axis=1)[:, ::step]
    w = windows - windows.mean(axis=2, keepdims=True)  # (n_rois, n_windows, window)
    sd = np.sqrt(np.mean(w**2, axis=2, keepdims=True))
    w = np.where(sd > 0, w / np.where(sd > 0, sd, 1.0), 0.0)
    fc = np.einsum("iwt,jwt->wij", w, w) / window
    return sym_matrix_to_vec(fc)


def _state_statistics(z: np.ndarray, window: int, step: int) -> np.ndarray:
    """Variance over windows and lag-1 autocorrelation of each windowed-FC edge.

    Both grow with the time the network stays in one connectivity state: long
    dwell times let window correlations swing far and stay there, short ones
    average the states out inside each window.

    Parameters
    ----------
    z : ndarray of shape (n_rois, n_timepoints)

    Returns
    -------
    features : ndarray of shape (n_rois * (n_rois - 1),)
        Variances of all edges, then their autocorrelations.
    """
    fc = _windowed_fc(z, window, step)
    centred = fc - fc.mean(axis=0)
    var = np.mean(centred**2, axis=0)
    lagged = np.mean(centred[1:] * centred[:-1], axis=0)
    # An edge that never changes has no defined autocorrelation; call it 0.
    ac1 = np.where(var > 0, lagged / np.where(var > 0, var, 1.0), 0.0)
    return np.concatenate([var, ac1])


@fill_doc
class DynamicFeatures(
    FitROICountMixin, TimeSeriesEstimatorMixin, TransformerMixin, BaseEstimator
):
    """Hand-made features of ROI dynamics that zero-lag FC does not see.

    A reference feature extractor for phenotypes carried by directed lags,
    non-Gaussian activity or connectivity states (see
    :func:`~sk_brainjepa.datasets.make_brain_dynamics`). Every subject is
    z-scored per ROI first, so ROI means and variances never enter.

    Parameters
    ----------
    kind : {"all", "lagged", "moments", "states"}, default="all"
        Which features to compute (``"all"`` concatenates the three groups in
        that order):

        - ``"lagged"``: lagged cross-covariance asymmetry, the upper triangle
          of ``C(L) - C(L).T`` for each lag, where
          ``C(L)[i, j] = cov(z_i(t), z_j(t + L))`` (positive: ``i`` leads);
        - ``"moments"``: per ROI, skewness ``E[z**3]``, excess kurtosis
          ``E[z**4] - 3`` and the mean co-skewness ``E[z_i**2 z_j]`` over the
          other ROIs ``j``, by row and by column (``4 * n_rois`` features);
        - ``"states"``: Pearson FC in sliding windows; per edge, its variance
          over windows and the lag-1 autocorrelation of its trajectory (both
          grow with the time spent in one connectivity state).
    lags : tuple of int, default=(1, 2, 3)
        Lags, in frames, for ``"lagged"``.
    window : int, default=20
        Length of the sliding windows, in frames, for ``"states"`` (40 s at a
        TR of 2 s). It should be shorter than the dwell times to be told
        apart and long enough for a stable correlation.
    step : int or None, default=None
        Frames between window starts; None uses ``max(1, window // 4)``.
        Series must hold at least ``window + 2 * step`` frames (three
        windows).
    %(layout_output_free)s

    Attributes
    ----------
    n_rois_ : int
        Number of ROIs seen in ``fit``.
    n_features_in_ : int
        Same as ``n_rois_``.

    See Also
    --------
    FunctionalConnectivity : the zero-lag (static) counterpart.

    Examples
    --------
    >>> from sk_brainjepa import make_brain_dynamics
    >>> from sk_brainjepa.preprocessing import DynamicFeatures
    >>> X, _ = make_brain_dynamics(n_subjects=3, n_rois=5, n_timepoints=80,
    ...                            random_state=0)
    >>> DynamicFeatures(kind="lagged").fit_transform(X).shape
    (3, 30)
    >>> DynamicFeatures().fit_transform(X).shape
    (3, 70)
    """

    # lags is a sequence (or one int); its entries are checked in _check_params.
    _parameter_constraints: dict = {
        "kind": [StrOptions(set(_KINDS))],
        "lags": ["array-like", Interval(Integral, 1, None, closed="left")],
        "window": [Interval(Integral, 3, None, closed="left")],
        "step": [Interval(Integral, 1, None, closed="left"), None],
        "layout": [StrOptions(set(LAYOUTS))],
    }

    def __init__(
        self, kind="all", *, lags=(1, 2, 3), window=20, step=None, layout="rois_x_time"
    ):
        self.kind = kind
        self.lags = lags
        self.window = window
        self.step = step
        self.layout = layout

    def _check_params(self) -> tuple[tuple[int, ...], int, int]:
        """Validated ``(lags, window, step)``.

        ``fit`` has checked the types (``_parameter_constraints``); this
        checks what they cannot express (each lag), and runs again in
        ``transform`` and ``get_feature_names_out`` to derive the values.
        """
        lags = self.lags
        if isinstance(lags, Integral) and not isinstance(lags, bool):
            lags = (lags,)
        try:
            lags = tuple(lags)
        except TypeError:
            lags = ()
        if not lags or not all(_is_positive_int(lag) for lag in lags):
            raise ValueError(
                "lags must be a non-empty sequence of positive integers (frames); "
                f"got {self.lags!r}."
            )
        if len(set(lags)) != len(lags):
            raise ValueError(f"lags must not repeat a lag; got {self.lags!r}.")
        if not _is_positive_int(self.window) or self.window < 3:
            raise ValueError(
                f"window must be an integer of at least 3 frames; got {self.window!r}."
            )
        step = max(1, self.window // 4) if self.step is None else self.step
        if not _is_positive_int(step):
            raise ValueError(
                f"step must be a positive integer or None; got {self.step!r}."
            )
        return tuple(int(lag) for lag in lags), int(self.window), int(step)

    def _groups(self) -> tuple[str, ...]:
        return _GROUPS if self.kind == "all" else (self.kind,)

    def _min_timepoints(self, lags: tuple[int, ...], window: int, step: int) -> int:
        """Fewest frames for which every requested feature is defined."""
        need = 3  # skewness and kurtosis of fewer frames are meaningless
        groups = self._groups()
        if "lagged" in groups:
            need = max(need, max(lags) + 2)
        if "states" in groups:
            need = max(need, window + (_MIN_WINDOWS - 1) * step)
        return need

    def _check_X(self, X, *, fitted: bool = False):
        """Validated ``(X, lags, window, step)``; ``fitted`` adds the ROI check."""
        lags, window, step = self._check_params()
        X = read_timeseries(X, self.layout)
        if fitted:
            # Before the frame count: transposed data usually has too few
            # frames, and this check names it as transposed.
            check_fitted_rois(self, X)
        need = self._min_timepoints(lags, window, step)
        shortest = min(frame_counts(X))
        if shortest < need:
            raise ValueError(
                f"X has {shortest} time points in its shortest subject; at least "
                f"{need} are needed (kind={self.kind!r}, lags={lags}, "
                f"window={window}, step={step}: lagged features need max(lags) + 2 "
                f"frames, states features window + {_MIN_WINDOWS - 1} * step)."
            )
        return X, lags, window, step

    def _fit_input(self, X):
        return self._check_X(X)[0]

    def _subject_features(
        self, x: np.ndarray, index: int, lags: tuple[int, ...], window: int, step: int
    ) -> np.ndarray:
        """All requested features of one subject's (n_rois, n_timepoints) series."""
        _check_no_constant_roi(x, index)
        z = _zscore(x)
        makers = {
            "lagged": lambda: _lagged_asymmetry(z, lags),
            "moments": lambda: _moments(z),
            "states": lambda: _state_statistics(z, window, step),
        }
        return np.concatenate([makers[group]() for group in self._groups()])

    def transform(self, X):
        """Compute the dynamic features of each subject.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Time series in ``layout``; subjects may differ in length.

        Returns
        -------
        features : ndarray of shape (n_subjects, n_features)
            With ``n_edges = n_rois * (n_rois - 1) / 2``: ``len(lags) * n_edges``
            for ``"lagged"``, ``4 * n_rois`` for ``"moments"``, ``2 * n_edges``
            for ``"states"`` and their sum for ``"all"``. The dtype follows
            the input (float32 stays float32).
        """
        check_is_fitted(self)
        X, lags, window, step = self._check_X(X, fitted=True)
        features = partial(self._subject_features, lags=lags, window=window, step=step)
        return per_subject(X, features)

    def get_feature_names_out(self, input_features=None):
        """Feature names, in output order.

        ``lagasym_L_i_j`` (lag ``L``, edge ``i``-``j``), ``skew_i``, ``kurt_i``,
        ``coskew_row_i``, ``coskew_col_i``, ``wfc_var_i_j`` and ``wfc_ac1_i_j``.

        Parameters
        ----------
        input_features : array-like of str of shape (n_rois,) or None
            ROI names ``i``, ``j``; None names ROIs by index (``skew_0``).

        Returns
        -------
        feature_names_out : ndarray of object of shape (n_features,)
        """
        check_is_fitted(self)
        lags, _, _ = self._check_params()
        rois = roi_names(self, input_features)
        edges = edge_names(rois)
        groups = {
            "lagged": [f"lagasym_{lag}_{e}" for lag in lags for e in edges],
            "moments": [
                f"{stat}_{r}"
                for stat in ("skew", "kurt", "coskew_row", "coskew_col")
                for r in rois
            ],
            "states": [f"wfc_{stat}_{e}" for stat in ("var", "ac1") for e in edges],
        }
        names = [name for group in self._groups() for name in groups[group]]
        return np.asarray(names, dtype=object)


def _is_positive_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1
