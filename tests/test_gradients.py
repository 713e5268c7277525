"""Tests for sk_brainjepa.gradients: kernels, diffusion maps, alignment, CSV."""

import importlib.util
import os
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_n_features_in_after_fitting,
    parametrize_with_checks,
)

from sk_brainjepa.gradients import (
    GradientPositioner,
    compute_affinity,
    diffusion_gradients,
    procrustes_align,
    read_gradient_csv,
    write_gradient_csv,
)
from sk_brainjepa.gradients._kernels import sparsify_rows
from sk_brainjepa.preprocessing import fisher_z_mean

N_ROIS = 30


def make_fc(seed, n_rois=N_ROIS, n_timepoints=200, noise=1.0):
    """Correlation matrix of ROIs driven by two factors whose mix varies along an
    axis, so the leading gradients are well separated (as in real FC)."""
    rng = np.random.default_rng(seed)
    position = np.linspace(0, np.pi, n_rois)
    factors = rng.standard_normal((2, n_timepoints))
    loadings = np.stack([np.cos(position), np.sin(position)], axis=1)
    series = loadings @ factors + noise * rng.standard_normal((n_rois, n_timepoints))
    return np.corrcoef(series)


@pytest.fixture(scope="module")
def fc():
    return make_fc(0)


@pytest.fixture(scope="module")
def fc_stack():
    return np.stack([make_fc(seed) for seed in range(1, 5)])


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

# Exact lambdas (dense eigh of D^-1/2 W D^-1/2) from data-offline.md, and
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
    # it is only accurate to ~1e-4 in lambda and ~1 % in entries (data-offline.md).
    assert_allclose(lambdas, reference.lambdas_, atol=2e-4)
    r = [
        abs(np.corrcoef(gradients[:, i], reference.gradients_[:, i])[0, 1])
        for i in range(10)
    ]
    assert min(r) >= 0.999, r


def test_schaefer400_individual_aligns_to_group(schaefer400):
    # data-offline.md: individual HCP 169949 G1 vs group G1 is r = 0.931 after
    # Procrustes alignment (BrainSpace, 10 components); here 0.932.
    individual = _brainspace_matrix("individual/HCP_169949_median_schaefer_400.csv")
    positioner = GradientPositioner(n_components=10, random_state=0).fit(schaefer400)
    aligned = positioner.transform(individual)
    r = np.corrcoef(aligned[:, 0], positioner.gradients_[:, 0])[0, 1]
    assert 0.925 < r < 0.94


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


# ---------------------------------------------------------------------- estimator


def test_fisher_z_mean():
    a = make_fc(1, n_rois=6)
    b = make_fc(2, n_rois=6)
    group = fisher_z_mean(np.stack([a, b]))
    off = ~np.eye(6, dtype=bool)
    expected = np.tanh((np.arctanh(a[off]) + np.arctanh(b[off])) / 2)
    assert_allclose(group[off], expected, rtol=1e-12)
    # The diagonal is the plain mean of the inputs' (1 up to rounding).
    assert_allclose(np.diag(group), 1.0, rtol=0, atol=1e-15)
    # The mean of identical matrices is that matrix.
    assert_allclose(fisher_z_mean(np.stack([a, a, a])), a, atol=1e-12)
    # Perfectly correlated ROI pairs are clipped, not turned into inf or NaN.
    assert_allclose(fisher_z_mean(np.ones((2, 3, 3))), 1.0, atol=1e-6)
    # Matrices streamed one at a time give the stack's floats.
    assert_array_equal(fisher_z_mean(iter([a, b])), group)


def test_positioner_fit_uses_fisher_z_group(fc_stack):
    positioner = GradientPositioner(n_components=3, sparsity=0.5).fit(fc_stack)
    expected, lambdas = diffusion_gradients(fisher_z_mean(fc_stack), 3, sparsity=0.5)
    assert_array_equal(positioner.gradients_, expected)
    assert_array_equal(positioner.lambdas_, lambdas)
    assert positioner.n_rois_ == positioner.n_features_in_ == N_ROIS


def test_positioner_precomputed_averages_affinities(fc_stack):
    affinities = np.stack([compute_affinity(fc, sparsity=0.5) for fc in fc_stack])
    positioner = GradientPositioner(n_components=3, kernel="precomputed")
    positioner.fit(affinities)
    expected, _ = diffusion_gradients(affinities.mean(0), 3, kernel="precomputed")
    assert_array_equal(positioner.gradients_, expected)


def test_positioner_fisher_z_needs_correlations(fc_stack):
    with pytest.raises(ValueError, match=r"correlations in \[-1, 1\]"):
        GradientPositioner(n_components=2, sparsity=0.5).fit(fc_stack * 2)


def test_positioner_matches_function(fc):
    positioner = GradientPositioner(n_components=4, sparsity=0.5, alpha=1.0).fit(fc)
    gradients, lambdas = diffusion_gradients(fc, 4, sparsity=0.5, alpha=1.0)
    assert_array_equal(positioner.gradients_, gradients)
    assert_array_equal(positioner.lambdas_, lambdas)


def test_positioner_transform_shapes(fc, fc_stack):
    positioner = GradientPositioner(n_components=3, sparsity=0.5).fit(fc_stack)
    assert positioner.transform(fc_stack).shape == (4, N_ROIS, 3)
    assert positioner.transform(fc).shape == (N_ROIS, 3)
    assert positioner.transform(fc[np.newaxis]).shape == (1, N_ROIS, 3)


def test_positioner_transform_of_group_gives_group_gradients(fc_stack):
    positioner = GradientPositioner(n_components=3, sparsity=0.5).fit(fc_stack)
    aligned = positioner.transform(fisher_z_mean(fc_stack))
    assert_allclose(aligned, positioner.gradients_, atol=1e-12)


def test_positioner_transform_aligns_subjects(fc_stack):
    positioner = GradientPositioner(n_components=3, sparsity=0.5).fit(fc_stack)
    aligned = positioner.transform(fc_stack)
    for subject, fc in zip(aligned, fc_stack, strict=True):
        raw, _ = diffusion_gradients(fc, 3, sparsity=0.5)
        assert_allclose(
            subject, procrustes_align(raw, positioner.gradients_), atol=1e-12
        )


@pytest.mark.parametrize("single", [True, False])
def test_positioner_fit_transform_equals_fit_then_transform(fc, fc_stack, single):
    X = fc if single else fc_stack
    est = GradientPositioner(n_components=3, sparsity=0.5, random_state=0)
    assert_allclose(
        clone(est).fit_transform(X), clone(est).fit(X).transform(X), rtol=0, atol=1e-12
    )


def test_positioner_refit_is_idempotent(fc, fc_stack):
    positioner = GradientPositioner(n_components=3, sparsity=0.5)
    first = positioner.fit(fc_stack).gradients_.copy()
    positioner.fit(fc)
    assert_array_equal(positioner.fit(fc_stack).gradients_, first)


def test_positioner_pickle_and_clone(fc_stack):
    positioner = GradientPositioner(n_components=3, sparsity=0.5).fit(fc_stack)
    restored = pickle.loads(pickle.dumps(positioner))
    assert_array_equal(restored.transform(fc_stack), positioner.transform(fc_stack))
    fresh = clone(positioner)
    assert fresh.get_params() == positioner.get_params()
    assert not hasattr(fresh, "gradients_")


def test_positioner_not_fitted(fc):
    with pytest.raises(NotFittedError):
        GradientPositioner(n_components=2).transform(fc)


def test_positioner_roi_mismatch(fc, fc_stack):
    positioner = GradientPositioner(n_components=2, sparsity=0.5).fit(fc_stack)
    other = make_fc(9, n_rois=20)
    with pytest.raises(
        ValueError,
        match=(
            "X has 20 features, but GradientPositioner is expecting 30 features as "
            "input: X has 20 ROIs .* fitted on 30 ROIs"
        ),
    ):
        positioner.transform(other)


# The positioner checks types and ranges with scikit-learn's parameter
# validation; the bool and data-dependent checks are the shared ones.
POSITIONER_BAD_PARAMS = [
    ({"n_components": 0}, "'n_components' parameter of GradientPositioner"),
    ({"n_components": 2.5}, "'n_components' parameter of GradientPositioner"),
    ({"n_components": True}, "n_components must be a positive int"),
    ({"kernel": "rbf"}, "'kernel' parameter of GradientPositioner must be a str"),
    ({"sparsity": -0.1}, r"'sparsity' parameter .* range \[0.0, 1.0\)"),
    ({"sparsity": 1.0}, r"'sparsity' parameter .* range \[0.0, 1.0\)"),
    ({"sparsity": "high"}, "'sparsity' parameter of GradientPositioner"),
    ({"alpha": -0.1}, r"'alpha' parameter .* range \[0.0, 1.0\]"),
    ({"alpha": 1.5}, r"'alpha' parameter .* range \[0.0, 1.0\]"),
    ({"diffusion_time": -1}, "'diffusion_time' parameter of GradientPositioner"),
    ({"diffusion_time": np.inf}, "'diffusion_time' parameter of GradientPositioner"),
    ({"random_state": "seed"}, "'random_state' parameter of GradientPositioner"),
]


@pytest.mark.parametrize("params, match", POSITIONER_BAD_PARAMS)
def test_positioner_bad_params(fc, params, match):
    with pytest.raises(ValueError, match=match):
        GradientPositioner(**{"n_components": 2, **params}).fit(fc)


def test_positioner_bad_params_fail_before_data_is_read():
    # NaN input too: the parameter is reported first, by fit and fit_transform.
    bad = GradientPositioner(kernel="rbf")
    for method in (bad.fit, bad.fit_transform):
        with pytest.raises(InvalidParameterError, match="'kernel' parameter"):
            method(np.full((5, 5), np.nan))


def test_positioner_accepts_numpy_scalar_params(fc):
    numpy_params = GradientPositioner(
        n_components=np.int64(3),
        sparsity=np.float32(0.5),
        alpha=np.float64(0.5),
        diffusion_time=np.int32(0),
    )
    reference = GradientPositioner(n_components=3, sparsity=0.5)
    assert_allclose(numpy_params.fit(fc).gradients_, reference.fit(fc).gradients_)


def test_positioner_declares_pairwise_input():
    tags = get_tags(GradientPositioner())
    # Square FC matrices: scikit-learn's checks then feed (n, n) kernels.
    assert tags.input_tags.pairwise and tags.input_tags.three_d_array


def test_positioner_checks_n_features_in_like_sklearn():
    # scikit-learn's own check: a matrix with another column count is
    # rejected at transform time, in its wording.
    check_n_features_in_after_fitting(
        "GradientPositioner", GradientPositioner(n_components=2, sparsity=0.5)
    )


def test_positioner_too_many_components(fc):
    with pytest.raises(ValueError, match=f"n_components=40 for {N_ROIS} ROIs"):
        GradientPositioner(n_components=40).fit(fc)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.full((5, 5), np.nan), "NaN"),
        (np.ones((5, 4)), "square"),
        (np.triu(np.ones((5, 5))), "symmetric"),
        (np.ones(5), "got a 1-D array"),
        (np.ones((2, 2, 5, 5)), r"got a 4-D array"),
    ],
)
def test_positioner_bad_input(X, match):
    with pytest.raises(ValueError, match=match):
        GradientPositioner(n_components=2, sparsity=0.0).fit(X)


def _expected_failed_checks(estimator):
    failures = {
        "check_methods_subset_invariance": (
            "transform embeds a whole (n_rois, n_rois) matrix; every output row "
            "depends on all rows, so row batches are not valid input"
        ),
        "check_methods_sample_order_invariance": (
            "the check permutes rows only, which breaks the square symmetric "
            "matrix; permuting rows and columns together is tested in "
            "test_diffusion_gradients_permutation_equivariant"
        ),
        "check_fit_idempotent": (
            "transform takes matrices over the fitted ROIs, not (n_test, n_train) "
            "kernels; idempotence is tested in test_positioner_refit_is_idempotent"
        ),
    }
    if estimator.sparsity == 0.9:
        reason = (
            "the check's 10x10 input keeps int(10 * (1 - 0.9)) = 0 entries per row, "
            "which is rejected (BrainSpace rejects it too)"
        )
        failures["check_estimators_nan_inf"] = reason
        failures["check_fit2d_1feature"] = reason
    return failures


@parametrize_with_checks(
    [
        GradientPositioner(n_components=2),
        GradientPositioner(n_components=2, sparsity=0.5),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_csv_round_trip_exact(tmp_path, dtype):
    gradients = np.random.default_rng(0).standard_normal((45, 30)).astype(dtype) / 7
    path = write_gradient_csv(gradients, tmp_path / "gradients.csv")
    read = read_gradient_csv(path)
    assert read.dtype == np.float64
    assert read.shape == (45, 30)
    assert_array_equal(read.astype(dtype), gradients)
    # Official layout: no header, comma-separated, one line per ROI.
    lines = path.read_text().splitlines()
    assert len(lines) == 45
    assert len(lines[0].split(",")) == 30
    assert sorted(os.listdir(tmp_path)) == ["gradients.csv"]


def test_gradient_csv_readable_by_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    gradients = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    path = write_gradient_csv(gradients, tmp_path / "g.csv")
    frame = pd.read_csv(path, header=None)
    assert_array_equal(frame.to_numpy().astype(np.float32), gradients)


def test_gradient_csv_overwrites(tmp_path):
    path = tmp_path / "g.csv"
    write_gradient_csv(np.ones((3, 2)), path)
    write_gradient_csv(np.zeros((4, 2)), path)
    assert_array_equal(read_gradient_csv(path), np.zeros((4, 2)))


@pytest.mark.parametrize(
    "text, match",
    [
        ("g1,g2\n0.1,0.2\n", "header line"),
        ("0.1,0.2\n0.3\n", "number of columns"),
        ("0.1,nan\n0.3,0.4\n", "NaN or infinite"),
        ("", "empty"),
    ],
)
def test_read_gradient_csv_rejects(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_gradient_csv(path)


def test_read_gradient_csv_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="No gradient file"):
        read_gradient_csv(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    "gradients, match",
    [
        (np.ones(5), "2-D array"),
        (np.array([[1.0, np.inf]]), "NaN or infinite"),
        (np.array([["a", "b"]]), "real numbers"),
    ],
)
def test_write_gradient_csv_rejects(tmp_path, gradients, match):
    with pytest.raises(ValueError, match=match):
        write_gradient_csv(gradients, tmp_path / "g.csv")
    assert os.listdir(tmp_path) == []
