"""Train / validation / test splits (6/2/2 in the paper), repeated and seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    BaseCrossValidator,
)

from sk_brainjepa._utils._probe_protocol import (  # noqa: F401 (re-exported)
    MIN_PER_CLASS,
    min_units,
    part_sizes,
)
from sk_brainjepa._utils._probe_protocol import three_way_split as _three_way
from sk_brainjepa._utils._random import spawn_seeds
from sk_brainjepa._utils._targets import is_classification_target
from sk_brainjepa._utils._validation import check_int
from sk_brainjepa.model_selection._site_split import (
    SitePlan,
    check_by_site,
    check_sites,
    leave_out_order,
)


def _check_ratios(ratios) -> tuple[float, float, float]:
    try:
        train, val, test = (float(r) for r in ratios)
    except (TypeError, ValueError):
        raise ValueError(
            f"ratios must be three numbers (train, validation, test); got {ratios!r}."
        ) from None
    if min(train, val, test) <= 0 or abs(train + val + test - 1.0) > 1e-6:
        raise ValueError(
            "ratios must be three positive fractions that sum to 1, e.g. "
            f"(0.6, 0.2, 0.2); got {ratios!r}."
        )
    return train, val, test


def _check_enough(n_units: int, unit: str, ratios, y, stratify: bool) -> None:
    """Refuse, in the user's terms, a split scikit-learn would refuse in its own.

    Every part needs a sample (group); stratified, every part needs one
    sample of each class, so each class needs ``MIN_PER_CLASS``.
    """
    shape = "/".join(f"{r:g}" for r in ratios)
    if not stratify:
        needed = min_units(ratios, (1, 1, 1))
        if n_units < needed:
            raise ValueError(
                f"{n_units} {unit} cannot make a {shape} train/validation/test "
                f"split: it needs at least {needed} {unit} (one per part at "
                "least); give more, or change ratios."
            )
        return
    labels, counts = np.unique(np.asarray(y).astype(str), return_counts=True)
    k = len(labels)
    needed = max(min_units(ratios, (k, k, k)), MIN_PER_CLASS * k)
    if n_units < needed or counts.min() < MIN_PER_CLASS:
        rarest = str(labels[np.argmin(counts)])
        raise ValueError(
            f"{n_units} {unit} cannot make a {shape} train/validation/test split "
            f"stratified by class: with {k} classes it needs at least {needed} "
            f"{unit} and {MIN_PER_CLASS} of every class (one per part), and class "
            f"{rarest!r} has {counts.min()}; give more {unit}, or change ratios "
            "or stratify."
        )


def _resolve_stratify(stratify, y, groups):
    if isinstance(stratify, str):
        if stratify != "auto":
            raise ValueError(
                f"stratify must be 'auto', True, False or None; got {stratify!r}."
            )
        return y is not None and groups is None and is_classification_target(y)
    if stratify and groups is not None:
        raise ValueError("stratify and groups cannot be combined; pass one of them.")
    if stratify and y is None:
        raise ValueError("stratify=True needs y.")
    return bool(stratify)


class TrainValTestSplit(BaseCrossValidator):
    """Repeated train / validation / test splits; the test part stays out of selection.

    Each repeat draws a test part, then a validation part from the rest. As a
    ``cv=`` argument of ``GridSearchCV``, ``split`` yields only ``(train,
    validation)`` pairs, so hyperparameters are chosen on the validation part
    and the test indices of that repeat are never fitted or scored.
    :meth:`split_with_test` yields the test indices as well, for the final
    evaluation of each repeat.

    Parameters
    ----------
    n_repeats : int, default=5
        Number of independent splits (the paper reports 5 runs).
    ratios : tuple of float, default=(0.6, 0.2, 0.2)
        Train, validation and test fractions.
    stratify : {"auto", True, False}, default="auto"
        Keep class proportions in each part; "auto" stratifies when ``y``
        holds class labels and no ``groups`` are given.
    by_site : {None, "stratify", "leave_out"}, default=None
        Split by acquisition site (``sites=`` of :meth:`split_with_test` /
        :meth:`split`). ``"stratify"``: every site keeps its share of the
        samples (of the groups) in the train, validation and test parts.
        ``"leave_out"``: the test part of each repeat is one whole site,
        each repeat another (``n_repeats`` at most the number of sites, in a
        seeded order); the validation part is drawn from the other sites,
        stratified by site, with the fractions ``ratios[1] / (ratios[0] +
        ratios[1])`` (the test fraction is the site's). None ignores
        ``sites``.
    random_state : int, RandomState instance or None, default=None

    Notes
    -----
    With ``groups`` (e.g. subject ids of several windows per subject, the
    participant of several runs), all samples of a group fall on one side of
    every split; the fractions then apply to groups, not samples. With
    ``by_site``, every group must belong to one site.

    With ``by_site="stratify"`` and class labels (``stratify`` True, or
    "auto" without groups), the strata are site-by-class pairs; under
    "auto", strata too small to split fall back to sites alone.

    **Metadata routing.** ``split`` requests ``groups`` and ``sites`` by
    default, so under ``sklearn.set_config(enable_metadata_routing=True)``
    ``GridSearchCV(..., cv=TrainValTestSplit(by_site="stratify")).fit(X, y,
    groups=participants, sites=sites)`` and ``cross_validate(..., params=
    {"sites": sites})`` hand them to it (``set_split_request`` changes
    that). Without routing, scikit-learn passes only ``groups``: draw the
    splits with ``list(cv.split(X, y, groups, sites=sites))`` and pass that
    list as ``cv=``.

    ``GridSearchCV(refit=True)`` refits the best model on every row it was
    given, test rows included. For an unbiased test score, pass only the
    training and validation rows to the search of each repeat (see
    ``examples/linear_probe.py``) or use :func:`sk_brainjepa.linear_probe`.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.model_selection import TrainValTestSplit
    >>> y = np.array([0, 1] * 10)
    >>> cv = TrainValTestSplit(n_repeats=2, random_state=0)
    >>> [(len(tr), len(va)) for tr, va in cv.split(np.zeros((20, 1)), y)]
    [(12, 4), (12, 4)]

    One whole site tested per repeat:

    >>> sites = np.repeat(["a", "b", "c", "d"], 5)
    >>> cv = TrainValTestSplit(n_repeats=4, by_site="leave_out", random_state=0)
    >>> sorted(str(sites[test][0]) for _, _, test in
    ...        cv.split_with_test(np.zeros(20), y, sites=sites))
    ['a', 'b', 'c', 'd']
    """

    # Like scikit-learn's group splitters, request groups (and sites) for
    # split by default, so that metadata routing hands them over.
    __metadata_request__split = {"groups": True, "sites": True}

    def __init__(
        self,
        n_repeats=5,
        *,
        ratios=(0.6, 0.2, 0.2),
        stratify="auto",
        by_site=None,
        random_state=None,
    ):
        self.n_repeats = n_repeats
        self.ratios = ratios
        self.stratify = stratify
        self.by_site = by_site
        self.random_state = random_state

    def __repr__(self):
        by_site = "" if self.by_site is None else f", by_site={self.by_site!r}"
        return (
            f"TrainValTestSplit(n_repeats={self.n_repeats}, ratios={self.ratios}, "
            f"stratify={self.stratify!r}{by_site}, random_state={self.random_state!r})"
        )

    def get_n_splits(self, X=None, y=None, groups=None, *, sites=None):
        """Number of repeats."""
        return self.n_repeats

    def split_with_test(self, X, y=None, groups=None, *, sites=None):
        """Yield ``(train, validation, test)`` index arrays, one triple per repeat.

        Parameters
        ----------
        X : array-like or list of length n_samples
        y : array-like of shape (n_samples,) or None
        groups : array-like of shape (n_samples,) or None
            E.g. the participant of each run: kept on one side.
        sites : array-like of shape (n_samples,) or None, default=None
            Acquisition site of each sample; needed with ``by_site``,
            ignored without.

        Yields
        ------
        train, validation, test : ndarray of int
            Disjoint, sorted, covering every sample.
        """
        check_int(self.n_repeats, "n_repeats")
        ratios = _check_ratios(self.ratios)
        by_site = check_by_site(self.by_site)
        n_samples = len(X)
        if y is not None and len(y) != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {len(y)}.")
        if groups is not None and len(groups) != n_samples:
            raise ValueError(f"X has {n_samples} samples but groups has {len(groups)}.")
        stratify = _resolve_stratify(self.stratify, y, groups)
        if by_site is None:
            if groups is None:
                n_units, unit = n_samples, "samples"
            else:
                n_units = len(pd.unique(pd.Series(np.asarray(groups), dtype=object)))
                unit = "groups"
            _check_enough(n_units, unit, ratios, y, stratify)
            for seed in spawn_seeds(self.random_state, self.n_repeats):
                yield _three_way(n_samples, y, groups, ratios, stratify, seed)
            return
        sites = check_sites(sites, n_samples, by_site)
        plan = SitePlan(
            sites,
            np.asarray(y) if stratify else None,
            groups,
            stratify_required=self.stratify is True,
        )
        # One more seed than repeats: the last orders the left-out sites.
        *seeds, order_seed = spawn_seeds(self.random_state, self.n_repeats + 1)
        if by_site == "stratify":
            for seed in seeds:
                yield plan.stratified(ratios, seed)
            return
        held_out = leave_out_order(sites, self.n_repeats, order_seed)
        for site, seed in zip(held_out, seeds, strict=True):
            yield plan.leave_out(site, ratios, seed)

    def split(self, X, y=None, groups=None, *, sites=None):
        """Yield ``(train, validation)`` pairs for ``cv=``; test indices are left out.

        Parameters
        ----------
        X : array-like or list of length n_samples
        y : array-like of shape (n_samples,) or None
        groups : array-like of shape (n_samples,) or None
        sites : array-like of shape (n_samples,) or None, default=None
            Needed with ``by_site``; routed by scikit-learn's metadata
            routing (see Notes).

        Yields
        ------
        train, validation : ndarray of int
        """
        for train, val, _ in self.split_with_test(X, y, groups, sites=sites):
            yield train, val


def train_val_test_split(
    X,
    y=None,
    *,
    ratios=(0.6, 0.2, 0.2),
    stratify="auto",
    groups=None,
    by_site=None,
    sites=None,
    random_state=None,
):
    """Split data once into train, validation and test parts.

    Parameters
    ----------
    X : array-like or list of length n_samples
        A 3-D array (n_subjects, n_rois, n_timepoints), a list of subjects,
        or any indexable of samples.
    y : array-like of shape (n_samples,) or None, default=None
    ratios : tuple of float, default=(0.6, 0.2, 0.2)
    stratify : {"auto", True, False}, default="auto"
        Stratify by ``y`` ("auto": when ``y`` holds class labels).
    groups : array-like of shape (n_samples,) or None, default=None
        Keep each group (e.g. a subject's windows) on one side.
    by_site : {None, "stratify", "leave_out"}, default=None
        Keep every site's share in each part, or test on one whole site
        (drawn by ``random_state``); see :class:`TrainValTestSplit`.
    sites : array-like of shape (n_samples,) or None, default=None
        Site of each sample, for ``by_site``.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X_train, X_val, X_test : same container as ``X``
    y_train, y_val, y_test : ndarray
        Only when ``y`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.model_selection import train_val_test_split
    >>> X, y = np.zeros((10, 3, 8)), np.array([0, 1] * 5)
    >>> parts = train_val_test_split(X, y, random_state=0)
    >>> [p.shape[0] for p in parts]
    [6, 2, 2, 6, 2, 2]
    """
    cv = TrainValTestSplit(
        1,
        ratios=ratios,
        stratify=stratify,
        by_site=by_site,
        random_state=random_state,
    )
    train, val, test = next(cv.split_with_test(X, y, groups, sites=sites))

    def take(a, idx):
        return [a[i] for i in idx] if isinstance(a, list) else np.asarray(a)[idx]

    out = [take(X, train), take(X, val), take(X, test)]
    if y is not None:
        out += [
            take(np.asarray(y), train),
            take(np.asarray(y), val),
            take(np.asarray(y), test),
        ]
    return out
