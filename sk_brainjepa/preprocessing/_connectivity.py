"""Functional connectivity: ROI time series to correlation matrices or vectors."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.covariance import ledoit_wolf
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._base import TimeSeriesEstimatorMixin
from sk_brainjepa._utils._docstrings import fill_doc
from sk_brainjepa._utils._validation import LAYOUTS
from sk_brainjepa.preprocessing._base import (
    ConnectivityOutputMixin,
    FitROICountMixin,
    edge_names,
    per_subject,
    read_fitted,
    read_timeseries,
    roi_names,
)

_KINDS = ("pearson", "partial")
_OUTPUTS = ("matrix", "vector")

#: The one clip of every Fisher z in the package: correlations are clipped to
#: +-FISHER_CLIP = +-(1 - 1e-7) before arctanh, so that perfectly correlated
#: ROI pairs give a large finite z (about 8.4) instead of inf. (The positioner
#: and the streaming group FC used to spell it as ``1 - 1e-7`` from a constant
#: 1e-7; the clipped values are the same floats.)
FISHER_CLIP = 1.0 - 1e-7


def fisher_z(r: np.ndarray) -> np.ndarray:
    """Fisher's z transform ``arctanh(r)``, clipped to stay finite at |r| = 1.

    The result has the dtype of ``r`` (float32 stays float32).
    """
    return np.arctanh(np.clip(r, -FISHER_CLIP, FISHER_CLIP))


def _check_correlations(r: np.ndarray) -> None:
    largest = float(np.max(np.abs(r)))
    if largest > 1 + 1e-6:
        raise ValueError(
            "Averaging several subjects uses the Fisher z transform, which needs "
            f"correlations in [-1, 1]; got |X| up to {largest:.3g}. Pass correlation "
            "matrices, or average the matrices yourself and fit on the result."
        )


def fisher_z_mean(matrices) -> np.ndarray:
    """Average correlation matrices in Fisher z space, one matrix at a time.

    Parameters
    ----------
    matrices : ndarray of shape (n_subjects, n_rois, n_rois) or iterable
        Correlation matrices, entries in ``[-1, 1]``; an iterable (e.g. a
        generator) of (n_rois, n_rois) arrays is consumed one matrix at a
        time, so the stack never sits in memory.

    Returns
    -------
    group_fc : ndarray of shape (n_rois, n_rois), float64
        ``tanh(mean(fisher_z(r)))`` off the diagonal, each ``fisher_z`` taken
        in the matrices' dtype and summed in float64; the diagonal is the
        plain mean of the subjects' diagonals (1 for correlation matrices),
        in their dtype.

    Raises
    ------
    ValueError
        If an entry is outside ``[-1, 1]`` (beyond 1e-6), or there is no matrix.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> bool(np.allclose(fisher_z_mean(np.stack([r, r])), r))
    True
    """
    stack = isinstance(matrices, np.ndarray)
    if stack:
        _check_correlations(matrices)  # the whole stack, in one message
    z_sum = diagonal_sum = None
    n = 0
    for r in matrices:
        if not stack:
            _check_correlations(r)
        if z_sum is None:
            z_sum = np.zeros(r.shape, dtype=np.float64)
            diagonal_sum = np.zeros(r.shape[0], dtype=r.dtype)
        z_sum += fisher_z(r)
        if not stack:
            diagonal_sum += np.diagonal(r)
        n += 1
    if n == 0:
        raise ValueError("fisher_z_mean needs at least one matrix; got none.")
    group = np.tanh(z_sum / n)
    if stack:
        diagonal = np.mean(np.diagonal(matrices, axis1=1, axis2=2), axis=0)
    else:
        diagonal = diagonal_sum / n
    np.fill_diagonal(group, diagonal)
    return group


def sym_matrix_to_vec(
    matrices: np.ndarray, *, discard_diagonal: bool = True
) -> np.ndarray:
    """Vectorise the upper triangle of symmetric matrices, row by row.

    Parameters
    ----------
    matrices : ndarray of shape (..., n_rois, n_rois)
    discard_diagonal : bool, default=True
        Leave the diagonal out (length ``n_rois * (n_rois - 1) / 2``).

    Returns
    -------
    vectors : ndarray of shape (..., n_edges)
    """
    n = matrices.shape[-1]
    rows, cols = np.triu_indices(n, k=1 if discard_diagonal else 0)
    return matrices[..., rows, cols]


def vec_to_sym_matrix(
    vectors: np.ndarray, *, diagonal: float | None = 1.0
) -> np.ndarray:
    """Inverse of :func:`sym_matrix_to_vec` for vectors without the diagonal.

    Parameters
    ----------
    vectors : ndarray of shape (..., n_rois * (n_rois - 1) / 2)
    diagonal : float, default=1.0
        Value written on the diagonal.

    Returns
    -------
    matrices : ndarray of shape (..., n_rois, n_rois)
    """
    n_edges = vectors.shape[-1]
    n = int(round((1 + np.sqrt(1 + 8 * n_edges)) / 2))
    if n * (n - 1) // 2 != n_edges:
        raise ValueError(
            f"A vector of {n_edges} edges is not the upper triangle of any square "
            "matrix (expected n*(n-1)/2 entries)."
        )
    out = np.zeros(vectors.shape[:-1] + (n, n), dtype=vectors.dtype)
    rows, cols = np.triu_indices(n, k=1)
    out[..., rows, cols] = vectors
    out[..., cols, rows] = vectors
    if diagonal is not None:
        out[..., np.arange(n), np.arange(n)] = diagonal
    return out


def _check_no_constant_roi(x: np.ndarray, index: int) -> None:
    std = x.std(axis=1)
    constant = np.flatnonzero(std <= 1e-12 * max(1.0, float(np.abs(x).max())))
    if constant.size:
        raise ValueError(
            f"Subject {index} has {constant.size} constant ROI(s) (index "
            f"{', '.join(map(str, constant[:10]))}), whose correlation is undefined."
        )


def _correlation(x: np.ndarray, index: int) -> np.ndarray:
    _check_no_constant_roi(x, index)
    return np.corrcoef(x)


def _partial_correlation(x: np.ndarray, index: int) -> np.ndarray:
    _check_no_constant_roi(x, index)
    # Ledoit-Wolf shrinkage keeps the covariance invertible when frames < ROIs.
    z = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    covariance, _ = ledoit_wolf(z.T.astype(np.float64))
    precision = np.linalg.inv(covariance)
    d = np.sqrt(np.diag(precision))
    partial = -precision / np.outer(d, d)
    np.fill_diagonal(partial, 1.0)
    return partial


def _has_vector_output(estimator) -> bool:
    """``get_feature_names_out`` exists only for ``output="vector"``.

    Matrix output is 3-D: no columns to name, and no DataFrame to hold it.
    Without the method, scikit-learn leaves it as an array under
    ``set_config(transform_output="pandas")``; ``set_output`` refuses a table
    (:class:`ConnectivityOutputMixin`).
    """
    if estimator.output != "vector":
        raise AttributeError(
            "Feature names exist only for output='vector'; matrix output is 3-D."
        )
    return True


@fill_doc
class FunctionalConnectivity(
    FitROICountMixin,
    ConnectivityOutputMixin,
    TimeSeriesEstimatorMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Compute functional connectivity (FC) for each subject.

    Parameters
    ----------
    kind : {"pearson", "partial"}, default="pearson"
        Pearson correlation between ROI series, or partial correlation from a
        Ledoit-Wolf shrunk covariance (well defined even with fewer frames than
        ROIs).
    fisher_z : bool, default=False
        Apply Fisher's ``arctanh``; the diagonal (infinite in z) is set to 0.
    output : {"matrix", "vector"}, default="matrix"
        Square matrices, or the upper triangle without the diagonal as a
        feature vector (for tabular estimators such as ``LogisticRegression``).
        Only vectors can be returned as a table (``set_output``).
    %(layout_output_free)s

    Attributes
    ----------
    n_rois_ : int
        Number of ROIs seen in ``fit``.
    n_features_in_ : int
        Same as ``n_rois_``.

    Examples
    --------
    >>> from sk_brainjepa import FunctionalConnectivity, make_brain_dynamics
    >>> X, _ = make_brain_dynamics(n_subjects=3, n_rois=5, n_timepoints=60,
    ...                            random_state=0)
    >>> FunctionalConnectivity().fit_transform(X).shape
    (3, 5, 5)
    >>> FunctionalConnectivity(output="vector").fit_transform(X).shape
    (3, 10)
    """

    _parameter_constraints: dict = {
        "kind": [StrOptions(set(_KINDS))],
        "fisher_z": ["boolean"],
        "output": [StrOptions(set(_OUTPUTS))],
        "layout": [StrOptions(set(LAYOUTS))],
    }

    def __init__(
        self, kind="pearson", *, fisher_z=False, output="matrix", layout="rois_x_time"
    ):
        self.kind = kind
        self.fisher_z = fisher_z
        self.output = output
        self.layout = layout

    def _fit_input(self, X):
        return read_timeseries(X, self.layout, min_timepoints=3)

    def _subject_fc(self, x: np.ndarray, index: int) -> np.ndarray:
        """One subject's float64 matrix (or vector) from its float64 series."""
        measure = _correlation if self.kind == "pearson" else _partial_correlation
        fc = measure(x, index)
        if self.fisher_z:
            fc = fisher_z(fc)
            np.fill_diagonal(fc, 0.0)
        if self.output == "vector":
            fc = sym_matrix_to_vec(fc)
        return fc

    def transform(self, X):
        """Compute one connectivity matrix (or vector) per subject.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Time series in ``layout``; subjects may differ in length.

        Returns
        -------
        fc : ndarray of shape (n_subjects, n_rois, n_rois) or (n_subjects, n_edges)
            ``n_edges = n_rois * (n_rois - 1) / 2`` for ``output="vector"``.
            The dtype follows the input (float32 stays float32).
        """
        check_is_fitted(self)
        self._check_table_output()
        X = read_fitted(self, X, min_timepoints=3)
        return per_subject(X, self._subject_fc)

    @available_if(_has_vector_output)
    def get_feature_names_out(self, input_features=None):
        """Edge names ``fc_{a}_{b}`` for ``output="vector"``, in output order.

        Parameters
        ----------
        input_features : array-like of str of shape (n_rois,) or None
            ROI names ``a``, ``b``; None names ROIs by index (``fc_0_1``).

        Returns
        -------
        feature_names_out : ndarray of object of shape (n_edges,)
        """
        check_is_fitted(self)
        edges = edge_names(roi_names(self, input_features))
        return np.asarray([f"fc_{edge}" for edge in edges], dtype=object)
