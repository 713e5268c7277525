"""linear_probe and probe_features: frames, readouts, and the targets they take.

The target cases run ``probe_features`` on random features (no model needed), and
``linear_probe`` where the order of the checks matters.
"""

import copy
import logging
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
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
)
from sk_brainjepa._utils._targets import infer_task, is_classification_target
from sk_brainjepa.estimators._monitor import check_monitor, probe_score

N = 40


@pytest.fixture
def features(rng):
    return rng.standard_normal((N, 5))


def _ages(rng, n=N):
    return rng.integers(20, 81, size=n)


def _task_warnings(caught):
    return [w for w in caught if "task=" in str(w.message)]


# --------------------------------------------------------------- task choice


@pytest.mark.parametrize(
    "make_y, task",
    [
        (lambda rng: np.array(["ctl", "asd"] * (N // 2)), "classification"),
        (lambda rng: np.array([True, False] * (N // 2)), "classification"),
        (lambda rng: np.arange(N) % 2, "classification"),  # 0/1
        (lambda rng: (np.arange(N) % 2 + 1).astype(float), "classification"),  # 1./2.
        (
            lambda rng: pd.Series(np.arange(N) % 4 * 10, dtype="category"),
            "classification",
        ),
        (lambda rng: np.array(["a", "b", "c", "d"] * (N // 4)), "classification"),
        (_ages, "regression"),  # integer ages 20..80
        (lambda rng: _ages(rng).astype(float), "regression"),  # ages as floats
        (lambda rng: rng.normal(size=N), "regression"),
        (lambda rng: pd.Series(_ages(rng), dtype=object), "regression"),
    ],
)
def test_clear_targets_choose_their_task_silently(features, rng, make_y, task):
    y = make_y(rng)
    assert infer_task(y) == (task, None)
    assert is_classification_target(y) == (task == "classification")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = probe_features(features, y, n_repeats=2, random_state=0)
    assert not _task_warnings(caught)
    assert table.attrs["task"] == task
    score = "balanced_accuracy" if task == "classification" else "r2"
    assert score in table.columns


@pytest.mark.parametrize(
    "y, task, other, shown",
    [
        (np.arange(N) % 5, "classification", "regression", r"5 distinct integer"),
        (np.arange(N) % 3 + 1.0, "classification", "regression", r"\(1, 2, 3\)"),
        ((np.arange(N) % 4) * 0.5 + 0.25, "regression", "classification", r"only 4"),
    ],
)
def test_ambiguous_numeric_targets_warn_and_say_how_to_choose(
    features, y, task, other, shown
):
    message = (
        rf"{shown}.*could be class labels or real values: task='auto' chose "
        rf"{task}\. Pass task='{task}'.*or task='{other}'"
    )
    with pytest.warns(UserWarning, match=message):
        table = probe_features(features, y, n_repeats=2, random_state=0)
    assert table.attrs["task"] == task
    # Choosing the task explicitly silences the warning.
    for chosen in (task, other):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table = probe_features(
                features, y, task=chosen, n_repeats=2, random_state=0
            )
        assert not _task_warnings(caught)
        assert table.attrs["task"] == chosen


@pytest.mark.parametrize(
    "y", [[23, 35, 41, 57, 62], [0.5, 0.25, 1.0], np.arange(9) * 2.5]
)
def test_few_values_that_never_repeat_are_real_values(y):
    # Each would be a class of one subject: no classification possible.
    assert infer_task(y) == ("regression", None)


def test_the_chosen_task_is_logged(features, rng, caplog):
    with caplog.at_level(logging.INFO, logger="sk_brainjepa.model_selection._probe"):
        probe_features(features, _ages(rng), n_repeats=2, random_state=0)
    assert any(
        "probe_features: regression of y" in record.getMessage()
        for record in caplog.records
    )


def test_the_monitor_probes_integer_ages_as_a_regression(features, rng):
    # probe_score reports R^2 for a regression; balanced accuracy would lie in
    # [0, 1] and fail outright on 60 classes of one or two subjects.
    ages = _ages(rng)
    X_val, y, task = check_monitor((features, ages))
    assert task == "regression"
    score = probe_score(features, y, random_state=0, task=task)
    assert np.isfinite(score) and score < 0.5


@pytest.mark.parametrize(
    ("task", "metric"), [("classification", "balanced_accuracy"), ("regression", "r2")]
)
def test_the_monitor_scores_by_the_probe_protocol(features, rng, task, metric):
    # The monitor's number is probe_features' mean row for the same seed: 5
    # repeats of 6/2/2, the default grid chosen on validation (#22).
    y = _ages(rng) if task == "regression" else np.arange(len(features)) % 2
    expected = probe_features(features, y, task=task, random_state=3)
    score = probe_score(features, y, random_state=3, task=task)
    assert score == expected.loc["mean", metric]


def test_the_monitor_refuses_too_few_subjects_for_the_splits():
    few = np.zeros((5, 3))
    with pytest.raises(ValueError, match="has 5 subjects; .* need at least 6"):
        check_monitor((few, np.arange(5.0)), "regression")


def test_the_monitor_warns_on_an_ambiguous_label_and_takes_monitor_task(features):
    levels = np.arange(len(features)) % 4  # 0..3: class codes or a score?
    with pytest.warns(UserWarning, match="task='auto' chose classification"):
        assert check_monitor((features, levels))[2] == "classification"
    assert check_monitor((features, levels), "regression")[2] == "regression"


# ------------------------------------------------------- targets refused


@pytest.mark.parametrize(
    "y, kwargs, match",
    [
        (np.full(N, 3.0), {}, r"y is constant \(3\.0 for all 40 subjects\)"),
        (np.full(N, 3.0), {"task": "regression"}, r"y is constant"),
        (np.full(N, 7), {}, r"y is constant \(7 for all"),
        (np.array(["ctl"] * N), {}, r"y has a single class \('ctl'\) for all 40"),
        (np.ones(N), {"task": "classification"}, "y has a single class"),
        (
            np.where(np.arange(N) == 3, np.nan, np.arange(N) * 1.5),
            {},
            r"y has missing values \(NaN or None\): 1 value, at position 3\.",
        ),
        (
            pd.Series(["a", "b"] * 19 + [None, "a"]),
            {},
            r"y has missing values .* at position 38",
        ),
        (
            np.where(np.arange(N) % 10 == 0, np.inf, np.arange(N) * 1.5),
            {"task": "regression"},
            r"y has infinite values: 4 values, at positions 0, 10, 20, 30",
        ),
        (
            pd.Series([1.5, -np.inf] + [2.5, 4.0] * 19, dtype=object),
            {},
            r"y has infinite values: 1 value, at position 1",
        ),
        (
            np.arange(N) * 0.37,
            {"task": "classification"},
            r"at least 3 of every class .*'0\.37': 1",
        ),
        (np.array(["a", "b"] * (N // 2)), {"task": "regression"}, "needs numbers"),
    ],
)
def test_unprobeable_targets_are_refused_naming_y(features, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        probe_features(features, y, n_repeats=2, random_state=0, **kwargs)


@pytest.mark.parametrize(
    "n, y, kwargs, match",
    [
        (
            3,
            [0, 1, 0],
            {},
            r"y has 3 subjects, too few for train/validation/test splits with "
            r"ratios \(0\.6, 0\.2, 0\.2\) stratified by class: they need at least "
            r"7 subjects, and at least 3 of every class .*'1': 1, '0': 2",
        ),
        (
            3,
            [0.1, 1.2, 0.4],
            {},
            r"y has 3 subjects, too few .*: they need at least 6 subjects",
        ),
        (
            5,
            [0.1, 1.2, 0.4, 2.0, 3.3],
            {},
            r"y has 5 subjects, too few .*: they need at least 6 subjects",
        ),
        (
            N,
            [0] * (N - 1) + [1],
            {},
            r"y has 40 subjects, too few .* at least 3 of every class .*'1': 1",
        ),
        (
            N,
            np.arange(N) % 5,
            {"task": "classification", "ratios": (0.8, 0.1, 0.1)},
            r"ratios \(0\.8, 0\.1, 0\.1\) stratified by class: they need at least "
            r"42 subjects",
        ),
        (
            N,
            np.arange(N) * 1.5,
            {"groups": np.arange(N) // 8},
            r"y has 40 subjects in 5 groups, too few .* at least 6 groups",
        ),
    ],
)
def test_too_few_subjects_for_the_splits_are_refused(rng, n, y, kwargs, match):
    features = rng.standard_normal((n, 5))
    with pytest.raises(ValueError, match=match):
        probe_features(features, y, n_repeats=2, random_state=0, **kwargs)


def test_the_minimum_given_is_enough(rng):
    # The counts the messages ask for do split and probe.
    for y, task, ratios in (
        ([0, 1] * 3 + [0], "auto", (0.6, 0.2, 0.2)),
        (np.arange(6) * 1.5, "auto", (0.6, 0.2, 0.2)),
        (np.arange(42) % 5, "classification", (0.8, 0.1, 0.1)),
    ):
        features = rng.standard_normal((len(y), 3))
        table = probe_features(
            features, y, task=task, ratios=ratios, n_repeats=3, random_state=0
        )
        assert np.isfinite(table.loc["mean", table.columns[-1]])
        assert (table.loc[[0, 1, 2], "n_test"] >= 1).all()


def test_grouped_training_part_with_a_single_class_is_refused(rng):
    # Groups rule out stratification; one group holds the only positives.
    y = np.array([1] * 4 + [0] * 36)
    groups = np.arange(40) // 4
    features = rng.standard_normal((40, 3))
    with pytest.raises(ValueError, match=r"y has a single class in the training part"):
        probe_features(features, y, groups=groups, n_repeats=5, random_state=0)


def test_linear_probe_refuses_the_target_before_loading_the_model(rng):
    # An unfitted pretrainer fails as soon as it is loaded: the target error
    # shows that the target was checked first.
    X = rng.standard_normal((N, 6, 32))
    with pytest.raises(ValueError, match="y is constant"):
        linear_probe(BrainJEPAPretrainer(), X, np.zeros(N))
    with pytest.raises(ValueError, match=r"y has 3 subjects, too few"):
        linear_probe(BrainJEPAPretrainer(), X[:3], [0, 1, 0])
    with pytest.raises(ValueError, match="pretrainer is not fitted"):
        linear_probe(BrainJEPAPretrainer(), X, np.arange(N) % 2)


@pytest.fixture(scope="module")
def cohort():
    X, pheno = make_brain_dynamics(
        n_subjects=60, n_rois=10, n_timepoints=64, random_state=0
    )
    X = ROIRobustScaler().fit_transform(X)
    pre = BrainJEPAPretrainer(
        window_length=64, max_epochs=1, batch_size=20, random_state=0
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
    assert (table.loc[[0, 1, 2], "n_test"] == 12).all()
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


def test_summary_rows_average_the_scores_only(rng):
    # The mean row held "repeat 2.000" and "regularization 200.062", and the
    # counts printed as floats.
    from sk_brainjepa.model_selection._metrics import format_scores

    y = np.arange(40) % 2
    table = probe_features(rng.standard_normal((40, 3)), y, n_repeats=3, random_state=0)
    described = ["repeat", "n_train", "n_val", "n_test", "regularization"]
    assert table.loc[["mean", "std"], described].isna().all().all()
    assert list(table.loc[[0, 1, 2], "repeat"]) == [0, 1, 2]
    assert (table.loc[[0, 1, 2], "n_train"] == 24).all()
    assert table.loc[[0, 1, 2], "regularization"].notna().all()  # per repeat
    for column in ("repeat", "n_train", "n_val", "n_test"):
        assert str(table[column].dtype) == "Int64"
    assert table.loc["mean", "accuracy"] == pytest.approx(
        table.loc[[0, 1, 2], "accuracy"].mean()
    )
    lines = format_scores(table).splitlines()
    assert lines[1].split()[:5] == ["0", "0", "24", "8", "8"]
    mean = lines[-2].split()
    assert mean[0] == "mean" and len(mean) == 1 + 4  # four scores, nothing else
    assert "24.000" not in format_scores(table)
