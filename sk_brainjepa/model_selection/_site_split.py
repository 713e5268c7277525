"""Train / validation / test splits by acquisition site.

Two ways to split a multi-site cohort, used by
:class:`~sk_brainjepa.model_selection.TrainValTestSplit` through its
``by_site`` option: ``"stratify"`` keeps every site's share of the samples
equal in the three parts; ``"leave_out"`` tests each repeat on one whole
site. Both keep each group (the participant of several runs) on one side:
the units that are split are the groups, each of which must belong to one
site.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedShuffleSplit

from sk_brainjepa._utils._random import spawn_seeds

logger = logging.getLogger(__name__)

BY_SITE = ("stratify", "leave_out")
# Values named in a message at most.
_SHOWN = 10


def check_by_site(by_site):
    """``by_site`` when it is None or one of :data:`BY_SITE`, else a ValueError."""
    if by_site is not None and (not isinstance(by_site, str) or by_site not in BY_SITE):
        raise ValueError(
            f"by_site must be None, 'stratify' or 'leave_out'; got {by_site!r}."
        )
    return by_site


def check_sites(sites, n_samples: int, by_site: str) -> np.ndarray:
    """``sites`` as a 1-D array of one label per sample, or a ValueError."""
    if sites is None:
        raise ValueError(
            f"by_site={by_site!r} needs sites=, the site of each of the "
            f"{n_samples} samples (split_with_test(X, y, groups, sites=...))."
        )
    sites = np.asarray(sites)
    if sites.shape != (n_samples,):
        raise ValueError(
            f"sites must have shape (n_samples,) = ({n_samples},); got shape "
            f"{sites.shape}."
        )
    if pd.isna(sites).any():
        raise ValueError("sites has missing values; every sample needs a site.")
    return sites


def _units(sites: np.ndarray, groups) -> tuple[np.ndarray, np.ndarray]:
    """The units to split and the site of each.

    Returns
    -------
    unit : ndarray of shape (n_samples,), dtype int
        Unit (group, or the sample itself without groups) of each sample.
    unit_sites : ndarray of shape (n_units,)
        Site of each unit.

    Raises
    ------
    ValueError
        When a group has samples at two sites: it could not stay on one side
        of a split by site.
    """
    if groups is None:
        return np.arange(sites.size), sites
    codes, uniques = pd.factorize(pd.Series(np.asarray(groups), dtype=object))
    site_codes, site_uniques = pd.factorize(pd.Series(sites, dtype=object))
    per_unit = pd.Series(site_codes).groupby(codes).unique()
    spread = per_unit[per_unit.map(len) > 1]
    if len(spread):
        shown = {
            str(uniques[k]): [site_uniques[s] for s in v]
            for k, v in spread.iloc[:_SHOWN].items()
        }
        raise ValueError(
            f"{len(spread)} group(s) have samples at several sites, e.g. {shown}; "
            "a split by site keeps each group (participant) on one side, so "
            "every group must belong to one site."
        )
    unit_sites = np.asarray(site_uniques, dtype=object)[
        np.array([v[0] for v in per_unit])
    ]
    return codes, unit_sites.astype(sites.dtype)


def _strata(unit_sites, unit_y):
    """One label per unit: its site, or its site and class."""
    labels = pd.Series(unit_sites, dtype=object).astype(str)
    if unit_y is not None:
        labels = labels + "\x1f" + pd.Series(unit_y, dtype=object).astype(str)
    return labels.to_numpy()


def _split_units(strata: np.ndarray, share: float, seed: int):
    """Stratified (keep, held) positions, ``share`` of every stratum held out."""
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=share, random_state=seed)
    return next(splitter.split(np.zeros((strata.size, 1)), strata))


def _samples_of(unit: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Sorted sample indices whose unit is among ``chosen`` unit indices."""
    return np.flatnonzero(np.isin(unit, chosen))


class SitePlan:
    """The units and strata of one cohort, for repeated splits by site.

    Parameters
    ----------
    sites : ndarray of shape (n_samples,)
    y : ndarray of shape (n_samples,) or None
        Class labels to stratify by as well (only without groups).
    groups : array-like of shape (n_samples,) or None
    stratify_required : bool
        Whether stratifying by ``y`` was asked for (True) or only preferred
        ("auto"): when site-by-class strata cannot be split, the preferred
        form falls back to site strata.
    """

    def __init__(self, sites, y, groups, stratify_required: bool):
        self.sites = sites
        self.unit, self.unit_sites = _units(sites, groups)
        self.site_strata = _strata(self.unit_sites, None)
        # Classes are stratified only without groups, where units are samples.
        self.strata = self.site_strata if y is None else _strata(sites, y)
        self.stratify_required = stratify_required and y is not None

    def _split(self, positions, share, seed):
        """(keep, held) unit indices among ``positions``, stratified."""
        try:
            keep, held = _split_units(self.strata[positions], share, seed)
        except ValueError as exc:
            if self.stratify_required or self.strata is self.site_strata:
                raise self._error(exc) from exc
            # Site-by-class strata too small: keep the sites' shares only.
            logger.info("Site-by-class strata too small (%s); by site only.", exc)
            try:
                keep, held = _split_units(self.site_strata[positions], share, seed)
            except ValueError as exc2:
                raise self._error(exc2) from exc2
        return positions[keep], positions[held]

    def _error(self, exc) -> ValueError:
        counts = pd.Series(self.unit_sites).value_counts()
        shown = ", ".join(f"{k!r}: {v}" for k, v in counts.iloc[::-1][:_SHOWN].items())
        return ValueError(
            f"The samples cannot be split by site ({exc}); units (groups or "
            f"samples) per site, smallest first: {shown}. Every site needs "
            "enough units for each part."
        )

    def stratified(self, ratios, seed: int):
        """One (train, validation, test) split keeping every site's share."""
        _, val_r, test_r = ratios
        first, second = (s % 2**32 for s in spawn_seeds(seed % 2**32, 2))
        everything = np.arange(self.unit_sites.size)
        rest, test = self._split(everything, test_r, first)
        train, val = self._split(rest, val_r / (1.0 - test_r), second)
        return tuple(_samples_of(self.unit, part) for part in (train, val, test))

    def leave_out(self, site, ratios, seed: int):
        """One split testing on the whole of ``site``; validation by site share."""
        train_r, val_r, _ = ratios
        second = spawn_seeds(seed % 2**32, 2)[1] % 2**32
        others = np.flatnonzero(self.unit_sites != site)
        train, val = self._split(others, val_r / (train_r + val_r), second)
        test = np.flatnonzero(self.sites == site)
        return _samples_of(self.unit, train), _samples_of(self.unit, val), test


def leave_out_order(sites: np.ndarray, n_repeats: int, seed: int) -> list:
    """The site each repeat tests: distinct sites in a seeded order.

    Raises
    ------
    ValueError
        When ``n_repeats`` exceeds the number of sites.
    """
    levels = np.unique(sites)
    if n_repeats > levels.size:
        raise ValueError(
            f"by_site='leave_out' tests one whole site per repeat, but n_repeats="
            f"{n_repeats} exceeds the {levels.size} sites "
            f"{levels[:_SHOWN].tolist()}; pass n_repeats={levels.size} (each site "
            "once) or fewer."
        )
    if levels.size < 2:
        raise ValueError(
            f"by_site='leave_out' needs at least 2 sites (one to test, one to "
            f"train on); got {levels.tolist()}."
        )
    order = np.random.default_rng(seed).permutation(levels.size)
    return [levels[k] for k in order[:n_repeats]]
