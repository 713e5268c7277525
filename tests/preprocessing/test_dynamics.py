"""DynamicFeatures: lagged, moment and state features."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sk_brainjepa.preprocessing import DynamicFeatures


# ------------------------------------------------------------------ DynamicFeatures
def _series(n_subjects=3, n_rois=5, n_timepoints=60, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_subjects, n_rois, n_timepoints))


@pytest.mark.parametrize(
    "kind, n_features",
    [("lagged", 2 * 10), ("moments", 4 * 5), ("states", 2 * 10), ("all", 60)],
)
def test_dynamic_features_shapes_and_names(kind, n_features):
    est = DynamicFeatures(kind=kind, lags=(1, 3), window=12).fit(_series())
    out = est.transform(_series(seed=1))
    assert out.shape == (3, n_features)
    names = est.get_feature_names_out()
    assert names.shape == (n_features,) and len(set(names)) == n_features
    assert est.n_rois_ == est.n_features_in_ == 5


def test_dynamic_features_keep_float32_and_accept_ragged_lists():
    X = _series().astype(np.float32)
    assert DynamicFeatures().fit_transform(X).dtype == np.float32
    ragged = [X[0], X[1, :, :45]]
    assert DynamicFeatures().fit_transform(ragged).shape == (2, 70)


def test_lagged_asymmetry_points_from_leader_to_follower():
    rng = np.random.default_rng(0)
    driver = np.convolve(rng.standard_normal(400), np.ones(3), mode="same")
    leader, follower = driver[2:], driver[:-2]  # follower(t + 2) = leader(t)
    X = np.stack([leader, follower, rng.standard_normal(398)])[None]
    est = DynamicFeatures(kind="lagged", lags=(2,)).fit(X)
    names, values = est.get_feature_names_out(), est.transform(X)[0]
    features = dict(zip(names, values, strict=True))
    assert features["lagasym_2_0_1"] > 0.5
    assert abs(features["lagasym_2_0_2"]) < 0.2
    reversed_features = est.transform(X[:, ::-1, :].copy())[0]
    assert reversed_features[2] < -0.5  # edge 1-2 is the swapped pair 0-1


def test_moments_see_the_sign_of_skew():
    rng = np.random.default_rng(0)
    skewed = rng.exponential(size=(1, 4, 500))
    pos, neg = (
        DynamicFeatures(kind="moments").fit_transform(s) for s in (skewed, -skewed)
    )
    assert (pos[0, :4] > 1).all() and (neg[0, :4] < -1).all()  # skewness
    assert_allclose(pos[0, 4:8], neg[0, 4:8])  # kurtosis is even


@pytest.mark.parametrize(
    "params, match",
    [
        ({"kind": "spectral"}, "'kind' parameter of DynamicFeatures must be"),
        ({"lags": ()}, "lags must be a non-empty sequence of positive integers"),
        ({"lags": (0, 1)}, "lags must be a non-empty sequence of positive integers"),
        ({"lags": (1.5,)}, "lags must be a non-empty sequence of positive integers"),
        ({"lags": (2, 2)}, "lags must not repeat"),
        ({"window": 2}, r"'window' parameter of DynamicFeatures .* \[3"),
        ({"window": 10.0}, r"'window' parameter of DynamicFeatures .* \[3"),
        ({"step": 0}, "'step' parameter of DynamicFeatures must be"),
        ({"window": 50, "step": 10}, "at least 70 are needed.*states features"),
        ({"kind": "lagged", "lags": (59,)}, "at least 61 are needed"),
    ],
)
def test_dynamic_features_reject_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        DynamicFeatures(**params).fit(_series())


def test_dynamic_features_reject_constant_rois_and_other_roi_counts():
    X = _series()
    est = DynamicFeatures().fit(X)
    with pytest.raises(ValueError, match="X has 4 ROIs, but DynamicFeatures"):
        est.transform(X[:, :4])
    X[1, 2] = 3.0
    with pytest.raises(ValueError, match="Subject 1 has 1 constant ROI"):
        est.transform(X)
