"""Plumbing shared by the preprocessing transformers: layout, ROI checks, names.

Every transformer here takes ROI time series; the helpers below read them in
the transformer's ``layout``, check the ROI count against the one seen in
``fit`` (naming transposed data), and give the feature names that let a
``Pipeline`` of these steps report ``get_feature_names_out``.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from sk_brainjepa._utils._validation import (
    apply_layout,
    check_n_rois,
    check_timeseries,
    n_rois_of,
)

_OUTPUT_CONTAINERS = ("default", "pandas", "polars")


def read_timeseries(X, layout: str, **kwargs):
    """Validated time series, each subject as (n_rois, n_timepoints).

    Parameters
    ----------
    X : array-like of shape (n_subjects, A, B) or list of 2-D array-like
        Subjects in ``layout``.
    layout : {"rois_x_time", "time_x_rois"}
        How each subject's 2-D array is ordered.
    **kwargs
        Passed to :func:`~sk_brainjepa._utils._validation.check_timeseries`.

    Returns
    -------
    X_checked : ndarray of shape (n_subjects, n_rois, n_timepoints) or list of ndarray
    """
    return check_timeseries(apply_layout(X, layout), **kwargs)


def frame_counts(X) -> list[int]:
    """Frames of each subject of validated (n_rois, n_timepoints) time series."""
    if isinstance(X, np.ndarray):
        return [X.shape[2]] * X.shape[0]
    return [x.shape[1] for x in X]


def check_fitted_rois(estimator, X) -> None:
    """Raise when validated ``X`` has another ROI count than ``estimator.n_rois_``.

    The frame counts go along so that data given in the other layout (its
    frames then number the fitted ROIs) is named as transposed.
    """
    check_n_rois(
        n_rois_of(X),
        estimator.n_rois_,
        type(estimator).__name__,
        n_timepoints=frame_counts(X),
    )


def roi_names(estimator, input_features=None) -> np.ndarray:
    """Names of the ROIs of a fitted time-series estimator.

    ROIs are the features of time-series input (``n_features_in_ =
    n_rois_``), so ``input_features``, when given, names them; otherwise they
    are named by index, ``"0"`` to ``str(n_rois_ - 1)``. Index names (rather
    than scikit-learn's generated ``"x0"``) keep a feature name such as
    ``fc_0_1`` the same whether the feature step stands alone or follows a
    scaler in a ``Pipeline``.

    Parameters
    ----------
    estimator : fitted estimator with ``n_rois_`` and ``n_features_in_``
    input_features : array-like of str of shape (n_rois,) or None

    Returns
    -------
    names : ndarray of object of shape (n_rois,)

    Raises
    ------
    ValueError
        If ``input_features`` does not hold one name per ROI.
    """
    check_is_fitted(estimator, "n_rois_")
    names = _check_feature_names_in(estimator, input_features, generate_names=False)
    if names is None:
        return np.asarray([str(i) for i in range(estimator.n_rois_)], dtype=object)
    return np.asarray(names, dtype=object)


class TimeSeriesOutputMixin:
    """Feature names and ``set_output`` for transformers that return time series.

    Their output has the ROIs of their input, one 2-D array per subject, so
    ``get_feature_names_out`` returns the ROI names unchanged: a ``Pipeline``
    of a scaler and a feature step then reports the feature step's names.

    scikit-learn's output containers (pandas, polars) are 2-D tables and
    cannot hold 3-D or ragged time series, so these transformers never wrap
    their output (``auto_wrap_output_keys=None`` below, which also ignores a
    global ``transform_output="pandas"``) and ``set_output`` only validates
    its argument. ``Pipeline.set_output`` calls it on every step, so a
    pipeline that scales time series and ends with a feature step still gives
    a DataFrame of features.
    """

    def __init_subclass__(cls, **kwargs):
        # Every subclass, whatever its own class statement says, keeps its
        # output as is (see the class docstring).
        kwargs.setdefault("auto_wrap_output_keys", None)
        super().__init_subclass__(**kwargs)

    def get_feature_names_out(self, input_features=None):
        """ROI names of the output time series, the same as the input's.

        Parameters
        ----------
        input_features : array-like of str of shape (n_rois,) or None
            ROI names; None names ROIs by index (``"0"``, ``"1"``, ...).

        Returns
        -------
        feature_names_out : ndarray of object of shape (n_rois,)
        """
        return roi_names(self, input_features)

    def set_output(self, *, transform=None):
        """Accept an output configuration; time series stay arrays or lists.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None, default=None
            Validated, then ignored: no DataFrame holds 3-D time series.

        Returns
        -------
        self : estimator instance
        """
        if transform is not None and transform not in _OUTPUT_CONTAINERS:
            raise ValueError(
                f"transform must be one of {list(_OUTPUT_CONTAINERS)} or None; "
                f"got {transform!r}."
            )
        return self
