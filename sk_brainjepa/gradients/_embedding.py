"""Diffusion-map embedding of an affinity matrix (connectivity gradients)."""

from __future__ import annotations

import logging
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.linalg import eigh
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh

from sk_brainjepa._utils._random import numpy_generator
from sk_brainjepa._utils._validation import check_fc
from sk_brainjepa.gradients._kernels import KERNELS, affinity_unchecked, check_sparsity

logger = logging.getLogger(__name__)

SOLVERS = ("auto", "dense", "arpack")

#: From this many ROIs on, ``solver="auto"`` uses ARPACK (Lanczos); below it,
#: LAPACK's dense ``eigh`` is as fast and has no start vector.
ARPACK_MIN_ROIS = 300


def check_gradient_params(
    *,
    n_components,
    kernel,
    sparsity,
    alpha,
    diffusion_time,
    n_rois: int | None = None,
) -> None:
    """Validate the parameters shared by ``diffusion_gradients`` and the estimator.

    Parameters
    ----------
    n_components, kernel, sparsity, alpha, diffusion_time
        See :func:`diffusion_gradients`.
    n_rois : int, default=None
        When given, also check the data-dependent bounds (``n_components <
        n_rois`` and that ``sparsity`` keeps at least one entry per row).

    Raises
    ------
    ValueError
        Naming the parameter, the value received and what is allowed.
    """
    if isinstance(n_components, bool) or not isinstance(n_components, Integral):
        raise ValueError(
            f"n_components must be a positive int; got {n_components!r} of type "
            f"{type(n_components).__name__}."
        )
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1; got n_components={n_components}.")
    if not isinstance(kernel, str) or kernel not in (*KERNELS, "precomputed"):
        raise ValueError(
            f"kernel must be one of {sorted((*KERNELS, 'precomputed'))}; got "
            f"kernel={kernel!r}."
        )
    check_sparsity(sparsity)
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a float in [0, 1]; got alpha={alpha!r}.")
    if (
        isinstance(diffusion_time, bool)
        or not isinstance(diffusion_time, Real)
        or not 0 <= diffusion_time < np.inf
    ):
        raise ValueError(
            "diffusion_time must be a finite float >= 0 (0 selects multiscale "
            f"diffusion maps); got diffusion_time={diffusion_time!r}."
        )
    if n_rois is None:
        return
    if n_components >= n_rois:
        raise ValueError(
            f"n_components must be smaller than the number of ROIs; got "
            f"n_components={n_components} for {n_rois} ROIs (n_samples={n_rois} "
            "when one (n_rois, n_rois) matrix is seen as 2-D data). At most "
            f"{n_rois - 1} non-trivial gradients exist."
        )
    if kernel != "precomputed":
        check_sparsity(sparsity, n_rois)


def _check_affinity(affinity: np.ndarray) -> np.ndarray:
    """Check that a precomputed affinity is non-negative; return it symmetrized."""
    if affinity.min() < 0:
        raise ValueError(
            "With kernel='precomputed' the input must be a non-negative affinity "
            f"matrix; its smallest entry is {affinity.min():.3g}. Pass connectivity "
            "with a kernel (e.g. kernel='normalized_angle') instead."
        )
    # eigh reads a single triangle; make both equal so the result is well defined.
    return (affinity + affinity.T) / 2


def _warn_if_disconnected(affinity: np.ndarray) -> None:
    n_parts, labels = connected_components(affinity > 0, directed=False)
    if n_parts > 1:
        sizes = np.bincount(labels)
        warnings.warn(
            f"The affinity graph has {n_parts} disconnected components (sizes "
            f"{sorted(sizes.tolist(), reverse=True)[:10]}). The eigenvalue 1 is then "
            "repeated and the leading gradients only label the components; check "
            "for isolated ROIs or lower sparsity.",
            UserWarning,
            # Points at the caller of diffusion_gradients.
            stacklevel=4,
        )


def _top_eigenpairs(
    sym: np.ndarray, n_pairs: int, solver: str, random_state
) -> tuple[np.ndarray, np.ndarray]:
    """Largest (algebraic) eigenpairs of a symmetric matrix, in descending order."""
    n = sym.shape[0]
    if solver == "auto":
        solver = "arpack" if n >= ARPACK_MIN_ROIS and n_pairs < n // 2 else "dense"
    if solver == "arpack" and n_pairs < n - 1:
        # A seeded start vector makes the Lanczos iteration reproducible.
        v0 = numpy_generator(random_state).uniform(-1.0, 1.0, size=n)
        values, vectors = eigsh(sym, k=n_pairs, which="LA", tol=0, v0=v0)
    else:
        # ARPACK cannot return n - 1 or more pairs; LAPACK can.
        values, vectors = eigh(sym, subset_by_index=[n - n_pairs, n - 1])
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def _canonical_sign(vectors: np.ndarray) -> np.ndarray:
    """Flip each column so that its largest-magnitude entry is positive."""
    rows = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[rows, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return vectors * signs


def diffusion_gradients(
    affinity_or_fc,
    n_components: int = 30,
    *,
    kernel: str = "normalized_angle",
    sparsity: float = 0.9,
    alpha: float = 0.5,
    diffusion_time: float = 0,
    random_state=None,
    solver: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Connectivity gradients of one matrix by diffusion-map embedding.

    Reproduces BrainSpace's ``GradientMaps(approach="dm")`` with an exact,
    symmetric eigendecomposition.

    Parameters
    ----------
    affinity_or_fc : array-like of shape (n_rois, n_rois)
        Square, symmetric, finite matrix: connectivity (for a similarity
        ``kernel``) or a non-negative affinity (``kernel="precomputed"``).
    n_components : int, default=30
        Number of gradients, ``1 <= n_components < n_rois``. Brain-JEPA uses 30.
    kernel : {"normalized_angle", "cosine", "pearson", "precomputed"}, \
            default="normalized_angle"
        How to turn connectivity into affinity (see :func:`compute_affinity`).
        ``"precomputed"`` uses the input as the affinity and ignores
        ``sparsity``.
    sparsity : float, default=0.9
        Fraction of each connectivity row set to 0 before the kernel, in
        ``[0, 1)``.
    alpha : float, default=0.5
        Anisotropic diffusion parameter in ``[0, 1]``: 0 is the classical
        normalised graph Laplacian, 0.5 Fokker-Planck diffusion, 1 removes the
        influence of the sampling density (Laplace-Beltrami).
    diffusion_time : float, default=0
        Diffusion time ``t >= 0``. 0 gives multiscale diffusion maps
        (eigenvalues ``mu / (1 - mu)``), otherwise eigenvalues are ``mu ** t``.
    random_state : int, RandomState instance or None, default=None
        Seeds the start vector of the ARPACK solver; unused by the dense
        solver. The result is the same up to rounding for every seed.
    solver : {"auto", "dense", "arpack"}, default="auto"
        Eigensolver: LAPACK's ``eigh`` restricted to the needed eigenpairs,
        or ARPACK's Lanczos ``eigsh`` (faster from a few hundred ROIs on).
        ``"auto"`` picks ARPACK from 300 ROIs on. Both are exact to machine
        precision, because they are applied to a symmetric matrix.

    Returns
    -------
    gradients : ndarray of shape (n_rois, n_components)
        Gradients ordered by decreasing eigenvalue, each column scaled by its
        lambda and signed so that its largest-magnitude entry is positive.
    lambdas : ndarray of shape (n_components,)
        Scaled eigenvalues (``mu / (1 - mu)`` or ``mu ** t``), in the order of
        the eigenvalues ``mu`` (descending whenever ``mu > 0``, as for FC).

    Raises
    ------
    ValueError
        On invalid parameters, ``n_components >= n_rois``, non-square,
        asymmetric or non-finite input, or a negative precomputed affinity.

    Warns
    -----
    UserWarning
        When the affinity graph is disconnected.

    See Also
    --------
    compute_affinity : The kernel step on its own.
    GradientPositioner : Estimator for group gradients and aligned per-subject
        gradients.

    Notes
    -----
    Steps, for an affinity ``A`` with degrees ``d = A.sum(1)``:

    1. ``W = A / (d_i**alpha * d_j**alpha)`` (anisotropic normalisation);
    2. the random walk ``P = D_W^-1 W`` shares its eigenvalues ``mu`` with the
       symmetric ``S = D_W^-1/2 W D_W^-1/2``, whose eigenvectors ``u`` give
       ``P``'s right eigenvectors ``psi = D_W^-1/2 u``;
    3. the top ``n_components + 1`` pairs are computed; the first (``mu = 1``,
       ``psi`` constant) is dropped after every ``psi`` is divided by it, which
       scales the gradients to unit norm under the stationary distribution
       ``d_W / sum(d_W)`` (Coifman & Lafon's convention);
    4. gradients are ``psi * lambdas``.

    BrainSpace hands the non-symmetric ``P`` to the symmetric solver ``eigsh``,
    which makes its eigenvalues inexact by up to about 1e-4 and its gradients
    by about 1 %. On its Schaefer-400 HCP group matrix the two agree to
    ``|r| >= 0.9999`` per gradient.

    The eigenpairs are the algebraically largest, not the largest in magnitude:
    a negative eigenvalue describes oscillation, not diffusion.

    References
    ----------
    .. [1] Coifman R.R. & Lafon S. (2006). Diffusion maps. Applied and
       Computational Harmonic Analysis, 21(1), 5-30.
    .. [2] Margulies D.S. et al. (2016). Situating the default-mode network
       along a principal gradient of macroscale cortical organization. PNAS,
       113(44), 12574-12579.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.gradients import diffusion_gradients
    >>> rng = np.random.default_rng(0)
    >>> fc = np.corrcoef(rng.standard_normal((50, 200)))
    >>> gradients, lambdas = diffusion_gradients(fc, n_components=3, sparsity=0.8)
    >>> gradients.shape, lambdas.shape
    ((50, 3), (3,))
    """
    if not isinstance(solver, str) or solver not in SOLVERS:
        raise ValueError(
            f"solver must be one of {list(SOLVERS)}; got solver={solver!r}."
        )
    # What every step below is given, by keyword.
    params = {
        "kernel": kernel,
        "sparsity": sparsity,
        "alpha": alpha,
        "diffusion_time": diffusion_time,
    }
    check_gradient_params(n_components=n_components, **params)
    name = "affinity" if kernel == "precomputed" else "fc"
    matrix = check_fc(affinity_or_fc, name=name)
    if matrix.shape[0] != 1:
        raise ValueError(
            f"diffusion_gradients expects one (n_rois, n_rois) matrix; got a stack "
            f"of shape {matrix.shape}. Use GradientPositioner for several subjects."
        )
    matrix = matrix[0].astype(np.float64, copy=False)
    check_gradient_params(n_components=n_components, n_rois=matrix.shape[0], **params)
    return gradients_unchecked(
        matrix, n_components, random_state=random_state, solver=solver, **params
    )


def gradients_unchecked(
    matrix: np.ndarray,
    n_components: int,
    *,
    kernel: str,
    sparsity: float,
    alpha: float,
    diffusion_time: float,
    random_state,
    solver: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`diffusion_gradients` for a validated float64 ``(n_rois, n_rois)``
    matrix and validated parameters (``check_gradient_params`` with ``n_rois``)."""
    if kernel == "precomputed":
        affinity = _check_affinity(matrix)
    else:
        n_keep = check_sparsity(sparsity, matrix.shape[0])
        affinity = affinity_unchecked(matrix, kernel, n_keep)
    _warn_if_disconnected(affinity)

    degree = affinity.sum(axis=1)
    isolated = np.flatnonzero(degree <= 0)
    if isolated.size:
        raise ValueError(
            f"ROI(s) {isolated[:10].tolist()} have zero affinity to every ROI "
            "(themselves included), so the diffusion operator is undefined. "
            "Remove them before computing gradients."
        )
    # Step 1: anisotropic normalisation.
    scale = degree**-alpha
    weights = affinity * np.outer(scale, scale)
    # Step 2: symmetric conjugate of the random walk D^-1 W.
    walk_degree = weights.sum(axis=1)
    inv_sqrt_degree = 1.0 / np.sqrt(walk_degree)
    sym = weights * np.outer(inv_sqrt_degree, inv_sqrt_degree)

    mu, u = _top_eigenpairs(sym, n_components + 1, solver, random_state)
    logger.debug("Diffusion eigenvalues (trivial first): %s", mu)

    # Step 3: psi = D^-1/2 u, divided by the trivial psi_0, which is exactly
    # the constant 1 / sqrt(sum(d_W)); using it analytically avoids dividing by
    # a computed vector that could vanish on a disconnected graph.
    psi = u[:, 1:] * inv_sqrt_degree[:, np.newaxis]
    psi *= np.sqrt(walk_degree.sum())
    mu = mu[1:]
    if diffusion_time == 0:
        # Multiscale maps sum mu ** t over all t; keep 1 - mu away from 0 on
        # disconnected graphs (already warned about) so the result stays finite.
        lambdas = mu / np.maximum(1.0 - mu, np.finfo(np.float64).eps)
    else:
        if mu.min() < 0 and float(diffusion_time) != int(diffusion_time):
            raise ValueError(
                f"diffusion_time={diffusion_time!r} is not an integer, but some of "
                f"the {n_components} leading eigenvalues are negative (smallest "
                f"{mu.min():.3g}), so mu ** t is undefined. Use an integer "
                "diffusion_time or fewer components."
            )
        lambdas = mu**diffusion_time
    if mu.min() <= 0:
        logger.warning(
            "%d of the %d retained eigenvalues are <= 0; those gradients carry no "
            "diffusion structure. Consider fewer components.",
            int(np.sum(mu <= 0)),
            n_components,
        )
    # Step 4: scale by the eigenvalues and fix the sign.
    gradients = _canonical_sign(psi * lambdas)
    return gradients, lambdas
