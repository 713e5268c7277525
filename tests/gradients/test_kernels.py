"""Affinity kernels of FC matrices."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_brainjepa.gradients import compute_affinity
from sk_brainjepa.gradients._kernels import sparsify_rows

from ._helpers import N_ROIS


# --------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("kernel", ["normalized_angle", "cosine", "pearson"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9])
def test_compute_affinity_symmetric_nonnegative(fc, kernel, sparsity):
    affinity = compute_affinity(fc, kernel=kernel, sparsity=sparsity)
    assert affinity.shape == (N_ROIS, N_ROIS)
    assert_allclose(affinity, affinity.T, rtol=0, atol=0)
    assert affinity.min() >= 0
    assert affinity.max() <= 1 + 1e-12


def test_compute_affinity_normalized_angle_known_angles():
    # Orthogonal rows: angle 90 degrees, affinity 1 - 1/2.
    assert_allclose(compute_affinity(np.eye(3), sparsity=0.0), 0.5 + 0.5 * np.eye(3))
    # Rows (1, a) and (a, 1) with a = tan(15 deg) meet at 60 degrees: 1 - 1/3.
    a = 2 - np.sqrt(3)
    affinity = compute_affinity(np.array([[1, a], [a, 1]]), sparsity=0.0)
    assert_allclose(affinity, [[1, 2 / 3], [2 / 3, 1]], atol=1e-12)


@pytest.mark.parametrize("kernel", ["cosine", "pearson"])
def test_compute_affinity_negative_similarity_clipped(kernel):
    # Rows (1, -1) and (-1, 1) are anti-correlated: affinity 0, not -1.
    fc = np.array([[1.0, -1.0], [-1.0, 1.0]])
    assert_allclose(compute_affinity(fc, kernel=kernel, sparsity=0.0), np.eye(2))


def test_compute_affinity_sparsity_keeps_top_entries():
    # int(3 * (1 - 0.6)) = 1 entry kept per row: its largest, here the diagonal
    # (0.9 < 1), so the sparsified rows are orthogonal one-hot vectors.
    fc = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.2], [0.1, 0.2, 1.0]])
    assert_allclose(compute_affinity(fc, kernel="cosine", sparsity=0.6), np.eye(3))
    # Keeping 2 entries per row gives rows (1, .9, 0), (.9, 1, 0), (0, .2, 1).
    c01 = 1.8 / 1.81
    c02 = 0.18 / np.sqrt(1.81 * 1.04)
    c12 = 0.2 / np.sqrt(1.81 * 1.04)
    expected = np.array([[1, c01, c02], [c01, 1, c12], [c02, c12, 1]])
    assert_allclose(compute_affinity(fc, kernel="cosine", sparsity=0.3), expected)


def test_sparsify_rows_keeps_ties():
    fc = np.array([[1.0, 0.5, 0.5, 0.1]] * 4)
    assert_array_equal(sparsify_rows(fc, 2)[0], [1.0, 0.5, 0.5, 0.0])
    assert_array_equal(sparsify_rows(fc, 4), fc)


def test_compute_affinity_rejects_dead_row():
    fc = np.eye(4)
    fc[3, 3] = 0.0
    with pytest.raises(ValueError, match=r"ROI\(s\) \[3\]"):
        compute_affinity(fc, sparsity=0.0)
