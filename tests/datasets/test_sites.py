"""Sites and repeated runs of make_brain_dynamics: known effects, nothing else moves."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_brainjepa.datasets import make_brain_dynamics

SMALL = {"n_subjects": 7, "n_rois": 9, "n_timepoints": 40, "n_networks": 3}
MECHANISMS = {"lagged_coupling": 1.0, "burstiness": 0.5, "state_switching": 1.0}


def _fc(X):
    Z = np.asarray(X, dtype=np.float64)
    Z = Z - Z.mean(axis=2, keepdims=True)
    Z /= Z.std(axis=2, keepdims=True)
    corr = np.einsum("srt,sqt->srq", Z, Z) / X.shape[2]
    rows, cols = np.triu_indices(X.shape[1], k=1)
    return corr[:, rows, cols]


def test_values_recorded_before_sites_existed_are_reproduced():
    # Printed by make_brain_dynamics before n_sites / runs_per_subject were
    # added (float32 values; the tolerance allows other LAPACK builds).
    X, pheno = make_brain_dynamics(
        n_subjects=4, n_rois=6, n_timepoints=30, n_networks=2, random_state=0
    )
    assert_allclose(
        X[:, 2, 5],
        [1153.6737060547, 934.9177856445, 350.5889892578, 1803.0291748047],
        rtol=1e-5,
    )
    assert_allclose(
        X[1, :, 7],
        [
            2067.3740234375,
            702.8798217773,
            933.089050293,
            845.6858520508,
            623.8577270508,
            802.66796875,
        ],
        rtol=1e-5,
    )
    assert_allclose(
        pheno["age"], [38.676556, 39.205650, 19.956479, 31.292017], rtol=1e-6
    )
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
    assert list(pheno.index) == ["sub-000", "sub-001", "sub-002", "sub-003"]


@pytest.mark.parametrize("mechanisms", [{}, MECHANISMS], ids=["plain", "mechanisms"])
def test_defaults_and_sites_without_effect_change_nothing(mechanisms):
    X, pheno = make_brain_dynamics(**SMALL, **mechanisms, random_state=3)
    X_default, pheno_default = make_brain_dynamics(
        **SMALL,
        **mechanisms,
        n_sites=1,
        site_effect=0.0,
        runs_per_subject=1,
        random_state=3,
    )
    assert_array_equal(X_default, X)
    pd.testing.assert_frame_equal(pheno_default, pheno)
    # Sites switched on without effect: same data, only the site column added.
    X_sites, pheno_sites = make_brain_dynamics(
        **SMALL, **mechanisms, n_sites=3, site_effect=0.0, random_state=3
    )
    assert_array_equal(X_sites, X)
    pd.testing.assert_frame_equal(pheno_sites.drop(columns="site"), pheno)


def test_site_column_is_balanced_and_seeded():
    _, pheno = make_brain_dynamics(
        n_subjects=10,
        n_rois=4,
        n_timepoints=20,
        n_networks=2,
        n_sites=3,
        random_state=0,
    )
    assert list(pheno.columns[-1:]) == ["site"]
    counts = pheno["site"].value_counts()
    assert sorted(counts.index) == ["site-0", "site-1", "site-2"]
    assert counts.max() - counts.min() <= 1
    _, again = make_brain_dynamics(
        n_subjects=10,
        n_rois=4,
        n_timepoints=20,
        n_networks=2,
        n_sites=3,
        random_state=0,
    )
    assert_array_equal(again["site"], pheno["site"])
    _, twelve = make_brain_dynamics(
        n_subjects=12,
        n_rois=4,
        n_timepoints=20,
        n_networks=2,
        n_sites=12,
        random_state=0,
    )
    assert twelve["site"].iloc[0].startswith("site-") and len(set(twelve["site"])) == 12
    assert sorted(twelve["site"])[:2] == ["site-00", "site-01"]


def test_site_effects_leave_labels_and_parameters_alone():
    kwargs = dict(
        n_subjects=12, n_rois=6, n_timepoints=30, n_networks=2, random_state=1
    )
    X, pheno = make_brain_dynamics(**kwargs)
    X_site, pheno_site = make_brain_dynamics(**kwargs, n_sites=3, site_effect=1.0)
    assert not np.allclose(X_site, X)
    same = ["age", "sex", "diagnosis", "coupling", "timescale", "hrf_peak"]
    pd.testing.assert_frame_equal(pheno_site[same], pheno[same])
    # The noise level is the subject's times its site's factor, one per site.
    ratio = pheno_site["noise_sd"] / pheno["noise_sd"]
    assert ratio.groupby(pheno_site["site"]).nunique().max() == 1
    assert ratio.nunique() == 3


@pytest.fixture(scope="module")
def four_sites():
    """FC and sites of two 120-subject cohorts, with and without site effects."""
    out = {}
    for effect in (0.0, 1.0):
        X, pheno = make_brain_dynamics(
            n_subjects=120,
            n_rois=20,
            n_timepoints=100,
            n_sites=4,
            site_effect=effect,
            random_state=0,
        )
        out[effect] = (X, pheno)
    return out


def _site_accuracy(features, sites):
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(model, features, sites, cv=cv).mean()


def test_site_shows_in_fc_only_with_an_effect(four_sites):
    # Four balanced sites: chance is 0.25.
    with_effect = _site_accuracy(_fc(four_sites[1.0][0]), four_sites[1.0][1]["site"])
    without = _site_accuracy(_fc(four_sites[0.0][0]), four_sites[0.0][1]["site"])
    assert with_effect > 0.8
    assert without < 0.4


def test_site_offsets_and_fluctuation_size_are_common_to_the_site(four_sites):
    X, pheno = four_sites[1.0]
    _, pheno0 = four_sites[0.0]
    X0 = four_sites[0.0][0]
    # Same subjects, same baselines up to the site's per-ROI factor: the log
    # ratio of ROI means is one value per site and ROI (the fluctuations
    # around the mean move it by far less than the factors' spread).
    log_ratio = np.log(X.mean(axis=2) / X0.mean(axis=2))
    by_site = pd.DataFrame(log_ratio).groupby(pheno["site"].to_numpy())
    assert by_site.std().to_numpy().max() < 0.01
    assert by_site.mean().to_numpy().std() > 0.1
    # Fluctuation size relative to the mean: one factor per site (divided by
    # the site's noise factor's effect on the total SD, the same for all its
    # subjects).
    rel = (X.std(axis=2) / X.mean(axis=2)) / (X0.std(axis=2) / X0.mean(axis=2))
    per_site = pd.Series(np.median(rel, axis=1)).groupby(pheno["site"].to_numpy())
    assert per_site.median().std() > 0.05
    assert_array_equal(pheno0["site"], pheno["site"])


def test_runs_share_the_subject_and_differ_in_noise():
    X, pheno = make_brain_dynamics(
        n_subjects=30,
        n_rois=20,
        n_timepoints=100,
        runs_per_subject=2,
        n_sites=2,
        random_state=0,
    )
    assert X.shape == (60, 20, 100)
    assert list(pheno.index[:3]) == ["sub-000_run-1", "sub-000_run-2", "sub-001_run-1"]
    assert pheno.index.name == "subject_id"
    assert list(pheno.columns[-3:]) == ["site", "participant_id", "run"]
    assert list(pheno["run"][:4]) == [1, 2, 1, 2]
    assert list(pheno["participant_id"][:4]) == ["sub-000"] * 2 + ["sub-001"] * 2
    # Labels, parameters and site are the subject's.
    first, second = pheno.iloc[::2], pheno.iloc[1::2]
    for column in ("age", "sex", "diagnosis", "coupling", "noise_sd", "site"):
        assert_array_equal(first[column].to_numpy(), second[column].to_numpy())
    # Fresh noise: no two runs are equal.
    assert not np.allclose(X[0], X[1])
    # FC of two runs of a subject is closer than that of two subjects.
    fc = _fc(X)
    fc -= fc.mean(axis=0)
    corr = np.corrcoef(fc)
    same = np.array([corr[2 * i, 2 * i + 1] for i in range(30)])
    other = np.array(
        [corr[2 * i, 2 * j] for i in range(30) for j in range(30) if i != j]
    )
    assert same.mean() > other.mean() + 0.1
    # Most subjects' two runs are closer than the median pair of subjects.
    assert np.mean(same > np.median(other)) > 0.7


def test_one_run_keeps_the_subject_table_and_dynamic_labels_are_shared():
    X1, pheno1 = make_brain_dynamics(**SMALL, **MECHANISMS, random_state=3)
    X2, pheno2 = make_brain_dynamics(
        **SMALL, **MECHANISMS, runs_per_subject=3, random_state=3
    )
    assert X2.shape[0] == 3 * X1.shape[0]
    assert "run" not in pheno1 and "participant_id" not in pheno1
    shared = pheno2.drop(columns=["participant_id", "run"]).iloc[::3]
    assert_array_equal(shared.index, [f"{i}_run-1" for i in pheno1.index])
    # Subjects' labels (dynamic ones included) do not depend on the run count.
    assert_array_equal(shared.to_numpy(), pheno1.to_numpy())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_sites": 0}, "n_sites must be a positive integer"),
        ({"n_sites": 9}, r"n_sites must be at most n_subjects=7"),
        ({"site_effect": -1.0}, "site_effect must be a non-negative"),
        ({"runs_per_subject": 0}, "runs_per_subject must be a positive integer"),
        ({"runs_per_subject": 1.5}, "runs_per_subject must be a positive integer"),
    ],
)
def test_bad_site_and_run_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_brain_dynamics(**SMALL, **kwargs, random_state=0)
