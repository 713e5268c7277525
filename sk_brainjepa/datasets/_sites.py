"""Scanner sites and repeated runs of the simulated cohort.

Multi-site studies see the same brains through different scanners: each site
shifts the ROI baselines, changes the size of the fluctuations and the
measurement noise, and adds its own structured artefacts, which reach
functional connectivity. :func:`draw_site_effects` draws these effects once
per cohort from a stream of their own, and :func:`add_site_artefact` adds the
artefact to the haemodynamic signal;
:func:`~sk_brainjepa.datasets.make_brain_dynamics` documents the formulas.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from sk_brainjepa.datasets._bold import _standardise

# Spawn key of the site stream. The dynamic phenotypes use the children 0-5 of
# the same seed sequence (_mechanisms._dynamic_streams); a key far above them
# keeps the streams independent if mechanisms are added.
_SITE_STREAM = 64
# Per unit of site_effect: log-SD of the per-site, per-ROI baseline factor, of
# the per-site fluctuation-size factor and of the per-site noise-level factor;
# SD of the artefact relative to the unit intrinsic signal. Tuned so that
# site_effect=1 makes site obvious to a linear model on FC
# (tests/datasets/test_sites.py) while staying below the subject-to-subject
# spread of the baselines (log-SD 0.5).
_BASELINE_LOG_SD = 0.2
_FLUCTUATION_LOG_SD = 0.3
_NOISE_LOG_SD = 0.4
_ARTEFACT_SCALE = 0.5
# Correlation time (s) of the scanner signal: slow, drift-like.
_ARTEFACT_TIME = 20.0


class SiteEffects(NamedTuple):
    """The scanner effects of every site, drawn once per cohort.

    Attributes
    ----------
    site : ndarray of shape (n_subjects,), dtype int
        Site (0 to ``n_sites - 1``) of each subject.
    baseline_gain : ndarray of shape (n_sites, n_rois)
        Factor on the baseline (ROI mean) of every subject of the site.
    fluctuation_gain : ndarray of shape (n_sites,)
        Factor on the size of the fluctuations around the baseline.
    noise_gain : ndarray of shape (n_sites,)
        Factor on the subjects' measurement-noise SD.
    pattern : ndarray of shape (n_sites, n_rois)
        Spatial pattern of the site's artefact over ROIs.
    strength : float
        ``site_effect``; 0 leaves the data untouched.
    rng : numpy.random.Generator
        The site stream, for the artefact's time courses.
    """

    site: np.ndarray
    baseline_gain: np.ndarray
    fluctuation_gain: np.ndarray
    noise_gain: np.ndarray
    pattern: np.ndarray
    strength: float
    rng: np.random.Generator


def draw_site_effects(
    seeds: list[int], n_subjects: int, n_rois: int, n_sites: int, strength: float
) -> SiteEffects:
    """Assign subjects to sites (balanced) and draw each site's effects.

    Everything comes from a stream spawned from the cohort's ``seeds``, so
    turning sites on changes none of the cohort's other draws; with
    ``strength=0`` every factor is exactly 1.

    Parameters
    ----------
    seeds : list of int
        The cohort's stream seeds (``spawn_seeds(random_state, 4)``).
    n_subjects, n_rois, n_sites : int
    strength : float
        ``site_effect``, multiplying every log-factor and the artefact.

    Returns
    -------
    effects : SiteEffects
    """
    rng = np.random.default_rng(
        np.random.SeedSequence(seeds, spawn_key=(_SITE_STREAM,))
    )
    # Balanced: the site counts differ by at most one; which subject goes
    # where is a seeded shuffle, unrelated to any label.
    site = rng.permutation(np.arange(n_subjects) % n_sites)
    z = rng.standard_normal((n_sites, 2 * n_rois + 2))
    return SiteEffects(
        site=site,
        baseline_gain=np.exp(strength * _BASELINE_LOG_SD * z[:, :n_rois]),
        fluctuation_gain=np.exp(strength * _FLUCTUATION_LOG_SD * z[:, -2]),
        noise_gain=np.exp(strength * _NOISE_LOG_SD * z[:, -1]),
        pattern=z[:, n_rois : 2 * n_rois],
        strength=strength,
        rng=rng,
    )


def _scanner_signal(
    rng: np.random.Generator, n_runs: int, n_frames: int, tr: float
) -> np.ndarray:
    """Stationary AR(1) signals with correlation time ``_ARTEFACT_TIME``.

    Returns
    -------
    signal : ndarray of shape (n_runs, n_frames)
        Unit variance; started in the stationary law, so no burn-in.
    """
    phi = np.exp(-tr / _ARTEFACT_TIME)
    start = rng.standard_normal((n_runs, 1))
    white = rng.standard_normal((n_runs, n_frames))
    signal, _ = lfilter(
        [np.sqrt(1.0 - phi**2)], [1.0, -phi], white, axis=1, zi=phi * start
    )
    return signal


def add_site_artefact(
    bold: np.ndarray, effects: SiteEffects, subject: np.ndarray, tr: float
) -> np.ndarray:
    """Add each site's structured artefact to standardised BOLD, re-standardise.

    Every run gets a fresh scanner signal ``a(t)``; ROI ``r`` of a run at
    site ``k`` gets ``_ARTEFACT_SCALE * site_effect * pattern[k, r] * a(t)``.
    The shared signal adds ``pattern[k] pattern[k].T`` to the covariance
    between ROIs, so the site shows in FC; re-standardising keeps the ROI
    variances, which the site's fluctuation size sets instead.

    Parameters
    ----------
    bold : ndarray of shape (n_runs, n_rois, n_timepoints)
        Standardised haemodynamic signal.
    effects : SiteEffects
    subject : ndarray of shape (n_runs,), dtype int
        Subject of each run.
    tr : float
        Repetition time (s).

    Returns
    -------
    bold : ndarray of shape (n_runs, n_rois, n_timepoints)
        The same object when ``effects.strength`` is 0.
    """
    if effects.strength == 0:
        return bold
    n_runs, _, n_frames = bold.shape
    signal = _scanner_signal(effects.rng, n_runs, n_frames, tr)
    pattern = effects.pattern[effects.site[subject]]
    drive = _ARTEFACT_SCALE * effects.strength * pattern[:, :, None] * signal[:, None]
    return _standardise(bold + drive)


def run_table(phenotypes: pd.DataFrame, runs_per_subject: int) -> pd.DataFrame:
    """One row per run: the subject's row repeated, with its participant and run.

    Parameters
    ----------
    phenotypes : pandas.DataFrame of shape (n_subjects, n_columns)
        Indexed by subject ids (``"sub-000"``).
    runs_per_subject : int

    Returns
    -------
    runs : pandas.DataFrame of shape (n_subjects * runs_per_subject, n_columns + 2)
        Indexed by run ids ``"sub-000_run-1"`` (index name kept), subject by
        subject; the columns ``participant_id`` (the subject id) and ``run``
        (1, 2, ...) come last. Unchanged when ``runs_per_subject`` is 1.
    """
    if runs_per_subject == 1:
        return phenotypes
    runs = phenotypes.iloc[np.repeat(np.arange(len(phenotypes)), runs_per_subject)]
    participants = runs.index.to_numpy()
    run = np.tile(np.arange(1, runs_per_subject + 1), len(phenotypes))
    runs = runs.assign(participant_id=participants, run=run)
    runs.index = pd.Index(
        [f"{p}_run-{r}" for p, r in zip(participants, run, strict=True)],
        name=phenotypes.index.name,
    )
    runs.attrs = dict(phenotypes.attrs)
    return runs
