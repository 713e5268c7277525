"""Affinity kernels: turn a connectivity matrix into a non-negative affinity matrix."""

from __future__ import annotations

from numbers import Real

import numpy as np

from sk_brainjepa._utils._validation import check_fc

#: Kernels that compare the (sparsified) connectivity profiles of two ROIs.
KERNELS = ("normalized_angle", "cosine", "pearson")


def check_sparsity(sparsity, n_rois: int | None = None) -> int | None:
    """Validate ``sparsity`` and return how many entries each row keeps.

    Parameters
    ----------
    sparsity : float
        Fraction of each row to zero out, in ``[0, 1)``.
    n_rois : int, default=None
        Number of ROIs. When given, the number of kept entries per row is
        returned and must be at least 1.

    Returns
    -------
    n_keep : int or None
        ``int(n_rois * (1 - sparsity))``, or None when ``n_rois`` is None.
    """
    if isinstance(sparsity, bool) or not isinstance(sparsity, Real):
        raise ValueError(
            f"sparsity must be a float in [0, 1); got {sparsity!r} of type "
            f"{type(sparsity).__name__}."
        )
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1); got sparsity={sparsity!r}.")
    if n_rois is None:
        return None
    # Truncation (not rounding) reproduces BrainSpace exactly, floating-point
    # artefact included: 400 * (1 - 0.9) = 39.99999999999999, so 39 are kept.
    n_keep = int(n_rois * (1 - sparsity))
    if n_keep < 1:
        raise ValueError(
            f"sparsity={sparsity!r} keeps int({n_rois} * (1 - {sparsity!r})) = "
            f"{n_keep} entries per row for {n_rois} ROIs; at least 1 is needed. "
            "Lower sparsity."
        )
    return n_keep


def sparsify_rows(fc: np.ndarray, n_keep: int) -> np.ndarray:
    """Keep the ``n_keep`` largest entries of each row and zero the others.

    Entries tied with the ``n_keep``-th largest value of their row are all
    kept, so the result does not depend on the order of the ROIs.

    Parameters
    ----------
    fc : ndarray of shape (n_rois, n_rois)
        Connectivity matrix.
    n_keep : int
        Number of entries to keep per row, ``1 <= n_keep <= n_rois``.

    Returns
    -------
    sparse_fc : ndarray of shape (n_rois, n_rois)
        A new array; it is generally no longer symmetric.
    """
    n_rois = fc.shape[1]
    if n_keep >= n_rois:
        return fc.copy()
    # The n_keep-th largest value of each row is the row's threshold.
    kth = np.partition(fc, n_rois - n_keep, axis=1)[:, n_rois - n_keep]
    return np.where(fc >= kth[:, np.newaxis], fc, 0.0)


def _row_cosine(x: np.ndarray, centre: bool) -> np.ndarray:
    """Cosine similarity (or Pearson correlation if ``centre``) between rows."""
    if centre:
        x = x - x.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(x, axis=1)
    dead = np.flatnonzero(norms <= np.finfo(x.dtype).tiny)
    if dead.size:
        what = "constant" if centre else "all-zero"
        raise ValueError(
            f"ROI(s) {dead[:10].tolist()}{' ...' if dead.size > 10 else ''} have "
            f"{what} connectivity rows after sparsification, so the similarity "
            "kernel is undefined for them. Remove these ROIs or lower sparsity."
        )
    x = x / norms[:, np.newaxis]
    sim = x @ x.T
    # Rounding can push |sim| slightly above 1, which arccos would turn into NaN.
    np.clip(sim, -1.0, 1.0, out=sim)
    # Symmetrize away the last-bit asymmetry of the matrix product.
    sim = (sim + sim.T) / 2
    # A row is parallel to itself. Exactness matters: arccos(1 - e) ~ sqrt(2e),
    # so a rounding error of 1e-16 on the diagonal would become 1e-8.
    np.fill_diagonal(sim, 1.0)
    return sim


def compute_affinity(
    fc, *, kernel: str = "normalized_angle", sparsity: float = 0.9
) -> np.ndarray:
    """Affinity between ROIs from the similarity of their connectivity profiles.

    Each row of ``fc`` is first sparsified (its ``int(n_rois * (1 - sparsity))``
    largest entries are kept, the rest set to 0), then rows are compared with
    ``kernel``. Negative affinities are set to 0.

    Parameters
    ----------
    fc : array-like of shape (n_rois, n_rois)
        Square, symmetric, finite connectivity matrix (e.g. Pearson FC).
    kernel : {"normalized_angle", "cosine", "pearson"}, default="normalized_angle"
        Similarity between sparsified rows ``x_i``, ``x_j``:

        - ``"normalized_angle"``: ``1 - arccos(cos(x_i, x_j)) / pi``;
        - ``"cosine"``: ``cos(x_i, x_j)``;
        - ``"pearson"``: Pearson correlation of ``x_i`` and ``x_j``.
    sparsity : float, default=0.9
        Fraction of each row set to 0 before the kernel, in ``[0, 1)``. 0 keeps
        every entry.

    Returns
    -------
    affinity : ndarray of shape (n_rois, n_rois)
        Symmetric, non-negative, float64.

    Raises
    ------
    ValueError
        On a non-square, asymmetric or non-finite ``fc``, an unknown kernel, a
        sparsity that keeps no entry, or a row with no non-zero entry left.

    Notes
    -----
    This is the affinity step of BrainSpace's ``GradientMaps`` [1]_ with its
    default ``pre_sparsify`` behaviour. With ``n_rois=400`` and
    ``sparsity=0.9``, 39 entries per row are kept (see ``check_sparsity``).

    References
    ----------
    .. [1] Vos de Wael R. et al. (2020). BrainSpace: a toolbox for the analysis
       of macroscale gradients in neuroimaging and connectomics datasets.
       Communications Biology, 3, 103.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.gradients import compute_affinity
    >>> rng = np.random.default_rng(0)
    >>> fc = np.corrcoef(rng.standard_normal((20, 100)))
    >>> compute_affinity(fc, sparsity=0.5).shape
    (20, 20)
    """
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ValueError(
            f"kernel must be one of {sorted(KERNELS)}; got kernel={kernel!r}."
        )
    fc = check_fc(fc, name="fc")
    if fc.shape[0] != 1:
        raise ValueError(
            f"compute_affinity expects one (n_rois, n_rois) matrix; got a stack of "
            f"shape {fc.shape}."
        )
    fc = fc[0].astype(np.float64, copy=False)
    return affinity_unchecked(fc, kernel, check_sparsity(sparsity, fc.shape[0]))


def affinity_unchecked(fc: np.ndarray, kernel: str, n_keep: int) -> np.ndarray:
    """:func:`compute_affinity` without input validation (for internal callers
    that have validated ``fc`` and the parameters already)."""
    x = sparsify_rows(fc, n_keep)
    sim = _row_cosine(x, centre=kernel == "pearson")
    if kernel == "normalized_angle":
        affinity = 1.0 - np.arccos(sim) / np.pi
    else:
        affinity = sim
    # Unreachable for normalized_angle, whose values lie in [0, 1] already.
    np.maximum(affinity, 0.0, out=affinity)
    return affinity
