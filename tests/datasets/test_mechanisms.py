"""Phenotypes that only the dynamics carry, and the features that find them.

``make_brain_dynamics`` can add three targets that zero-lag functional
connectivity (FC) cannot see: a lag direction, a burst polarity and a state
dwell time. Each is checked against FC + logistic regression (near chance) and
the matching ``DynamicFeatures`` kind + logistic regression (well above).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_brainjepa.datasets import make_brain_dynamics
from sk_brainjepa.preprocessing import DynamicFeatures, FunctionalConnectivity

# (strength parameter, binary label, continuous column, DynamicFeatures kind)
MECHANISMS = [
    ("lagged_coupling", "direction", "lag_strength", "lagged"),
    ("burstiness", "burst_polarity", "burst_rate", "moments"),
    ("state_switching", "dwell", "dwell_time", "states"),
]
IDS = [m[0] for m in MECHANISMS]
# Cohort size of the learning checks: large enough for stable 5-fold scores,
# small enough to keep this module well under a minute on two cores.
COHORT = {"n_subjects": 200, "n_rois": 20, "n_timepoints": 200, "n_networks": 4}

# Fingerprints of make_brain_dynamics' output before the dynamic phenotypes
# existed (see _fingerprint; computed with the code of that commit): the
# defaults must keep reproducing it. A weighted sum with fixed random weights
# changes with any entry, unlike plain sums; the tolerance only allows for
# another summation order (BLAS or SIMD differences between machines).
REFERENCE_FINGERPRINTS = [
    (
        {"n_subjects": 6, "n_rois": 12, "n_timepoints": 50, "n_networks": 3},
        0,
        [41325.28336721922, 5465468495.266576, -34.87626563260329],
    ),
    (
        {
            "n_subjects": 5,
            "n_rois": 9,
            "n_timepoints": 40,
            "n_networks": 2,
            "tr": 0.72,
            "noise_level": 0.2,
        },
        11,
        [39055.45197072392, 2190317228.045146, -39.534283446904894],
    ),
    (
        COHORT,
        0,
        [870063.7210012928, 1325025834584.561, 15.157466778741764],
    ),
]
FORMER_COLUMNS = [
    "age",
    "sex",
    "diagnosis",
    "coupling",
    "timescale",
    "network_gain",
    "cross_gain",
    "hrf_peak",
    "noise_sd",
]


# --------------------------------------------------------------------------- helpers


def _fingerprint(X, pheno):
    X = np.asarray(X, dtype=np.float64)
    P = pheno.to_numpy(dtype=np.float64)
    wx = np.random.default_rng(123).standard_normal(X.shape)
    wp = np.random.default_rng(321).standard_normal(P.shape)
    return [float((X * wx).sum()), float((X**2).sum()), float((P * wp).sum())]


def _zscore(X):
    """Per-subject, per-ROI z-score, so per-ROI means and scales cannot leak."""
    Z = np.asarray(X, dtype=np.float64)
    Z = Z - Z.mean(axis=2, keepdims=True)
    return Z / Z.std(axis=2, keepdims=True)


def _balanced_accuracy(features, y):
    """5-fold cross-validated balanced accuracy of scaled logistic regression."""
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = cross_val_score(model, features, y, cv=cv, scoring="balanced_accuracy")
    return scores.mean()


def _fc(Z):
    return FunctionalConnectivity(output="vector").fit_transform(Z)


@pytest.fixture(scope="module", params=MECHANISMS, ids=IDS)
def mechanism_cohort(request):
    """One cohort per mechanism, switched on alone at strength 1."""
    name = request.param[0]
    X, pheno = make_brain_dynamics(**COHORT, random_state=0, **{name: 1.0})
    return request.param, _zscore(X), pheno


# ------------------------------------------------------------------------ simulator


@pytest.mark.parametrize("kwargs, seed, expected", REFERENCE_FINGERPRINTS)
def test_defaults_reproduce_the_model_without_them(kwargs, seed, expected):
    zeros = {"lagged_coupling": 0.0, "burstiness": 0, "state_switching": 0.0}
    for extra in ({}, zeros):
        X, pheno = make_brain_dynamics(**kwargs, **extra, random_state=seed)
        assert list(pheno.columns) == FORMER_COLUMNS
        np.testing.assert_allclose(_fingerprint(X, pheno), expected, rtol=1e-9)


@pytest.mark.parametrize("name", IDS)
@pytest.mark.parametrize("value", [-0.5, float("nan"), float("inf"), True, "1"])
def test_rejects_bad_strengths(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a non-negative finite"):
        make_brain_dynamics(4, 6, 20, n_networks=2, random_state=0, **{name: value})


@pytest.mark.parametrize("name", ["lagged_coupling", "state_switching"])
def test_network_coupling_mechanisms_need_two_networks(name):
    with pytest.raises(ValueError, match=f"{name} > 0 .* needs n_networks >= 2"):
        make_brain_dynamics(4, 6, 20, n_networks=1, random_state=0, **{name: 1.0})
    # Bursts live inside networks, so one network is enough.
    make_brain_dynamics(4, 6, 20, n_networks=1, burstiness=1.0, random_state=0)


def test_columns_are_added_only_when_switched_on():
    base = ["age", "sex", "diagnosis", "coupling", "timescale", "network_gain"]
    _, off = make_brain_dynamics(6, 8, 30, n_networks=2, random_state=0)
    _, on = make_brain_dynamics(
        6, 8, 30, n_networks=2, random_state=0, burstiness=0.5, state_switching=2
    )
    assert list(off.columns[:6]) == base
    extra = ["burst_polarity", "burst_rate", "dwell", "dwell_time"]
    assert list(on.columns) == list(off.columns) + extra
    for label in ("burst_polarity", "dwell"):
        assert on[label].dtype.kind == "i"
        assert set(on[label]) <= {0, 1}


def test_other_draws_do_not_depend_on_the_mechanisms():
    kwargs = {"n_subjects": 30, "n_rois": 8, "n_timepoints": 40, "n_networks": 2}
    _, off = make_brain_dynamics(**kwargs, random_state=5)
    _, one = make_brain_dynamics(**kwargs, random_state=5, state_switching=1.0)
    X_all, every = make_brain_dynamics(
        **kwargs,
        random_state=5,
        lagged_coupling=1.0,
        burstiness=1.0,
        state_switching=1.0,
    )
    assert_array_equal(every[off.columns].to_numpy(), off.to_numpy())
    assert_array_equal(every[one.columns].to_numpy(), one.to_numpy())
    # A mechanism's labels do not depend on the run length either.
    _, longer = make_brain_dynamics(
        **{**kwargs, "n_timepoints": 90}, random_state=5, state_switching=1.0
    )
    assert_array_equal(longer["dwell"], one["dwell"])
    assert X_all.dtype == np.float32 and np.isfinite(X_all).all()


def test_labels_are_balanced_and_continuous_columns_match_them():
    _, pheno = make_brain_dynamics(
        **COHORT,
        random_state=1,
        lagged_coupling=1.0,
        burstiness=1.0,
        state_switching=1.0,
    )
    for _, label, continuous, _ in MECHANISMS:
        assert 0.4 < pheno[label].mean() < 0.6, label
        assert (pheno[continuous] > 0).all()
    assert_allclose(pheno["lag_strength"].median(), 1.0, rtol=0.1)
    short, long = (pheno.loc[pheno["dwell"] == k, "dwell_time"] for k in (0, 1))
    assert short.max() < long.min()


def test_per_roi_robust_scale_carries_no_dynamic_label():
    """Per-ROI scale carries no label: the scanner scale is drawn independently."""
    X, pheno = make_brain_dynamics(
        **COHORT, random_state=2, lagged_coupling=1.0, burstiness=1.0
    )
    X = X.astype(np.float64)
    q75, q25 = np.percentile(X, [75, 25], axis=2)
    robust_scale = np.log(q75 - q25)  # what per-subject robust scaling divides by
    for label in ("direction", "burst_polarity"):
        assert _balanced_accuracy(robust_scale, pheno[label].to_numpy()) < 0.62


# ---------------------------------------------------------- what FC cannot see


def test_fc_is_blind_to_the_dynamic_phenotype(mechanism_cohort):
    (_, label, _, _), Z, pheno = mechanism_cohort
    assert _balanced_accuracy(_fc(Z), pheno[label].to_numpy()) < 0.62


def test_dynamic_features_find_the_dynamic_phenotype(mechanism_cohort):
    (_, label, _, kind), Z, pheno = mechanism_cohort
    features = DynamicFeatures(kind=kind).fit_transform(Z)
    assert _balanced_accuracy(features, pheno[label].to_numpy()) > 0.75


def test_fc_phenotypes_survive_all_mechanisms():
    X, pheno = make_brain_dynamics(
        **COHORT,
        random_state=0,
        lagged_coupling=1.0,
        burstiness=1.0,
        state_switching=1.0,
    )
    fc = _fc(_zscore(X))
    assert _balanced_accuracy(fc, pheno["sex"].to_numpy()) > 0.62
    assert _balanced_accuracy(fc, pheno["diagnosis"].to_numpy()) > 0.62
