"""What the probes do with their targets: the task chosen, and targets refused.

Every case runs ``probe_features`` on random features (no model needed), and
``linear_probe`` where the order of the checks matters.
"""

import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from sk_brainjepa import BrainJEPAPretrainer, linear_probe, probe_features
from sk_brainjepa._utils._targets import infer_task, is_classification_target
from sk_brainjepa.estimators._monitor import probe_score

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
    score = probe_score(features, ages, random_state=0)
    assert np.isfinite(score) and score < 0.5


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
        assert np.isfinite(table.loc["mean", "n_test"])


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
