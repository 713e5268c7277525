"""The simulated cohorts of make_brain_dynamics."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import (
    KFold,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_brainjepa.datasets import make_brain_dynamics


# --------------------------------------------------------------------------- helpers
def _zscore(X):
    Z = X - X.mean(axis=2, keepdims=True)
    return Z / Z.std(axis=2, keepdims=True)


def _correlations(X):
    Z = _zscore(np.asarray(X, dtype=np.float64))
    return np.einsum("srt,sqt->srq", Z, Z) / X.shape[2]


def _fc_features(X):
    corr = _correlations(X)
    rows, cols = np.triu_indices(X.shape[1], k=1)
    return corr[:, rows, cols]


def _lag1_autocorrelation(X):
    Z = _zscore(np.asarray(X, dtype=np.float64))
    return float(np.mean(np.sum(Z[:, :, 1:] * Z[:, :, :-1], axis=2) / X.shape[2]))


@pytest.fixture(scope="module")
def cohort():
    """120 subjects with the default generative settings (fixed seed)."""
    return make_brain_dynamics(
        n_subjects=120,
        n_rois=50,
        n_timepoints=200,
        random_state=0,
        return_networks=True,
    )


# ------------------------------------------------------------------------ simulator


@pytest.mark.parametrize(
    "n_subjects, n_rois, n_timepoints, n_networks",
    [(3, 12, 40, 3), (2, 7, 25, 7), (1, 1, 10, 1), (4, 20, 30, 1)],
)
def test_make_brain_dynamics_shapes_and_dtype(
    n_subjects, n_rois, n_timepoints, n_networks
):
    X, pheno, networks = make_brain_dynamics(
        n_subjects,
        n_rois,
        n_timepoints,
        n_networks=n_networks,
        random_state=0,
        return_networks=True,
    )
    assert X.shape == (n_subjects, n_rois, n_timepoints)
    assert X.dtype == np.float32
    assert np.all(np.isfinite(X))
    assert pheno.shape == (n_subjects, 9)
    assert networks.shape == (n_rois,)
    assert_array_equal(np.unique(networks), np.arange(n_networks))
    # contiguous blocks, as documented
    assert np.all(np.diff(networks) >= 0)


def test_make_brain_dynamics_phenotypes_table():
    X, pheno = make_brain_dynamics(30, 10, 40, n_networks=2, random_state=1)
    assert list(pheno.columns) == [
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
    assert pheno.index.name == "subject_id"
    assert pheno.index[0] == "sub-000" and pheno.index[-1] == "sub-029"
    assert set(pheno["sex"].unique()) <= {0, 1}
    assert set(pheno["diagnosis"].unique()) <= {0, 1}
    assert pheno["age"].between(18, 90).all()
    assert pheno["coupling"].between(0.6, 0.98).all()
    assert (pheno[["timescale", "network_gain", "cross_gain"]] > 0).all().all()
    assert pheno.attrs["tr"] == 2.0


def test_make_brain_dynamics_default_has_no_networks():
    out = make_brain_dynamics(2, 5, 10, n_networks=2, random_state=0)
    assert len(out) == 2


def test_make_brain_dynamics_is_deterministic():
    a = make_brain_dynamics(4, 10, 30, n_networks=2, random_state=7)
    b = make_brain_dynamics(4, 10, 30, n_networks=2, random_state=7)
    c = make_brain_dynamics(4, 10, 30, n_networks=2, random_state=8)
    assert_array_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert not a[1]["age"].equals(c[1]["age"])


def test_make_brain_dynamics_subject_parameters_do_not_depend_on_length():
    _, short = make_brain_dynamics(5, 10, 20, n_networks=2, random_state=3)
    _, long = make_brain_dynamics(5, 10, 80, n_networks=2, random_state=3)
    pd.testing.assert_frame_equal(short, long)


def test_make_brain_dynamics_scanner_like_scale(cohort):
    X = cohort[0].astype(np.float64)
    means, sds = X.mean(axis=2), X.std(axis=2)
    assert 100 < np.median(means) < 10_000
    # fluctuations are 0.5-2 % of the baseline, as documented
    assert np.all((sds / means > 0.004) & (sds / means < 0.025))


def test_make_brain_dynamics_is_autocorrelated_not_white(cohort):
    assert 0.3 < _lag1_autocorrelation(cohort[0]) < 0.98


def test_make_brain_dynamics_noise_lowers_autocorrelation():
    clean, _ = make_brain_dynamics(10, 20, 100, noise_level=0.0, random_state=0)
    noisy, _ = make_brain_dynamics(10, 20, 100, noise_level=1.0, random_state=0)
    assert _lag1_autocorrelation(clean) > _lag1_autocorrelation(noisy) + 0.1


def test_make_brain_dynamics_autocorrelation_at_short_tr():
    X, _ = make_brain_dynamics(5, 20, 150, tr=0.72, random_state=0)
    assert _lag1_autocorrelation(X) > 0.6


def test_make_brain_dynamics_fc_is_modular(cohort):
    X, _, networks = cohort
    corr = _correlations(X)
    same = networks[:, None] == networks[None, :]
    off_diagonal = ~np.eye(networks.size, dtype=bool)
    within = corr[:, same & off_diagonal].mean()
    between = corr[:, ~same].mean()
    assert within > between + 0.1
    assert between > 0  # networks are coupled, not independent


@pytest.mark.parametrize("label", ["diagnosis", "sex"])
def test_make_brain_dynamics_labels_need_fc_not_means(cohort, label):
    X, pheno, _ = cohort
    y = pheno[label].to_numpy()
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    fc_score = cross_val_score(
        LogisticRegression(max_iter=2000),
        _fc_features(X),
        y,
        cv=cv,
        scoring="balanced_accuracy",
    ).mean()
    X64 = X.astype(np.float64)
    moments = np.concatenate([X64.mean(axis=2), X64.std(axis=2)], axis=1)
    moment_score = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        moments,
        y,
        cv=cv,
        scoring="balanced_accuracy",
    ).mean()
    assert fc_score > 0.7
    assert moment_score < 0.65


def test_make_brain_dynamics_age_is_predictable_from_fc(cohort):
    X, pheno, _ = cohort
    age = pheno["age"].to_numpy()
    pred = cross_val_predict(
        RidgeCV(alphas=np.logspace(-3, 3, 13)),
        _fc_features(X),
        age,
        cv=KFold(n_splits=5, shuffle=True, random_state=0),
    )
    assert np.corrcoef(pred, age)[0, 1] > 0.3


def test_make_brain_dynamics_coupling_raises_fc(cohort):
    X, pheno, _ = cohort
    mean_fc = _fc_features(X).mean(axis=1)
    assert np.corrcoef(mean_fc, pheno["coupling"])[0, 1] > 0.3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_subjects": 0}, "n_subjects must be a positive integer"),
        ({"n_rois": -3}, "n_rois must be a positive integer"),
        ({"n_timepoints": 2.5}, "n_timepoints must be a positive integer"),
        ({"n_subjects": True}, "n_subjects must be a positive integer"),
        ({"n_networks": 0}, "n_networks must be a positive integer"),
        ({"n_rois": 4, "n_networks": 5}, "n_networks must be at most n_rois=4"),
        ({"tr": 0.0}, "tr must be a positive finite number"),
        ({"tr": -2}, "tr must be a positive finite number"),
        ({"tr": float("nan")}, "tr must be a positive finite number"),
        ({"noise_level": -0.1}, "noise_level must be a non-negative"),
        ({"noise_level": float("inf")}, "noise_level must be a non-negative"),
    ],
)
def test_make_brain_dynamics_rejects_bad_parameters(kwargs, match):
    params = {"n_subjects": 2, "n_rois": 10, "n_timepoints": 20, "n_networks": 2}
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_brain_dynamics(**params, random_state=0)


def _group_fc(X):
    return np.mean([np.corrcoef(x) for x in X], axis=0)[np.triu_indices(X.shape[1], 1)]


def test_connectome_random_state_shares_the_wiring_between_cohorts():
    shape = {"n_subjects": 40, "n_rois": 16, "n_timepoints": 120, "n_networks": 4}
    site_a, _ = make_brain_dynamics(**shape, random_state=1, connectome_random_state=7)
    site_b, pheno_b = make_brain_dynamics(
        **shape, tr=1.0, noise_level=0.8, random_state=2, connectome_random_state=7
    )
    other, _ = make_brain_dynamics(**shape, random_state=2, connectome_random_state=8)
    same = np.corrcoef(_group_fc(site_a), _group_fc(site_b))[0, 1]
    different = np.corrcoef(_group_fc(site_a), _group_fc(other))[0, 1]
    # Other subjects and scanner, one wiring: the group FC agrees far better
    # than with a cohort on another wiring.
    assert same > 0.8
    assert same > different + 0.2
    # The subjects are other subjects: their labels are drawn afresh.
    _, pheno_same_seed = make_brain_dynamics(
        **shape, tr=1.0, noise_level=0.8, random_state=2
    )
    assert_array_equal(pheno_b["sex"], pheno_same_seed["sex"])


def test_connectome_random_state_none_changes_nothing():
    shape = {"n_subjects": 3, "n_rois": 8, "n_timepoints": 30, "n_networks": 2}
    X, _ = make_brain_dynamics(**shape, random_state=3)
    X_none, _ = make_brain_dynamics(
        **shape, random_state=3, connectome_random_state=None
    )
    assert_array_equal(X, X_none)
