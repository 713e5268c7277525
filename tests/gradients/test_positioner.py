"""GradientPositioner: fit, transform, the scikit-learn contract."""

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
)
from sk_brainjepa.preprocessing import fisher_z_mean

from ._helpers import N_ROIS, make_fc


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


def test_time_series_given_to_transform_are_named(fc):
    # The ROI-count check came first and blamed "X has 40 features".
    positioner = GradientPositioner(n_components=2, sparsity=0.5).fit(fc)
    series = np.random.default_rng(0).standard_normal((3, N_ROIS, 40))
    hint = r"(not square|square \(n_rois, n_rois\)).*[Dd]id you pass time series"
    # Also in nilearn's (n_timepoints, n_rois) layout, whose last axis matches.
    for X in (series, series[0], series.transpose(0, 2, 1)):
        with pytest.raises(ValueError, match=hint):
            positioner.transform(X)


def test_default_positions_need_three_rois():
    from sk_brainjepa.gradients._resolve import resolve_gradients

    X = np.random.default_rng(0).standard_normal((4, 2, 40))
    message = (
        r"gradients=None fits connectivity gradients on X, which needs at least 3 "
        r"ROIs; X has 2\. .*shape \(2, m\)"
    )
    with pytest.raises(ValueError, match=message):
        resolve_gradients(None, X, 2, 0)
    three = np.concatenate([X, X[:, :1] + 1.0], axis=1)
    assert resolve_gradients(None, three, 3, 0).shape == (3, 1)
