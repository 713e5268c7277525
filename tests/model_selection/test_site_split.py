"""Splits by site: site shares kept, one whole site tested, participants kept whole."""

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_array_equal
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate

from sk_brainjepa import TrainValTestSplit, train_val_test_split


@pytest.fixture
def cohort():
    """60 participants x 2 runs at 4 sites (15 participants each), labels 0/1."""
    rng = np.random.default_rng(0)
    participant_site = rng.permutation(np.arange(60) % 4)
    groups = np.repeat([f"sub-{i:02d}" for i in range(60)], 2)
    sites = np.repeat([f"site-{k}" for k in participant_site], 2)
    y = np.tile([0, 1], 60)
    return np.zeros((120, 3)), y, groups, sites


def _participants_on_one_side(groups, parts):
    sides = [set(groups[p]) for p in parts]
    return all(not sides[i] & sides[j] for i in range(3) for j in range(i + 1, 3))


def _cover(parts, n):
    return sorted(np.concatenate(parts).tolist()) == list(range(n))


def test_stratify_keeps_each_site_share_and_participants_whole(cohort):
    X, y, groups, sites = cohort
    cv = TrainValTestSplit(4, by_site="stratify", random_state=0)
    triples = list(cv.split_with_test(X, y, groups, sites=sites))
    assert len(triples) == 4
    for parts in triples:
        assert _cover(parts, 120) and _participants_on_one_side(groups, parts)
        for part, share in zip(parts, (0.6, 0.2, 0.2), strict=True):
            # 15 participants a site: 9 / 3 / 3 of them in every part.
            counts = {s: np.sum(sites[part] == s) for s in np.unique(sites)}
            assert set(counts.values()) == {2 * round(15 * share)}
    # Seeded: the same seed gives the same splits, repeats differ.
    again = list(
        TrainValTestSplit(4, by_site="stratify", random_state=0).split_with_test(
            X, y, groups, sites=sites
        )
    )
    for a, b in zip(triples, again, strict=True):
        for part_a, part_b in zip(a, b, strict=True):
            assert_array_equal(part_a, part_b)
    assert not np.array_equal(triples[0][2], triples[1][2])


def test_stratify_without_groups_keeps_site_and_class_shares(cohort):
    X, y, _, sites = cohort
    cv = TrainValTestSplit(2, by_site="stratify", random_state=1)
    for parts in cv.split_with_test(X, y, sites=sites):
        for part in parts:
            # Every site x class pair (15 samples) is split 9 / 3 / 3.
            pairs = {(s, c) for s, c in zip(sites[part], y[part], strict=True)}
            counts = [
                np.sum((sites[part] == s) & (y[part] == c)) for s, c in sorted(pairs)
            ]
            assert len(pairs) == 8 and len(set(counts)) == 1


def test_stratify_auto_falls_back_to_sites_but_true_does_not(cohort):
    X, _, _, sites = cohort
    y = np.zeros(120, dtype=int)
    y[:3] = 1  # three samples of class 1: site x class strata too small
    parts = next(
        TrainValTestSplit(1, by_site="stratify", random_state=0).split_with_test(
            X, y, sites=sites
        )
    )
    assert _cover(parts, 120)
    for part in parts:
        counts = {np.sum(sites[part] == s) for s in np.unique(sites)}
        assert max(counts) - min(counts) <= 1
    with pytest.raises(ValueError, match="cannot be split by site"):
        next(
            TrainValTestSplit(
                1, by_site="stratify", stratify=True, random_state=0
            ).split_with_test(X, y, sites=sites)
        )


def test_leave_out_tests_one_whole_site_per_repeat(cohort):
    X, y, groups, sites = cohort
    cv = TrainValTestSplit(4, by_site="leave_out", random_state=0)
    held_out = []
    for parts in cv.split_with_test(X, y, groups, sites=sites):
        train, val, test = parts
        assert _cover(parts, 120) and _participants_on_one_side(groups, parts)
        (site,) = np.unique(sites[test])
        assert_array_equal(test, np.flatnonzero(sites == site))
        held_out.append(site)
        # Validation from the other sites, each contributing its share.
        others = set(np.unique(sites)) - {site}
        assert set(sites[val]) == others == set(sites[train])
        assert len({np.sum(sites[val] == s) for s in others}) == 1
    assert sorted(held_out) == sorted(np.unique(sites))
    # Fewer repeats: distinct sites, in an order the seed draws.
    orders = [
        [
            sites[test][0]
            for _, _, test in TrainValTestSplit(
                2, by_site="leave_out", random_state=seed
            ).split_with_test(X, y, groups, sites=sites)
        ]
        for seed in range(6)
    ]
    assert all(len(set(order)) == 2 for order in orders)
    assert len({tuple(order) for order in orders}) > 1


def test_by_site_none_ignores_sites(cohort):
    X, y, groups, sites = cohort
    cv = TrainValTestSplit(2, random_state=0)
    with_sites = list(cv.split_with_test(X, y, groups, sites=sites))
    without = list(cv.split_with_test(X, y, groups))
    for a, b in zip(with_sites, without, strict=True):
        for part_a, part_b in zip(a, b, strict=True):
            assert_array_equal(part_a, part_b)


def test_train_val_test_split_by_site(cohort):
    X, y, groups, sites = cohort
    X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(
        X, y, groups=groups, by_site="leave_out", sites=sites, random_state=0
    )
    assert len(X_te) == 30 and len(X_tr) + len(X_va) == 90
    parts = train_val_test_split(
        X, y, groups=groups, by_site="stratify", sites=sites, random_state=0
    )
    assert [len(p) for p in parts[:3]] == [72, 24, 24]


def test_sites_are_routed_to_split_under_metadata_routing(cohort):
    X, y, groups, sites = cohort
    X = np.random.default_rng(0).normal(size=X.shape)
    cv = TrainValTestSplit(2, by_site="stratify", random_state=0)
    assert cv.get_metadata_routing().split.requests == {
        "groups": True,
        "sites": True,
    }
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=cv)
        search.fit(X, y, groups=groups, sites=sites)
        assert np.isfinite(search.best_score_)
        result = cross_validate(
            LogisticRegression(),
            X,
            y,
            cv=TrainValTestSplit(2, by_site="leave_out", random_state=0),
            params={"sites": sites, "groups": groups},
        )
        assert result["test_score"].shape == (2,)
    # Without routing, scikit-learn passes groups only: the error says so.
    with pytest.raises(ValueError, match=r"by_site='stratify' needs sites="):
        GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=cv).fit(X, y, groups=groups)


@pytest.mark.parametrize(
    "params, sites_of, groups_of, match",
    [
        (
            {"n_repeats": 5, "by_site": "leave_out"},
            "sites",
            "groups",
            r"n_repeats=5 exceeds the 4 sites .*pass n_repeats=4",
        ),
        ({"by_site": "stratify"}, None, "groups", "needs sites="),
        ({"by_site": "stratify"}, "short", None, r"shape \(n_samples,\) = \(120,\)"),
        ({"by_site": "stratify"}, "missing", None, "missing values"),
        ({"by_site": "leave_out"}, "sites", "straddling", "several sites"),
        ({"by_site": "leave_out", "n_repeats": 1}, "one", None, "at least 2 sites"),
        ({"by_site": "site"}, "sites", None, "by_site must be None"),
    ],
)
def test_errors_name_the_problem(cohort, params, sites_of, groups_of, match):
    X, y, groups, sites = cohort
    choices = {
        None: None,
        "sites": sites,
        "short": sites[:10],
        "missing": np.append(sites[:-1].astype(object), None),
        "one": np.repeat("site-0", 120),
        "groups": groups,
        "straddling": np.arange(120) // 3,  # some triples span two sites
    }
    cv = TrainValTestSplit(**params, random_state=0)
    with pytest.raises(ValueError, match=match):
        next(cv.split_with_test(X, y, choices[groups_of], sites=choices[sites_of]))
