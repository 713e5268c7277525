"""Diffusion-map gradients, checked against BrainSpace."""

import importlib.util
import os

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_brainjepa.gradients import (
    GradientPositioner,
    compute_affinity,
    diffusion_gradients,
)

from ._helpers import N_ROIS, make_fc


def _brainspace_matrix(relative):
    spec = importlib.util.find_spec("brainspace")
    if spec is None:
        pytest.skip("brainspace (test data and reference) is not installed")
    root = spec.submodule_search_locations[0]
    return np.loadtxt(
        os.path.join(root, "datasets", "matrices", relative), delimiter=","
    )


@pytest.fixture(scope="module")
def schaefer400():
    """HCP main-group FC, Schaefer-400 (BrainSpace 0.3.0 data, BSD-3/HCP terms)."""
    return _brainspace_matrix("main_group/schaefer_400_mean_connectivity_matrix.csv")


# ------------------------------------------------------------------ diffusion map
@pytest.mark.parametrize("n_components", [1, 3, 10])
@pytest.mark.parametrize("kernel", ["normalized_angle", "cosine", "pearson"])
def test_diffusion_gradients_shapes(fc, n_components, kernel):
    gradients, lambdas = diffusion_gradients(
        fc, n_components, kernel=kernel, sparsity=0.5
    )
    assert gradients.shape == (N_ROIS, n_components)
    assert lambdas.shape == (n_components,)
    assert gradients.dtype == np.float64
    assert np.all(np.isfinite(gradients))


def test_diffusion_gradients_canonical_sign(fc):
    gradients, _ = diffusion_gradients(fc, 5, sparsity=0.5)
    largest = gradients[np.argmax(np.abs(gradients), axis=0), np.arange(5)]
    assert np.all(largest > 0)


def test_diffusion_gradients_lambdas_descending_positive(fc):
    _, lambdas = diffusion_gradients(fc, 8, sparsity=0.5)
    assert np.all(lambdas > 0)
    assert np.all(np.diff(lambdas) < 0)


@pytest.mark.parametrize("solver", ["dense", "arpack"])
def test_diffusion_gradients_deterministic(fc, solver):
    first = diffusion_gradients(fc, 4, sparsity=0.5, solver=solver, random_state=3)
    second = diffusion_gradients(fc, 4, sparsity=0.5, solver=solver, random_state=3)
    assert_array_equal(first[0], second[0])
    assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("random_state", [0, 1])
def test_diffusion_gradients_solvers_agree(fc, random_state):
    dense = diffusion_gradients(fc, 4, sparsity=0.5, solver="dense")
    arpack = diffusion_gradients(
        fc, 4, sparsity=0.5, solver="arpack", random_state=random_state
    )
    assert_allclose(arpack[1], dense[1], rtol=1e-10)
    assert_allclose(arpack[0], dense[0], atol=1e-10)


def test_diffusion_gradients_permutation_equivariant(fc):
    perm = np.random.default_rng(1).permutation(N_ROIS)
    gradients, lambdas = diffusion_gradients(fc, 4, sparsity=0.5)
    permuted, lambdas_p = diffusion_gradients(fc[np.ix_(perm, perm)], 4, sparsity=0.5)
    assert_allclose(permuted, gradients[perm], atol=1e-12)
    assert_allclose(lambdas_p, lambdas, rtol=1e-12)


def test_diffusion_gradients_precomputed_matches_kernel(fc):
    affinity = compute_affinity(fc, sparsity=0.5)
    expected = diffusion_gradients(fc, 3, sparsity=0.5)
    got = diffusion_gradients(affinity, 3, kernel="precomputed")
    assert_allclose(got[0], expected[0], atol=1e-12)
    assert_allclose(got[1], expected[1], rtol=1e-12)


def test_diffusion_gradients_diffusion_time(fc):
    # t = 1 returns the raw eigenvalues mu; multiscale is mu / (1 - mu), and
    # the gradients differ only by that per-column scale.
    g1, mu = diffusion_gradients(fc, 3, sparsity=0.5, diffusion_time=1)
    g0, multiscale = diffusion_gradients(fc, 3, sparsity=0.5, diffusion_time=0)
    g3, cubed = diffusion_gradients(fc, 3, sparsity=0.5, diffusion_time=3)
    assert_allclose(multiscale, mu / (1 - mu), rtol=1e-12)
    assert_allclose(cubed, mu**3, rtol=1e-12)
    assert_allclose(g0, g1 / mu * multiscale, atol=1e-12)


def test_diffusion_gradients_stationary_normalisation(fc):
    # Coifman-Lafon convention: unit norm and zero mean under the stationary
    # distribution of the random walk.
    affinity = compute_affinity(fc, sparsity=0.5)
    degree = affinity.sum(1)
    weights = affinity / np.sqrt(np.outer(degree, degree))
    stationary = weights.sum(1) / weights.sum()
    gradients, lambdas = diffusion_gradients(fc, 3, sparsity=0.5)
    psi = gradients / lambdas
    assert_allclose(stationary @ psi**2, 1.0, rtol=1e-10)
    assert_allclose(stationary @ psi, 0.0, atol=1e-10)


def test_diffusion_gradients_disconnected_warns():
    block = compute_affinity(make_fc(5, n_rois=10), sparsity=0.0)
    affinity = np.zeros((20, 20))
    affinity[:10, :10] = block
    affinity[10:, 10:] = block
    with pytest.warns(UserWarning, match="2 disconnected components"):
        gradients, lambdas = diffusion_gradients(affinity, 2, kernel="precomputed")
    assert np.all(np.isfinite(gradients))
    assert np.all(np.isfinite(lambdas))


@pytest.mark.parametrize(
    "matrix, match",
    [
        (np.full((5, 5), np.nan), "NaN or infinite"),
        (np.where(np.eye(5) > 0, np.inf, 0.5), "NaN or infinite"),
        (np.ones((5, 4)), "square"),
        (np.triu(np.ones((5, 5))), "symmetric"),
        (np.ones(5), r"got a 1-D array"),
        (np.ones((2, 2, 5, 5)), r"got a 4-D array"),
        (np.ones((2, 5, 5)), "one \\(n_rois, n_rois\\) matrix"),
    ],
)
def test_diffusion_gradients_bad_input(matrix, match):
    with pytest.raises(ValueError, match=match):
        diffusion_gradients(matrix, 2, sparsity=0.0)


def test_diffusion_gradients_too_many_components(fc):
    with pytest.raises(ValueError, match=f"n_components={N_ROIS} for {N_ROIS} ROIs"):
        diffusion_gradients(fc, N_ROIS, sparsity=0.5)


def test_diffusion_gradients_negative_precomputed_affinity(fc):
    with pytest.raises(ValueError, match="non-negative affinity"):
        diffusion_gradients(fc - 0.5, 2, kernel="precomputed")


def test_diffusion_gradients_sparsity_keeps_nothing():
    with pytest.raises(ValueError, match=r"keeps int\(10 \* \(1 - 0.95\)\) = 0"):
        diffusion_gradients(make_fc(0, n_rois=10), 2, sparsity=0.95)


BAD_PARAMS = [
    ({"n_components": 0}, "n_components must be >= 1"),
    ({"n_components": 2.5}, "n_components must be a positive int"),
    ({"n_components": True}, "n_components must be a positive int"),
    ({"kernel": "rbf"}, "kernel must be one of"),
    ({"sparsity": -0.1}, r"sparsity must be in \[0, 1\)"),
    ({"sparsity": 1.0}, r"sparsity must be in \[0, 1\)"),
    ({"sparsity": "high"}, "sparsity must be a float"),
    ({"alpha": -0.1}, r"alpha must be a float in \[0, 1\]"),
    ({"alpha": 1.5}, r"alpha must be a float in \[0, 1\]"),
    ({"diffusion_time": -1}, "diffusion_time must be a finite float >= 0"),
    ({"diffusion_time": np.inf}, "diffusion_time must be a finite float >= 0"),
]


@pytest.mark.parametrize("params, match", BAD_PARAMS)
def test_diffusion_gradients_bad_params(fc, params, match):
    kwargs = {"n_components": 2, **params}
    n_components = kwargs.pop("n_components")
    with pytest.raises(ValueError, match=match):
        diffusion_gradients(fc, n_components, **kwargs)


def test_diffusion_gradients_bad_solver(fc):
    with pytest.raises(ValueError, match="solver must be one of"):
        diffusion_gradients(fc, 2, solver="lobpcg")


# ----------------------------------------------------------------- BrainSpace data

# Exact lambdas (dense eigh of D^-1/2 W D^-1/2) (computed offline once), and
# BrainSpace 0.3.0's own, GradientMaps(random_state=0).
EXACT_LAMBDAS = [
    0.07185245, 0.07075989, 0.04919734, 0.03375172, 0.0313233,
    0.0267978, 0.02104633, 0.01843801, 0.01718735, 0.0154253,
]  # fmt: skip
EXACT_G1_HEAD = [-0.07493, 0.02080, -0.11358, -0.12186, -0.12927]


def test_schaefer400_matches_exact_reference(schaefer400):
    gradients, lambdas = diffusion_gradients(schaefer400, 10, random_state=0)
    assert_allclose(lambdas, EXACT_LAMBDAS, atol=1e-8)
    # The reference G1 is in BrainSpace's sign (the opposite of ours is also
    # allowed): compare up to sign.
    head = gradients[:5, 0] * np.sign(gradients[0, 0] / EXACT_G1_HEAD[0])
    assert_allclose(head, EXACT_G1_HEAD, atol=1e-5)


def test_schaefer400_matches_brainspace(schaefer400):
    gradient_module = pytest.importorskip("brainspace.gradient")
    reference = gradient_module.GradientMaps(
        n_components=10, kernel="normalized_angle", approach="dm", random_state=0
    ).fit(schaefer400, sparsity=0.9, alpha=0.5, diffusion_time=0)
    gradients, lambdas = diffusion_gradients(schaefer400, 10, random_state=0)
    # BrainSpace runs the symmetric solver on the non-symmetric random walk, so
    # it is only accurate to ~1e-4 in lambda and ~1 % in entries (measured once).
    assert_allclose(lambdas, reference.lambdas_, atol=2e-4)
    r = [
        abs(np.corrcoef(gradients[:, i], reference.gradients_[:, i])[0, 1])
        for i in range(10)
    ]
    assert min(r) >= 0.999, r


def test_schaefer400_individual_aligns_to_group(schaefer400):
    # BrainSpace 0.3.0 itself: individual HCP 169949 G1 vs group G1 is r = 0.931 after
    # Procrustes alignment (BrainSpace, 10 components); here 0.932.
    individual = _brainspace_matrix("individual/HCP_169949_median_schaefer_400.csv")
    positioner = GradientPositioner(n_components=10, random_state=0).fit(schaefer400)
    aligned = positioner.transform(individual)
    r = np.corrcoef(aligned[:, 0], positioner.gradients_[:, 0])[0, 1]
    assert 0.925 < r < 0.94
