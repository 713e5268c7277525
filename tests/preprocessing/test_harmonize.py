"""ComBatHarmonizer: known site effects removed, training estimates only, routing."""

import pickle
import sys

import numpy as np
import pandas as pd
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("combatlearn")

from sk_brainjepa.datasets import make_brain_dynamics  # noqa: E402
from sk_brainjepa.model_selection import metadata_scorer  # noqa: E402
from sk_brainjepa.preprocessing import (  # noqa: E402
    ComBatHarmonizer,
    FunctionalConnectivity,
)

SITES = np.repeat(["a", "b", "c"], 30)


def _routed(**params):
    """A harmoniser that requests sites (and covariates) for fit and transform."""
    request = {"sites": True, "covariates": "covariates" in params}
    return (
        ComBatHarmonizer(**params.get("init", {}))
        .set_fit_request(**request)
        .set_transform_request(**request)
    )


@pytest.fixture
def shifted(rng):
    """Features with known per-site offsets and scales: (X, sites)."""
    base = rng.normal(size=(90, 20))
    offset = {"a": 0.0, "b": 3.0, "c": -2.0}
    scale = {"a": 1.0, "b": 2.5, "c": 0.4}
    per_feature = rng.normal(size=(3, 20))
    X = np.empty_like(base)
    for k, site in enumerate("abc"):
        rows = SITES == site
        X[rows] = offset[site] + per_feature[k] + scale[site] * base[rows]
    return X, SITES


def _site_stats(X, sites):
    means = np.array([X[sites == s].mean(axis=0) for s in np.unique(sites)])
    sds = np.array([X[sites == s].std(axis=0) for s in np.unique(sites)])
    return means, sds


def test_removes_a_known_offset_and_scale(shifted):
    X, sites = shifted
    means, sds = _site_stats(X, sites)
    assert np.ptp(means, axis=0).min() > 2.0
    before = sds.max(axis=0) / sds.min(axis=0)
    assert before.min() > 3.0
    Xh = ComBatHarmonizer().fit_transform(X, sites=sites)
    means, sds = _site_stats(Xh, sites)
    assert np.ptp(means, axis=0).max() < 0.2
    # combatlearn's parametric priors pool each feature's scales across the
    # (three) sites, which pulls them together: the SD ratio of about 6 is
    # only reduced. Its other estimate shrinks within each site and
    # equalises them.
    after = sds.max(axis=0) / sds.min(axis=0)
    assert np.median(after) < 2.0 and after.max() < before.min()
    Xn = ComBatHarmonizer(parametric=False).fit_transform(X, sites=sites)
    means, sds = _site_stats(Xn, sites)
    assert np.ptp(means, axis=0).max() < 0.2
    assert np.median(sds.max(axis=0) / sds.min(axis=0)) < 1.25
    # mean_only leaves the scales.
    Xm = ComBatHarmonizer(mean_only=True).fit_transform(X, sites=sites)
    means, sds = _site_stats(Xm, sites)
    assert np.ptp(means, axis=0).max() < 0.2
    assert (sds.max(axis=0) / sds.min(axis=0)).min() > 3.0


def test_protected_covariate_keeps_its_effect(rng):
    # Age raises every feature by 0.1 per year; site b is 20 years older and
    # also shifted by +2. Without protection, ComBat takes age for site.
    n = 60
    sites = np.repeat(["a", "b"], n // 2)
    age = rng.normal(40, 5, n) + np.where(sites == "b", 20.0, 0.0)
    X = 0.1 * age[:, None] + np.where(sites == "b", 2.0, 0.0)[:, None]
    X = X + 0.3 * rng.normal(size=(n, 15))
    covariates = pd.DataFrame({"age": age})

    def slope(Xh):
        return np.polyfit(age, Xh.mean(axis=1), 1)[0]

    kept = ComBatHarmonizer().fit(X, sites=sites, covariates=covariates)
    assert kept.method_ == "fortin"
    assert slope(kept.transform(X, sites=sites, covariates=covariates)) == (
        pytest.approx(0.1, rel=0.1)
    )
    lost = ComBatHarmonizer().fit(X, sites=sites)
    assert lost.method_ == "johnson"
    assert slope(lost.transform(X, sites=sites)) < 0.06


def test_transform_uses_the_training_estimates_only(shifted):
    X, sites = shifted
    train = np.arange(90) % 3 != 0
    test = ~train
    combat = ComBatHarmonizer().fit(X[train], sites=sites[train])
    learnt = pickle.dumps(combat.model_)
    out = combat.transform(X[test], sites=sites[test])
    # Transforming changes nothing that was learnt.
    assert pickle.dumps(combat.model_) == learnt
    # Each row depends only on itself and its site: other test rows (even
    # wildly different ones) do not move it.
    changed = X[test].copy()
    changed[1:] = 100.0 + 10.0 * changed[1:]
    assert_allclose(combat.transform(changed, sites=sites[test])[0], out[0])
    assert_allclose(combat.transform(X[test][:1], sites=sites[test][:1])[0], out[0])
    # Refitting with the test rows included would give other values.
    refit = ComBatHarmonizer().fit(X, sites=sites)
    assert not np.allclose(refit.transform(X[test], sites=sites[test]), out)


def test_categorical_covariate_coding_is_fixed_in_fit(rng):
    n = 60
    sites = np.tile(["a", "b"], n // 2)
    sex = np.repeat(["F", "M", "X"], n // 3)
    X = rng.normal(size=(n, 6)) + (sex == "M")[:, None] + (sites == "b")[:, None]
    covariates = pd.DataFrame({"sex": sex, "age": rng.normal(40, 5, n)})
    combat = ComBatHarmonizer().fit(X, sites=sites, covariates=covariates)
    coding = combat.covariate_coding_
    assert list(coding.categories) == ["sex"] and coding.continuous == ["age"]
    full = combat.transform(X, sites=sites, covariates=covariates)
    # A part holding one category is coded as in fit, not re-dummified.
    males = sex == "M"
    part = combat.transform(
        X[males],
        sites=sites[males],
        covariates=covariates[males].reset_index()[["sex", "age"]],
    )
    assert_allclose(part, full[males])
    # Arrays: numbers are continuous unless named by position.
    as_array = ComBatHarmonizer(categorical_covariates=[0]).fit(
        X, sites=sites, covariates=np.c_[(sex == "M").astype(float), np.arange(n)]
    )
    assert list(as_array.covariate_coding_.categories) == [0]


@pytest.fixture(scope="module")
def confounded():
    """FC features whose label is carried by the site only.

    Four sites with site effects; in sites 0 and 1 exactly 80 % of subjects
    have label 1, in sites 2 and 3 20 %. Labels are drawn independently of
    the data, so a classifier can only predict them through the site.
    """
    X, pheno = make_brain_dynamics(
        n_subjects=240,
        n_rois=12,
        n_timepoints=100,
        n_sites=4,
        site_effect=1.0,
        random_state=0,
    )
    features = FunctionalConnectivity(output="vector").fit_transform(X)
    sites = pheno["site"].to_numpy()
    rng = np.random.default_rng(10)
    y = np.zeros(len(sites), dtype=int)
    for k, site in enumerate(np.unique(sites)):
        rows = rng.permutation(np.flatnonzero(sites == site))
        y[rows[: round((0.8 if k < 2 else 0.2) * len(rows))]] = 1
    return features, y, sites


def _cv_balanced_accuracy(pipe, features, y, sites, with_sites):
    # Folds stratified by site and label: every training part sees each site.
    strata = np.char.add(sites.astype(str), y.astype(str))
    scores = []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(
        features, strata
    ):
        fit_kw = {"sites": sites[train]} if with_sites else {}
        pred_kw = {"sites": sites[test]} if with_sites else {}
        pipe.fit(features[train], y[train], **fit_kw)
        pred = pipe.predict(features[test], **pred_kw)
        scores.append(balanced_accuracy_score(y[test], pred))
    return float(np.mean(scores))


def test_combat_removes_a_label_that_only_the_site_carries(confounded):
    features, y, sites = confounded

    def clf():
        return [("scale", StandardScaler()), ("clf", LogisticRegression(C=0.1))]

    with sklearn.config_context(enable_metadata_routing=True):
        raw = _cv_balanced_accuracy(Pipeline(clf()), features, y, sites, False)
        harmonised = _cv_balanced_accuracy(
            Pipeline([("combat", _routed()), *clf()]), features, y, sites, True
        )
    # Through the site alone the label is predictable up to 0.8.
    assert raw > 0.65
    assert harmonised < 0.6
    assert raw - harmonised > 0.15


def test_pipeline_routes_sites_in_cross_val_score_and_grid_search(confounded):
    features, y, sites = confounded
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([("combat", _routed()), ("clf", LogisticRegression(C=0.1))])
        cv = StratifiedKFold(3, shuffle=True, random_state=0)
        params = {"sites": sites}
        accuracy = cross_val_score(pipe, features, y, cv=cv, params=params)
        balanced = cross_val_score(
            pipe,
            features,
            y,
            cv=cv,
            params=params,
            scoring=metadata_scorer("balanced_accuracy"),
        )
        assert np.all(np.isfinite(accuracy)) and np.all(np.isfinite(balanced))
        assert balanced.mean() < 0.62
        search = GridSearchCV(
            pipe,
            {"clf__C": [0.01, 1.0]},
            cv=cv,
            scoring=metadata_scorer("roc_auc"),
        ).fit(features, y, sites=sites)
        assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
        # A search's predict takes no metadata; its best pipeline's does.
        best = search.best_estimator_
        assert best.predict(features[:4], sites=sites[:4]).shape == (4,)
        assert np.isfinite(search.score(features, y, sites=sites))
        # The pipeline's own score takes the sites too.
        fitted = clone(pipe).fit(features, y, sites=sites)
        assert 0 <= fitted.score(features, y, sites=sites) <= 1


def test_covariates_are_routed_too(rng):
    n = 40
    sites = np.repeat(["a", "b"], n // 2)
    age = rng.normal(40, 5, n)
    X = rng.normal(size=(n, 5)) + age[:, None] / 10
    y = (age > 40).astype(int)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(_routed(covariates=True), LogisticRegression())
        pipe.fit(X, y, sites=sites, covariates=age[:, None])
        assert pipe.predict(X, sites=sites, covariates=age[:, None]).shape == (n,)
        assert pipe[0].method_ == "fortin"


def test_without_routing_the_missing_sites_are_explained(shifted):
    X, sites = shifted
    y = np.arange(90) % 2
    pipe = Pipeline([("combat", ComBatHarmonizer()), ("clf", LogisticRegression())])
    pipe.fit(X, y, combat__sites=sites)  # the old fit-parameter style works
    with pytest.raises(ValueError, match=r"transform needs sites=.*set_fit_request"):
        pipe.predict(X)
    with pytest.raises(ValueError, match=r"fit needs sites=.*90 samples"):
        ComBatHarmonizer().fit(X)


@pytest.mark.parametrize(
    "fit_kw, transform_kw, match",
    [
        ({}, {"sites": np.array(["a", "z"])}, r"site\(s\) \['z'\] were not seen"),
        ({}, {"sites": np.array(["a"])}, r"shape \(n_samples,\) = \(2,\).*\(1,\)"),
        ({}, {"sites": np.array(["a", "b"]), "covariates": [1, 2]}, "fit had none"),
    ],
)
def test_transform_errors(shifted, fit_kw, transform_kw, match):
    X, sites = shifted
    combat = ComBatHarmonizer().fit(X, sites=sites, **fit_kw)
    with pytest.raises(ValueError, match=match):
        combat.transform(X[:2], **transform_kw)


def test_unseen_site_message_names_leave_site_out(shifted):
    X, sites = shifted
    combat = ComBatHarmonizer().fit(X[sites != "c"], sites=sites[sites != "c"])
    with pytest.raises(ValueError, match="leave-site-out"):
        combat.transform(X, sites=sites)


@pytest.mark.parametrize(
    "sites, covariates, params, match",
    [
        (np.append(SITES[:-1], "d"), None, {}, r"\['d'\] have a single sample"),
        (np.repeat("a", 90), None, {}, "single site 'a'"),
        (SITES[:10], None, {}, r"shape \(n_samples,\) = \(90,\).*\(10,\)"),
        (np.append(SITES[:-1].astype(object), None), None, {}, "missing values"),
        (SITES, np.ones((90, 1)), {"method": "johnson"}, "cannot protect"),
        (SITES, np.ones((80, 1)), {}, r"shape \(90, n_covariates\).*\(80, 1\)"),
        (SITES, np.ones((90, 1)), {"categorical_covariates": ["x"]}, r"\['x'\]"),
        (SITES, pd.DataFrame({"a": [np.nan] * 90}), {}, "missing values"),
        (SITES, np.ones((90, 1)), {"method": "combat"}, "method"),
    ],
)
def test_fit_errors(shifted, sites, covariates, params, match):
    X, _ = shifted
    with pytest.raises(ValueError, match=match):
        ComBatHarmonizer(**params).fit(X, sites=sites, covariates=covariates)


def test_covariate_errors_at_transform(rng):
    n = 40
    sites = np.repeat(["a", "b"], n // 2)
    X = rng.normal(size=(n, 4))
    cov = pd.DataFrame({"sex": np.tile(["F", "M"], n // 2), "age": np.arange(n)})
    combat = ComBatHarmonizer().fit(X, sites=sites, covariates=cov)
    with pytest.raises(ValueError, match=r"needs covariates=.*\['sex', 'age'\]"):
        combat.transform(X, sites=sites)
    with pytest.raises(ValueError, match=r"value\(s\) \['X'\] not seen in fit"):
        combat.transform(X[:2], sites=sites[:2], covariates=cov[:2].assign(sex="X"))
    with pytest.raises(ValueError, match=r"columns \['age'\].*\['sex', 'age'\]"):
        combat.transform(X, sites=sites, covariates=cov[["age"]])
    with pytest.raises(ValueError, match="cannot be continuous"):
        ComBatHarmonizer(categorical_covariates=[]).fit(X, sites=sites, covariates=cov)


def test_contract_clone_params_pickle_and_feature_names(shifted):
    X, sites = shifted
    combat = ComBatHarmonizer(method="fortin", parametric=False, mean_only=True)
    assert clone(combat).get_params() == combat.get_params()
    assert combat.set_params(mean_only=False).mean_only is False
    with pytest.raises(NotFittedError):
        combat.transform(X, sites=sites)
    frame = pd.DataFrame(X, columns=[f"edge{i}" for i in range(20)])
    combat.fit(frame, sites=sites)
    assert_array_equal(combat.get_feature_names_out(), frame.columns)
    restored = pickle.loads(pickle.dumps(combat))
    assert_allclose(
        restored.transform(frame, sites=sites), combat.transform(frame, sites=sites)
    )
    with pytest.raises(ValueError, match="feature names"):
        combat.transform(frame.iloc[:, :5], sites=sites)
    combat.set_output(transform="pandas")
    assert list(combat.transform(frame, sites=sites).columns) == list(frame.columns)
    with sklearn.config_context(enable_metadata_routing=True):
        requested = clone(_routed())
        routing = requested.get_metadata_routing()
        assert routing.fit.requests["sites"] is True
        assert routing.transform.requests["sites"] is True


def test_missing_combatlearn_names_the_extra(shifted, monkeypatch):
    X, sites = shifted
    monkeypatch.setitem(sys.modules, "combatlearn.core", None)
    with pytest.raises(ImportError, match=r'pip install "sk_brainjepa\[harmonize\]"'):
        ComBatHarmonizer().fit(X, sites=sites)
