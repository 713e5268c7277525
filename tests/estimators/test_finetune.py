"""Tests for the skorch fine-tuners BrainJEPAClassifier and BrainJEPARegressor."""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from sk_brainjepa import (
    BrainJEPAClassifier,
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    BrainJEPARegressor,
    ROIRobustScaler,
    TrainValTestSplit,
    make_brain_dynamics,
)
from sk_brainjepa.nn import layer_id

FAST = dict(max_epochs=3, batch_size=8, random_state=0)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    X, pheno = make_brain_dynamics(
        n_subjects=40, n_rois=8, n_timepoints=32, random_state=0
    )
    X = ROIRobustScaler().fit_transform(X)
    pre = BrainJEPAPretrainer(
        window_length=32, max_epochs=1, batch_size=20, random_state=0
    ).fit(X)
    path = pre.save(tmp_path_factory.mktemp("ckpt") / "pre.pt")
    return X, pheno, pre, path


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_classifier_fits_predicts_with_any_labels(cohort):
    X, pheno, pre, path = cohort
    labels = np.where(pheno["sex"].to_numpy() == 1, "female", "male")
    clf = BrainJEPAClassifier(path, **FAST).fit(X, labels)
    assert set(clf.predict(X)) <= {"female", "male"}
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 2)
    assert_allclose(proba.sum(1), 1, rtol=1e-5)
    assert list(clf.classes_) == ["female", "male"]
    assert clf.n_features_in_ == X.shape[1]
    assert 0.0 <= clf.score(X, labels) <= 1.0
    assert "valid_loss" in clf.history_[-1]


def test_regressor_takes_1d_targets_in_original_units(cohort):
    X, pheno, pre, path = cohort
    age = pheno["age"].to_numpy()
    reg = BrainJEPARegressor(pretrainer=pre, **FAST).fit(X, age)
    pred = reg.predict(X)
    assert pred.shape == (40,)
    # Standardised training: predictions sit on the scale of the targets.
    assert abs(pred.mean() - age.mean()) < 2 * age.std()
    assert reg.target_center_ == pytest.approx(age.mean())


def test_clone_starts_from_pretrained_weights(cohort):
    X, pheno, pre, path = cohort
    clf = BrainJEPAClassifier(path, **FAST).fit(X, pheno["sex"])
    fresh = clone(clf).initialize()
    pretrained = pre.target_encoder_.state_dict()
    for key, value in fresh.module_.encoder.state_dict().items():
        assert torch.equal(value, pretrained[key]), key
    # Fitting moved the weights away from the pretrained ones.
    moved = clf.module_.encoder.state_dict()
    assert any(not torch.equal(moved[k], pretrained[k]) for k in pretrained)
    # Same seed, same head.
    again = clone(clf).initialize()
    assert torch.equal(fresh.module_.head.weight, again.module_.head.weight)


def test_freeze_encoder_trains_only_the_head(cohort):
    X, pheno, pre, path = cohort
    clf = BrainJEPAClassifier(pretrainer=pre, freeze_encoder=True, **FAST).fit(
        X, pheno["sex"]
    )
    pretrained = pre.target_encoder_.state_dict()
    for key, value in clf.module_.encoder.state_dict().items():
        assert torch.equal(value, pretrained[key]), key
    trained = {id(p) for g in clf.optimizer_.param_groups for p in g["params"]}
    assert trained == {
        id(p)
        for p in [*clf.module_.fc_norm.parameters(), *clf.module_.head.parameters()]
    }


def test_layer_decay_really_applies(cohort):
    X, pheno, pre, path = cohort
    clf = BrainJEPAClassifier(
        path, lr=1e-3, layer_decay=0.5, max_epochs=1, random_state=0
    ).initialize()
    depth = clf.module_.encoder.config.depth
    lrs = {}
    for group in clf.optimizer_.param_groups:
        lrs.setdefault(group["layer_id"], set()).add(group["lr"])
    assert lrs[depth + 1] == {1e-3}  # norm and head
    assert lrs[0] == {1e-3 * 0.5 ** (depth + 1)}  # embeddings
    for i in range(depth):
        assert lrs[i + 1] == {1e-3 * 0.5 ** (depth - i)}
    assert layer_id("encoder.blocks.1.attn.qkv.weight", 2) == 2
    assert layer_id("head.weight", 2) == 3


def test_early_stopping_restores_best_weights(cohort):
    X, pheno, pre, path = cohort
    y = pheno["sex"].to_numpy()
    valid = Dataset(X[30:].astype(np.float32), y[30:].astype(np.int64))
    clf = BrainJEPAClassifier(
        pretrainer=pre,
        train_split=predefined_split(valid),
        lr=5e-3,
        max_epochs=8,
        patience=2,
        batch_size=8,
        random_state=0,
    ).fit(X[:30], y[:30])
    losses = clf.history_[:, "valid_loss"]
    with torch.no_grad():
        logits = clf.module_(torch.from_numpy(X[30:].astype(np.float32)))
        final = torch.nn.functional.cross_entropy(logits, torch.tensor(y[30:])).item()
    assert final == pytest.approx(min(losses), rel=1e-4)


def test_determinism_pickle_and_global_rng(cohort):
    X, pheno, pre, path = cohort
    state = torch.get_rng_state()
    a = BrainJEPAClassifier(path, **FAST).fit(X, pheno["sex"])
    b = BrainJEPAClassifier(path, **FAST).fit(X, pheno["sex"])
    assert torch.equal(torch.get_rng_state(), state)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    restored = pickle.loads(pickle.dumps(a))
    assert_array_equal(restored.predict_proba(X), a.predict_proba(X))


def test_grid_search_over_skorch_parameters(cohort):
    X, pheno, pre, path = cohort
    search = GridSearchCV(
        BrainJEPAClassifier(path, max_epochs=2, batch_size=8, random_state=0),
        {"lr": [1e-4, 1e-3], "module__head_norm": ["layernorm", "batchnorm"]},
        cv=TrainValTestSplit(n_repeats=2, random_state=0),
        refit=False,
    ).fit(X, pheno["sex"])
    assert len(search.cv_results_["params"]) == 4
    # A frozen pretrainer survives the cloning of a search, too.
    frozen = GridSearchCV(
        BrainJEPAClassifier(
            pretrainer=FrozenEstimator(pre), max_epochs=1, batch_size=8, random_state=0
        ),
        {"freeze_encoder": [True, False]},
        cv=TrainValTestSplit(2, random_state=0),
    ).fit(X, pheno["sex"])
    assert frozen.predict(X).shape == (40,)


def test_embedder_pipeline_under_grid_search(cohort):
    X, pheno, pre, path = cohort
    pipe = Pipeline(
        [
            ("embed", BrainJEPAEmbedder(checkpoint=path)),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )
    search = GridSearchCV(
        pipe, {"clf__C": [0.1, 1.0]}, cv=TrainValTestSplit(n_repeats=2, random_state=0)
    ).fit(X, pheno["sex"])
    assert search.predict(X).shape == (40,)


def test_bad_parameters(cohort):
    X, pheno, pre, path = cohort
    with pytest.raises(ValueError, match="exactly one of checkpoint"):
        BrainJEPAClassifier(**FAST).fit(X, pheno["sex"])
    with pytest.raises(ValueError, match="'layer_decay' parameter"):
        BrainJEPAClassifier(path, layer_decay=0.0, **FAST).fit(X, pheno["sex"])
    with pytest.raises(ValueError, match="head_norm must be"):
        BrainJEPAClassifier(path, module__head_norm="rms", **FAST).fit(X, pheno["sex"])
    with pytest.raises(ValueError, match="not fitted"):
        BrainJEPAClassifier(pretrainer=clone(pre), **FAST).fit(X, pheno["sex"])


@pytest.mark.parametrize(
    "net, y, match",
    [
        ("classifier", np.zeros(12, dtype=int), "single class"),
        ("regressor", np.r_[np.inf, np.ones(11)], "infinite values"),
        ("regressor", np.r_[np.nan, np.arange(11.0)], "missing values"),
        ("regressor", np.ones(12), "is constant"),
    ],
)
def test_targets_nothing_can_be_learned_from_are_refused(net, y, match):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 6, 32)).astype(np.float32)
    pretrainer = BrainJEPAPretrainer(window_length=32, max_epochs=0, random_state=0)
    cls = BrainJEPAClassifier if net == "classifier" else BrainJEPARegressor
    est = cls(pretrainer=pretrainer.fit(X), max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


def test_grid_search_keeps_a_fitted_pretrainer_without_frozen_estimator():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 6, 32)).astype(np.float32)
    y = np.arange(16) % 2
    pretrainer = BrainJEPAPretrainer(window_length=32, max_epochs=0, random_state=0)
    pretrainer.fit(X)
    net = BrainJEPAClassifier(pretrainer=pretrainer, max_epochs=1, random_state=0)
    assert clone(net).pretrainer is pretrainer
    search = GridSearchCV(net, {"lr": [1e-4, 1e-3]}, cv=2).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
