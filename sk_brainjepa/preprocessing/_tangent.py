"""Tangent-space connectivity: covariances whitened by a training group mean.

The tangent-space parametrisation (Varoquaux et al. 2010) maps each subject's
covariance matrix to the tangent space of the manifold of positive definite
matrices at the group's geometric mean. Connectome-based prediction studies
find it the strongest of the classical FC features (Dadi et al. 2019; Pervaiz
et al. 2020), so it is the baseline a foundation model should beat. The group
mean is a fitted statistic: fitting it on the training part only keeps the
test subjects out of it. The statistics come from nilearn.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._validation import LAYOUTS
from sk_brainjepa.preprocessing._base import (
    ConnectivityOutputMixin,
    check_fitted_rois,
    edge_names,
    read_timeseries,
    roi_names,
)
from sk_brainjepa.preprocessing._connectivity import sym_matrix_to_vec

_OUTPUTS = ("matrix", "vector")


def _import_connectivity_measure():
    try:
        from nilearn.connectome import ConnectivityMeasure
    except ImportError as exc:  # pragma: no cover - nilearn is in the test extra
        raise ImportError(
            "TangentConnectivity needs nilearn: pip install 'sk_brainjepa[nifti]'."
        ) from exc
    return ConnectivityMeasure


class TangentConnectivity(
    ConnectivityOutputMixin, TimeSeriesEstimatorMixin, TransformerMixin, BaseEstimator
):
    """Tangent-space functional connectivity (nilearn), fitted on training subjects.

    ``fit`` estimates each subject's covariance (Ledoit-Wolf shrinkage by
    default) and their geometric mean; ``transform`` whitens each subject's
    covariance by that mean and takes the matrix logarithm. Off-diagonal
    entries are deviations from the group in a space where a linear model
    is well behaved.

    Parameters
    ----------
    output : {"vector", "matrix"}, default="vector"
        The upper triangle without the diagonal, as a feature vector, or
        the symmetric matrices. Only vectors can be returned as a table
        (``set_output``).
    cov_estimator : sklearn covariance estimator or None, default=None
        None uses nilearn's default (``LedoitWolf(store_precision=False)``).
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How each subject's 2-D input array is ordered.

    Attributes
    ----------
    measure_ : nilearn.connectome.ConnectivityMeasure
        The fitted measure (``mean_``: the geometric mean covariance,
        ``whitening_``: its inverse square root).
    n_rois_, n_features_in_ : int

    Notes
    -----
    The ROI series are standardised per subject before the covariance, so
    the features do not depend on the scale of the signal.

    Examples
    --------
    >>> from sk_brainjepa import make_brain_dynamics
    >>> from sk_brainjepa.preprocessing import TangentConnectivity
    >>> X, _ = make_brain_dynamics(n_subjects=6, n_rois=5, n_timepoints=60,
    ...                            random_state=0)
    >>> TangentConnectivity().fit(X[:4]).transform(X[4:]).shape
    (2, 10)
    """

    _parameter_constraints: dict = {
        "output": [StrOptions(set(_OUTPUTS))],
        "cov_estimator": [None, HasMethods("fit")],
        "layout": [StrOptions(set(LAYOUTS))],
    }

    def __init__(self, *, output="vector", cov_estimator=None, layout="rois_x_time"):
        self.output = output
        self.cov_estimator = cov_estimator
        self.layout = layout

    def _as_nilearn(self, X) -> list[np.ndarray]:
        """Subjects as nilearn takes them: (n_timepoints, n_rois) float64 arrays."""
        return [np.asarray(x, dtype=np.float64).T for x in X]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the group mean covariance on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            At least two subjects (the mean of one is that subject).
        y : None
            Ignored.

        Returns
        -------
        self : TangentConnectivity
        """
        X = read_timeseries(X, self.layout, min_timepoints=3)
        if len(X) < 2:
            raise ValueError(
                f"TangentConnectivity needs at least 2 subjects to fit a group "
                f"mean; got {len(X)}."
            )
        ConnectivityMeasure = _import_connectivity_measure()
        measure = ConnectivityMeasure(
            cov_estimator=self.cov_estimator, kind="tangent", standardize=True
        )
        self.measure_ = measure.fit(self._as_nilearn(X))
        self.n_rois_ = self.n_features_in_ = int(X[0].shape[0])
        return self

    def transform(self, X):
        """Tangent-space connectivity of each subject.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays

        Returns
        -------
        features : ndarray of shape (n_subjects, n_edges) or \
                (n_subjects, n_rois, n_rois)
            ``n_edges = n_rois * (n_rois - 1) / 2`` for ``output="vector"``.
        """
        check_is_fitted(self)
        self._check_table_output()
        X = read_timeseries(X, self.layout, min_timepoints=3)
        check_fitted_rois(self, X)
        matrices = self.measure_.transform(self._as_nilearn(X))
        if self.output == "matrix":
            return np.asarray(matrices)
        return sym_matrix_to_vec(np.asarray(matrices))

    def get_feature_names_out(self, input_features=None):
        """Edge names ``tangent_{a}_{b}`` for ``output="vector"``.

        Parameters
        ----------
        input_features : array-like of str of shape (n_rois,) or None

        Returns
        -------
        feature_names_out : ndarray of object of shape (n_edges,)
        """
        check_is_fitted(self)
        if self.output != "vector":
            raise AttributeError("get_feature_names_out needs output='vector'.")
        edges = edge_names(roi_names(self, input_features))
        return np.asarray([f"tangent_{edge}" for edge in edges], dtype=object)
