"""Group functional connectivity of a cohort, one subject in memory at a time."""

from __future__ import annotations

import numpy as np

from sk_brainjepa.datasets._sources import as_source


def group_fc(source, *, average: str = "fisher") -> np.ndarray:
    """Group functional connectivity, one subject in memory at a time.

    Gives what :class:`~sk_brainjepa.GradientPositioner` computes from
    ``FunctionalConnectivity().fit_transform(X)`` for float32 ``X`` (which is
    what sources return), without holding the (n_subjects, n_rois, n_rois)
    stack: pass the result to ``positioner.fit``.

    Parameters
    ----------
    source : TimeSeriesSource or anything :func:`as_source` accepts
    average : {"fisher", "mean"}, default="fisher"
        Fisher z averaging (the positioner's, for correlation kernels), or the
        plain mean (its rule for ``kernel="precomputed"``).

    Returns
    -------
    fc : ndarray of shape (n_rois, n_rois)
        float64; a single subject's float32 matrix when there is one subject.
    """
    from sk_brainjepa.gradients._positioner import FISHER_CLIP
    from sk_brainjepa.preprocessing import FunctionalConnectivity

    if average not in ("fisher", "mean"):
        raise ValueError(f"average must be 'fisher' or 'mean'; got {average!r}.")
    source = as_source(source)
    measure = FunctionalConnectivity()
    total = np.zeros((source.n_rois, source.n_rois), dtype=np.float64)
    diagonal = np.zeros(source.n_rois, dtype=np.float32)
    plain_sum = np.zeros((source.n_rois, source.n_rois), dtype=np.float32)
    for index in range(len(source)):
        try:
            fc = measure.fit_transform(source[index][np.newaxis])[0]
        except ValueError as exc:
            raise ValueError(f"{source.subject_name(index)}: {exc}") from exc
        if len(source) == 1:
            return fc
        if average == "mean":
            # float32 running sum, as fc.mean(axis=0) reduces a float32 stack.
            plain_sum += fc
            continue
        total += np.arctanh(np.clip(fc, FISHER_CLIP - 1, 1 - FISHER_CLIP))
        diagonal += np.diagonal(fc)
    if average == "mean":
        return plain_sum / len(source)
    group = np.tanh(total / len(source))
    np.fill_diagonal(group, diagonal / len(source))
    return group
