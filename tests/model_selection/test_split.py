"""The 6/2/2 train/validation/test splits."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_brainjepa import TrainValTestSplit, train_val_test_split


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


@pytest.mark.parametrize(
    "y, groups, message",
    [
        # scikit-learn said "The least populated class in y has only 1 member".
        ([0, 1, 0], None, r"^3 samples cannot make a 0\.6/0\.2/0\.2 "
         r"train/validation/test split stratified by class: with 2 classes it "
         r"needs at least 7 samples and 3 of every class .* class '1' has 1;"),
        (None, [0, 1], r"^2 groups cannot make .*at least 3 groups"),
        (None, [0, 0, 1, 1], r"^2 groups cannot make .*at least 3 groups"),
    ],
)  # fmt: skip
def test_too_few_samples_say_how_many_the_split_needs(y, groups, message):
    n = len(y if y is not None else groups)
    cv = TrainValTestSplit(n_repeats=2, random_state=0)
    with pytest.raises(ValueError, match=message):
        list(cv.split(np.zeros(n), y, groups))


def test_the_number_asked_for_splits():
    y = np.array([0, 1] * 3 + [0])  # 7 samples, 3 of the rarer class
    cv = TrainValTestSplit(n_repeats=3, random_state=0)
    for train, val, test in cv.split_with_test(np.zeros(7), y):
        for part in (train, val, test):
            assert set(y[part]) == {0, 1}
    assert len(list(cv.split(np.zeros(3), None))) == 3  # one sample per part
