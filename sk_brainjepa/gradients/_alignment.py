"""Orthogonal Procrustes alignment of one set of gradients onto another."""

from __future__ import annotations

import numpy as np

from sk_brainjepa._utils._validation import check_ndim


def _check_matrix(x, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric 2-D array: {exc}") from exc
    check_ndim(arr, name, 2, "a 2-D array of shape (n_rois, n_components)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def procrustes_align(
    source, reference, *, return_rotation: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Rotate ``source`` to best match ``reference`` (orthogonal Procrustes).

    Finds the orthogonal matrix ``R`` that minimises
    ``||source @ R - reference||_F`` and returns ``source @ R``. ``R`` may
    include reflections, so sign flips and swaps of near-degenerate gradients
    are undone. Nothing is centred or rescaled: diffusion gradients are already
    centred, and their scale (the eigenvalues) is meaningful.

    Parameters
    ----------
    source : array-like of shape (n_rois, n_components)
        Gradients to align, e.g. one subject's.
    reference : array-like of shape (n_rois, n_components)
        Target gradients, e.g. the group's, with rows in the same ROI order.
    return_rotation : bool, default=False
        Also return ``R``.

    Returns
    -------
    aligned : ndarray of shape (n_rois, n_components)
        ``source @ R``.
    rotation : ndarray of shape (n_components, n_components)
        The orthogonal ``R``; only when ``return_rotation`` is True.

    Raises
    ------
    ValueError
        When the inputs are not finite 2-D arrays of the same shape.

    Notes
    -----
    With ``U S V^T`` the SVD of ``source^T reference``, ``R = U V^T``
    (Schönemann, 1966).

    References
    ----------
    .. [1] Schönemann P.H. (1966). A generalized solution of the orthogonal
       Procrustes problem. Psychometrika, 31(1), 1-10.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.gradients import procrustes_align
    >>> reference = np.random.default_rng(0).standard_normal((10, 2))
    >>> source = reference @ np.array([[0.0, -1.0], [1.0, 0.0]])
    >>> bool(np.allclose(procrustes_align(source, reference), reference))
    True
    """
    source = _check_matrix(source, "source")
    reference = _check_matrix(reference, "reference")
    if source.shape != reference.shape:
        raise ValueError(
            f"source and reference must have the same shape (n_rois, n_components); "
            f"got {source.shape} and {reference.shape}."
        )
    u, _, vt = np.linalg.svd(source.T @ reference)
    rotation = u @ vt
    aligned = source @ rotation
    if return_rotation:
        return aligned, rotation
    return aligned
