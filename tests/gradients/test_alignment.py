"""Procrustes alignment of gradients."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sk_brainjepa.gradients import diffusion_gradients, procrustes_align


# -------------------------------------------------------------------- Procrustes
def _random_orthogonal(n, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("reflect", [False, True])
def test_procrustes_recovers_rotation(reflect):
    reference = np.random.default_rng(0).standard_normal((40, 4))
    rotation = _random_orthogonal(4, seed=1)
    if reflect:
        rotation[:, 0] *= -1
    aligned, found = procrustes_align(
        reference @ rotation, reference, return_rotation=True
    )
    assert_allclose(found, rotation.T, atol=1e-12)
    assert_allclose(aligned, reference, atol=1e-12)


def test_procrustes_undoes_swap_of_gradients(fc):
    gradients, _ = diffusion_gradients(fc, 3, sparsity=0.5)
    swapped = -gradients[:, [1, 0, 2]]
    assert_allclose(procrustes_align(swapped, gradients), gradients, atol=1e-12)


@pytest.mark.parametrize(
    "source, reference, match",
    [
        (np.ones((5, 2)), np.ones((5, 3)), "same shape"),
        (np.ones(5), np.ones(5), "2-D array"),
        (np.full((5, 2), np.nan), np.ones((5, 2)), "NaN"),
    ],
)
def test_procrustes_bad_input(source, reference, match):
    with pytest.raises(ValueError, match=match):
        procrustes_align(source, reference)
