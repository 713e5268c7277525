"""Tests for the 6/2/2 splits, the metrics and linear_probe."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
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
    with pytest.raises(ValueError, match="single class"):
        linear_probe(pre, X, np.zeros(60, dtype=int))
    with pytest.raises(ValueError, match="model must be"):
        linear_probe(object(), X, pheno["sex"])


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
