"""Tests for the 6/2/2 splits, the metrics and linear_probe."""

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_brainjepa import (
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    FunctionalConnectivity,
    ROIRobustScaler,
    TrainValTestSplit,
    linear_probe,
    make_brain_dynamics,
    probe_features,
    train_val_test_split,
)
from sk_brainjepa.model_selection import classification_scores, regression_scores


@pytest.mark.parametrize("n_samples", [20, 37, 100])
@pytest.mark.parametrize("seed", [0, 1])
def test_splits_are_disjoint_cover_everything_and_respect_ratios(n_samples, seed):
    y = np.arange(n_samples) % 2
    cv = TrainValTestSplit(n_repeats=4, random_state=seed)
    triples = list(cv.split_with_test(np.zeros(n_samples), y))
    assert len(triples) == 4 == cv.get_n_splits()
    for train, val, test in triples:
        assert not set(train) & set(val) and not set(train) & set(test)
        assert not set(val) & set(test)
        assert sorted(np.concatenate([train, val, test])) == list(range(n_samples))
        assert abs(len(test) - 0.2 * n_samples) <= 1
        assert abs(len(val) - 0.2 * n_samples) <= 1.5
    # The cv= view never yields a test index of its repeat.
    for (train, val), (_, _, test) in zip(
        cv.split(np.zeros(n_samples), y), triples, strict=True
    ):
        assert not (set(train) | set(val)) & set(test)


def test_splits_are_stratified_seeded_and_vary_across_repeats():
    y = np.array([0] * 30 + [1] * 10)
    cv = TrainValTestSplit(n_repeats=3, random_state=0)
    first = list(cv.split_with_test(np.zeros(40), y))
    again = list(
        TrainValTestSplit(n_repeats=3, random_state=0).split_with_test(np.zeros(40), y)
    )
    for a, b in zip(first, again, strict=True):
        for part_a, part_b in zip(a, b, strict=True):
            assert_array_equal(part_a, part_b)
    assert not np.array_equal(first[0][2], first[1][2])
    for train, val, test in first:
        assert y[test].sum() == 2 and y[val].sum() == 2 and y[train].sum() == 6


def test_groups_stay_on_one_side():
    groups = np.repeat(np.arange(10), 3)  # 10 subjects x 3 windows
    for train, val, test in TrainValTestSplit(3, random_state=0).split_with_test(
        np.zeros(30), None, groups
    ):
        sides = [set(groups[p]) for p in (train, val, test)]
        assert (
            not sides[0] & sides[1]
            and not sides[0] & sides[2]
            and not sides[1] & sides[2]
        )


def test_train_val_test_split_function_and_lists():
    X = [np.zeros((3, 5 + i)) for i in range(10)]
    y = np.array([0, 1] * 5)
    X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(X, y, random_state=0)
    assert (
        isinstance(X_tr, list) and len(X_tr) == 6 and len(X_va) == 2 and len(X_te) == 2
    )
    assert len(y_tr) == 6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ratios": (0.5, 0.5, 0.5)}, "sum to 1"),
        ({"ratios": (0.8, 0.2)}, "three numbers"),
        ({"stratify": "yes"}, "stratify must be"),
    ],
)
def test_split_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_val_test_split(np.zeros((10, 2)), np.arange(10) % 2, **kwargs)


def test_metrics():
    s = classification_scores(
        np.array([0, 1, 1, 0]),
        np.array([0, 1, 0, 0]),
        np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]),
        np.array([0, 1]),
    )
    assert s["accuracy"] == 0.75 and s["balanced_accuracy"] == 0.75
    assert s["f1"] == pytest.approx(2 / 3) and s["roc_auc"] == 1.0
    r = regression_scores([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert r["mse"] == pytest.approx(1 / 3) and r["mae"] == pytest.approx(1 / 3)
    assert r["pearson_r"] == pytest.approx(np.corrcoef([1, 2, 3], [1, 2, 4])[0, 1])


@pytest.fixture(scope="module")
def cohort():
    X, pheno = make_brain_dynamics(
        n_subjects=60, n_rois=10, n_timepoints=64, random_state=0
    )
    X = ROIRobustScaler().fit_transform(X)
    pre = BrainJEPAPretrainer(
        n_timepoints=64, max_epochs=1, batch_size=20, random_state=0
    ).fit(X)
    return X, pheno, pre


def test_linear_probe_returns_documented_frames(cohort, tmp_path):
    X, pheno, pre = cohort
    table = linear_probe(pre, X, pheno["sex"], n_repeats=3, random_state=0)
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == [0, 1, 2, "mean", "std"]
    for col in ("accuracy", "balanced_accuracy", "f1", "roc_auc", "regularization"):
        assert col in table.columns
    assert table.attrs["task"] == "classification"
    assert table.loc["mean", "n_test"] == 12
    assert table.loc["mean", "accuracy"] == pytest.approx(
        table.loc[[0, 1, 2], "accuracy"].mean()
    )
    reg = linear_probe(pre, X, pheno["age"], n_repeats=2, random_state=0, n_jobs=2)
    assert {"mse", "mae", "pearson_r", "r2"} <= set(reg.columns)
    assert reg.attrs["task"] == "regression"
    # The same result from an embedder and from a checkpoint path.
    path = pre.save(tmp_path / "pre.pt")
    again = linear_probe(path, X, pheno["sex"], n_repeats=3, random_state=0)
    pd.testing.assert_frame_equal(table, again)
    emb = BrainJEPAEmbedder(checkpoint=path)
    pd.testing.assert_frame_equal(
        table, linear_probe(emb, X, pheno["sex"], n_repeats=3, random_state=0)
    )


def test_linear_probe_errors(cohort):
    X, pheno, pre = cohort
    with pytest.raises(ValueError, match="X has 60 subjects but y has 59"):
        linear_probe(pre, X, pheno["sex"][:59])
    with pytest.raises(ValueError, match="task must be one of"):
        linear_probe(pre, X, pheno["sex"], task="ranking")
    with pytest.raises(ValueError, match=r"y is constant \(0 for all 60 subjects"):
        linear_probe(pre, X, np.zeros(60, dtype=int))
    with pytest.raises(ValueError, match="y has a single class"):
        linear_probe(pre, X, ["a"] * 60)
    with pytest.raises(TypeError, match="model must be a fitted BrainJEPAPretrainer"):
        linear_probe(object(), X, pheno["sex"])
    with pytest.raises(ValueError, match="gives no 2-D features"):
        linear_probe(
            BrainJEPAEmbedder(pretrainer=pre, readout="tokens"), X, pheno["sex"]
        )


def test_probe_beats_chance_on_fc_features_of_simulated_dynamics():
    """The probing protocol itself finds a dynamics label when the features hold it."""
    X, pheno = make_brain_dynamics(
        n_subjects=120, n_rois=20, n_timepoints=160, random_state=0
    )
    features = FunctionalConnectivity(output="vector", fisher_z=True).fit_transform(X)
    cv = TrainValTestSplit(n_repeats=3, random_state=0)
    y = pheno["diagnosis"].to_numpy()
    scores = []
    for train, val, test in cv.split_with_test(features, y):
        search = GridSearchCV(
            Pipeline(
                [
                    ("scale", StandardScaler()),
                    ("clf", LogisticRegression(max_iter=2000)),
                ]
            ),
            {"clf__C": [0.01, 0.1, 1.0]},
            cv=[(np.arange(len(train)), len(train) + np.arange(len(val)))],
        ).fit(features[np.concatenate([train, val])], y[np.concatenate([train, val])])
        scores.append(search.score(features[test], y[test]))
    assert np.mean(scores) > 0.65


def test_linear_probe_applies_readout_to_a_fitted_embedder(cohort):
    X, pheno, pre = cohort
    embedder = BrainJEPAEmbedder(pretrainer=pre).fit(X)  # readout="mean"
    encoder = embedder.encoder_
    kwargs = dict(n_repeats=2, random_state=0)
    table = linear_probe(embedder, X, pheno["sex"], readout="roi", **kwargs)
    roi = BrainJEPAEmbedder(pretrainer=pre, readout="roi").fit(X).transform(X)
    expected = probe_features(roi, pheno["sex"], **kwargs)
    assert table.attrs["readout"] == "roi"
    assert table.attrs["n_features"] == roi.shape[1] == 10 * embedder.embed_dim_
    pd.testing.assert_frame_equal(table, expected, check_like=False, check_flags=False)
    # The user's embedder is neither changed nor refitted.
    assert embedder.readout == "mean" and embedder.encoder_ is encoder


def test_linear_probe_accepts_an_unfitted_embedder_holding_a_fitted_pretrainer(
    cohort,
):
    X, pheno, pre = cohort
    embedder = BrainJEPAEmbedder(pretrainer=pre)
    table = linear_probe(embedder, X, pheno["sex"], n_repeats=2, random_state=0)
    reference = linear_probe(pre, X, pheno["sex"], n_repeats=2, random_state=0)
    pd.testing.assert_frame_equal(table, reference)
    assert not hasattr(embedder, "encoder_")  # fitted a copy, not the user's


def test_linear_probe_integer_ages_are_a_regression(cohort):
    X, pheno, pre = cohort
    ages = np.round(pheno["age"].to_numpy()).astype(int)
    assert len(np.unique(ages)) > 20
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = linear_probe(pre, X, ages, n_repeats=2, random_state=0)
    # A clear case: no warning about the task.
    assert not [w for w in caught if "task=" in str(w.message)]
    assert table.attrs["task"] == "regression"
    assert {"mse", "r2"} <= set(table.columns)
    assert "balanced_accuracy" not in table.columns


def test_linear_probe_reads_the_given_layout(cohort):
    X, pheno, pre = cohort
    kwargs = dict(n_repeats=2, random_state=0)
    reference = linear_probe(pre, X, pheno["sex"], **kwargs)
    nilearn_like = np.ascontiguousarray(X.transpose(0, 2, 1))  # (subjects, T, R)
    table = linear_probe(
        pre, nilearn_like, pheno["sex"], layout="time_x_rois", **kwargs
    )
    pd.testing.assert_frame_equal(table, reference)
    listed = linear_probe(
        pre, list(nilearn_like), pheno["sex"], layout="time_x_rois", **kwargs
    )
    pd.testing.assert_frame_equal(listed, reference)
    # A given embedder's layout is the default.
    embedder = BrainJEPAEmbedder(pretrainer=pre, layout="time_x_rois")
    pd.testing.assert_frame_equal(
        linear_probe(embedder, nilearn_like, pheno["sex"], **kwargs), reference
    )
    with pytest.raises(ValueError, match=r"looks transposed.*layout='time_x_rois'"):
        linear_probe(pre, nilearn_like, pheno["sex"], **kwargs)
    with pytest.raises(ValueError, match="layout must be one of"):
        linear_probe(pre, X, pheno["sex"], layout="rois", **kwargs)


def test_grid_search_over_a_pipeline_with_a_fitted_pretrainer(cohort):
    X, pheno, pre = cohort
    before = copy.deepcopy(pre.target_encoder_.state_dict())
    embedder = BrainJEPAEmbedder(pretrainer=pre, readout="roi")
    twin = clone(embedder)
    assert twin.pretrainer is pre and twin.readout == "roi"
    assert not hasattr(twin, "encoder_")
    search = GridSearchCV(
        Pipeline(
            [
                ("embed", embedder),
                ("scale", StandardScaler()),
                ("clf", LogisticRegression(max_iter=2000)),
            ]
        ),
        {"clf__C": [0.01, 1.0]},
        cv=3,
        error_score="raise",
    ).fit(X, pheno["sex"])
    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (2,) and np.all(np.isfinite(scores))
    assert search.best_estimator_.named_steps["embed"].pretrainer is pre
    # The shared pretrainer is only read.
    for name, value in pre.target_encoder_.state_dict().items():
        assert torch.equal(value, before[name]), name
