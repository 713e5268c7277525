"""``GradientPositioner``: group gradients and subject gradients aligned to them."""

from __future__ import annotations

import logging
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from sk_brainjepa._utils._base import check_output_container, refuse_table_output
from sk_brainjepa._utils._validation import _check_finite, check_fc
from sk_brainjepa.gradients._alignment import procrustes_align
from sk_brainjepa.gradients._embedding import (
    check_gradient_params,
    gradients_unchecked,
)
from sk_brainjepa.gradients._kernels import KERNELS
from sk_brainjepa.preprocessing import fisher_z_mean

logger = logging.getLogger(__name__)


class GradientPositioner(TransformerMixin, BaseEstimator):
    """Connectivity gradients for Brain-JEPA's gradient positioning.

    ``fit`` averages functional connectivity (FC) over subjects and computes
    the group's diffusion-map gradients, the ROI coordinates Brain-JEPA feeds
    to its positional embedding (30 components in the official model).
    ``transform`` computes each subject's gradients the same way and rotates
    them onto the group's (orthogonal Procrustes), so that they are comparable
    across subjects.

    Parameters
    ----------
    n_components : int, default=30
        Number of gradients, smaller than the number of ROIs.
    kernel : {"normalized_angle", "cosine", "pearson", "precomputed"}, \
            default="normalized_angle"
        Affinity kernel (see :func:`compute_affinity`). With ``"precomputed"``
        the input matrices are used as affinities (non-negative).
    sparsity : float, default=0.9
        Fraction of each FC row set to 0 before the kernel, in ``[0, 1)``.
    alpha : float, default=0.5
        Anisotropic diffusion parameter in ``[0, 1]``.
    diffusion_time : float, default=0
        Diffusion time; 0 selects multiscale diffusion maps.
    random_state : int, RandomState instance or None, default=None
        Seeds the ARPACK start vector (used from 300 ROIs on); results agree
        to rounding for every seed.

    Attributes
    ----------
    gradients_ : ndarray of shape (n_rois, n_components)
        Group gradients, ordered by decreasing eigenvalue.
    lambdas_ : ndarray of shape (n_components,)
        Their scaled eigenvalues.
    n_rois_ : int
        Number of ROIs seen in ``fit``.
    n_features_in_ : int
        Same as ``n_rois_`` (columns of each FC matrix).

    See Also
    --------
    diffusion_gradients : The function that computes each set of gradients.
    procrustes_align : The alignment used by ``transform``.

    Notes
    -----
    The group matrix of several subjects is ``tanh(mean(arctanh(r)))`` (Fisher
    z averaging, correlations clipped to ``+-(1 - 1e-7)``), or the plain mean
    with ``kernel="precomputed"``; a single matrix is used as is. The group
    matrix is not stored, to keep fitted estimators small.

    Input is one FC matrix of shape (n_rois, n_rois), which makes this a
    "pairwise" estimator in scikit-learn's sense (``transform`` then returns
    (n_rois, n_components)), or a stack of shape (n_subjects, n_rois, n_rois).

    The official Brain-JEPA gradients (``gradient_mapping_450.csv``) were
    computed with BrainSpace at these defaults; this estimator reproduces
    BrainSpace's gradients to ``|r| >= 0.9999`` (see :func:`diffusion_gradients`).

    References
    ----------
    .. [1] Dong Z., Li R. et al. (2024). Brain-JEPA: Brain dynamics foundation
       model with gradient positioning and spatiotemporal masking. NeurIPS.
    .. [2] Vos de Wael R. et al. (2020). BrainSpace: a toolbox for the analysis
       of macroscale gradients in neuroimaging and connectomics datasets.
       Communications Biology, 3, 103.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.gradients import GradientPositioner
    >>> rng = np.random.default_rng(0)
    >>> fc = np.stack([np.corrcoef(rng.standard_normal((40, 150))) for _ in range(3)])
    >>> positioner = GradientPositioner(n_components=5, sparsity=0.75).fit(fc)
    >>> positioner.gradients_.shape
    (40, 5)
    >>> positioner.transform(fc).shape
    (3, 40, 5)
    """

    # Types and ranges; check_gradient_params then adds what depends on the
    # data (n_components < n_rois, sparsity keeping an entry per row) and
    # rejects booleans, which an Integral interval lets through.
    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "kernel": [StrOptions({*KERNELS, "precomputed"})],
        "sparsity": [Interval(Real, 0, 1, closed="left")],
        "alpha": [Interval(Real, 0, 1, closed="both")],
        "diffusion_time": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=30,
        kernel="normalized_angle",
        sparsity=0.9,
        alpha=0.5,
        diffusion_time=0,
        random_state=None,
    ):
        self.n_components = n_components
        self.kernel = kernel
        self.sparsity = sparsity
        self.alpha = alpha
        self.diffusion_time = diffusion_time
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A single (n_rois, n_rois) matrix is a square "pairwise" input.
        tags.input_tags.pairwise = True
        tags.input_tags.three_d_array = True
        return tags

    def _diffusion_params(self) -> dict:
        """The diffusion-map settings every step is given, by keyword."""
        return {
            "kernel": self.kernel,
            "sparsity": self.sparsity,
            "alpha": self.alpha,
            "diffusion_time": self.diffusion_time,
        }

    def _check_params(self, n_rois: int | None = None) -> None:
        check_gradient_params(
            n_components=self.n_components, n_rois=n_rois, **self._diffusion_params()
        )

    def _gradients(self, matrix: np.ndarray, n_components: int):
        # Input and parameters are validated once per call of fit/transform,
        # not once per subject.
        return gradients_unchecked(
            matrix.astype(np.float64, copy=False),
            n_components,
            random_state=self.random_state,
            **self._diffusion_params(),
        )

    def _validate(self, X, reset: bool) -> tuple[np.ndarray, bool]:
        """Validate FC input.

        Returns the (n_subjects, n_rois, n_rois) stack and whether ``X`` was a
        single 2-D matrix.
        """
        # check_array gives scikit-learn's messages for container problems
        # (sparse, complex, object, empty); the rest uses the project's wording.
        arr = check_array(
            X,
            ensure_2d=False,
            allow_nd=True,
            ensure_all_finite=False,
            dtype=[np.float64, np.float32],
        )
        if arr.ndim not in (2, 3):
            raise ValueError(
                "X must be a connectivity matrix of shape (n_rois, n_rois) or a stack "
                "of shape (n_subjects, n_rois, n_rois); got a "
                f"{arr.ndim}-D array of shape {arr.shape}. Reshape your data."
            )
        _check_finite(arr, "X")
        if not reset and arr.shape[-1] != self.n_rois_:
            # scikit-learn's wording (its check_n_features_in_after_fitting
            # matches it), in ROIs too. Not check_n_rois: its hint about the
            # time-series layout does not apply to square matrices. Input that
            # is not square is more likely time series than another ROI set.
            hint = (
                ""
                if arr.shape[-1] == arr.shape[-2]
                else f" X holds {arr.shape[-2]} x {arr.shape[-1]} matrices, not "
                "square ones: did you pass time series instead of FC? Use "
                "FunctionalConnectivity first."
            )
            raise ValueError(
                f"X has {arr.shape[-1]} features, but {type(self).__name__} is "
                f"expecting {self.n_rois_} features as input: X has {arr.shape[-1]} "
                f"ROIs (columns of each connectivity matrix) and it was fitted on "
                f"{self.n_rois_} ROIs.{hint}"
            )
        # Squareness before scikit-learn's count of axis 1, which would blame
        # the count for time series in the (n_timepoints, n_rois) layout.
        fc = check_fc(arr)
        # Bookkeeping only (n_features_in_, feature_names_in_): X is checked above.
        validate_data(self, X, reset=reset, skip_check_array=True)
        return fc, arr.ndim == 2

    def _fit(self, X) -> tuple[np.ndarray, bool]:
        """Fit the group gradients; return the validated FC stack and 2-D flag."""
        # Parameters first (the callers' _fit_context checked the types), so a
        # bad value is reported before any data problem.
        self._check_params()
        fc, single = self._validate(X, reset=True)
        n_subjects, n_rois = fc.shape[:2]
        self._check_params(n_rois)
        if n_subjects == 1:
            group = fc[0]
        elif self.kernel == "precomputed":
            # Affinities are not correlations: average them as they are.
            group = fc.mean(axis=0)
        else:
            group = fisher_z_mean(fc)
        logger.debug("Group gradients from %d subject(s), %d ROIs.", n_subjects, n_rois)
        self.gradients_, self.lambdas_ = self._gradients(group, self.n_components)
        self.n_rois_ = n_rois
        return fc, single

    def _align(self, fc: np.ndarray, single: bool, known=None) -> np.ndarray:
        """Gradients of each matrix in ``fc``, aligned to ``gradients_``.

        ``known`` are precomputed gradients of ``fc[0]`` (from ``fit_transform``).
        """
        n_components = self.gradients_.shape[1]
        aligned = np.empty((fc.shape[0], fc.shape[1], n_components), dtype=np.float64)
        for i, matrix in enumerate(fc):
            if known is None:
                gradients = self._gradients(matrix, n_components)[0]
            else:
                gradients = known
            aligned[i] = procrustes_align(gradients, self.gradients_)
        return aligned[0] if single else aligned

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the group gradients.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_rois) or (n_rois, n_rois)
            Functional connectivity (correlation) matrices: square, symmetric
            and finite. Several subjects are averaged in Fisher z space.
        y : None
            Ignored.

        Returns
        -------
        self : GradientPositioner
            The fitted estimator.
        """
        self._fit(X)
        return self

    def transform(self, X):
        """Per-subject gradients, Procrustes-aligned to the group gradients.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_rois) or (n_rois, n_rois)
            Connectivity matrices with the ROIs seen in ``fit``.

        Returns
        -------
        gradients : ndarray of shape (n_subjects, n_rois, n_components) or \
                (n_rois, n_components)
            Aligned gradients; 2-D when ``X`` is a single 2-D matrix.
        """
        check_is_fitted(self)
        self._check_params(self.n_rois_)
        fc, single = self._validate(X, reset=False)
        return self._align(fc, single)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then return the aligned gradients of ``X``.

        Equal to ``fit(X).transform(X)``; for a single matrix, its gradients
        are computed once instead of twice.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_rois) or (n_rois, n_rois)
            Functional connectivity matrices.
        y : None
            Ignored.

        Returns
        -------
        gradients : ndarray of shape (n_subjects, n_rois, n_components) or \
                (n_rois, n_components)
            Aligned gradients; 2-D when ``X`` is a single 2-D matrix.
        """
        fc, single = self._fit(X)
        # A single subject's gradients are the group gradients themselves.
        known = self.gradients_ if fc.shape[0] == 1 else None
        return self._align(fc, single, known=known)

    def set_output(self, *, transform=None):
        """Accept the array container; refuse a table, which gradients do not fit.

        Gradients are one (n_rois, n_components) array per subject: their rows
        are ROIs, not samples, and a cohort's are 3-D, so no table holds them.

        Parameters
        ----------
        transform : {"default", None}
            Keep the output as it is. "pandas" and "polars" raise.

        Returns
        -------
        self : GradientPositioner

        Raises
        ------
        ValueError
            For ``transform="pandas"`` or ``"polars"``, or an unknown container.
        """
        check_output_container(transform)
        refuse_table_output(
            self,
            transform,
            "gradients of shape (n_subjects, n_rois, n_components)",
            "in a Pipeline, set the output of the step that returns features "
            f"instead, e.g. pipe[-1].set_output(transform={transform!r}).",
        )
        return self
