"""Simulate resting-state BOLD ROI time series with labels that live in the dynamics."""

from __future__ import annotations

import logging
from numbers import Real

import numpy as np
import pandas as pd

from sk_brainjepa._utils._random import spawn_seeds
from sk_brainjepa._utils._validation import check_int
from sk_brainjepa.datasets._bold import (
    _HRF_LENGTH,
    _MAX_BIN_WIDTH,
    _coupling_modes,
    _double_gamma_hrf,
    _hrf_convolve,
    _network_labels,
    _sample_frames,
    _simulate_modes,
    _standardise,
    _subject_parameters,
    _template_connectome,
    _Timing,
)
from sk_brainjepa.datasets._mechanisms import _add_dynamic_phenotypes
from sk_brainjepa.datasets._sites import (
    add_site_artefact,
    draw_site_effects,
    run_table,
)

logger = logging.getLogger(__name__)


def _check_nonnegative_real(value, name: str, *, strict: bool) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (value > 0 if strict else value >= 0)
    if not ok:
        bound = "a positive" if strict else "a non-negative"
        raise ValueError(f"{name} must be {bound} finite number; got {value!r}.")
    return float(value)


def _check_strengths(strengths: dict[str, float], n_networks: int) -> dict[str, float]:
    """Validate the dynamic-phenotype strengths (non-negative, enough networks)."""
    checked = {
        name: _check_nonnegative_real(value, name, strict=False)
        for name, value in strengths.items()
    }
    for name in ("lagged_coupling", "state_switching"):
        if checked[name] > 0 and n_networks < 2:
            raise ValueError(
                f"{name} > 0 couples two networks and needs n_networks >= 2; got "
                f"n_networks={n_networks}."
            )
    return checked


def make_brain_dynamics(
    n_subjects: int = 100,
    n_rois: int = 50,
    n_timepoints: int = 200,
    *,
    tr: float = 2.0,
    n_networks: int = 5,
    noise_level: float = 0.5,
    lagged_coupling: float = 0.0,
    burstiness: float = 0.0,
    state_switching: float = 0.0,
    n_sites: int = 1,
    site_effect: float = 0.0,
    runs_per_subject: int = 1,
    random_state=None,
    connectome_random_state=None,
    return_networks: bool = False,
):
    """Simulate resting-state BOLD ROI time series of a labelled cohort.

    Each subject's neural activity follows a stochastic linear network model
    (a multivariate Ornstein-Uhlenbeck process) on a modular connectome. The
    neural signal is convolved with a canonical double-gamma haemodynamic
    response, sampled every ``tr`` seconds, corrupted with measurement noise
    and put on a scanner-like scale. Three targets (``age``, ``sex``,
    ``diagnosis``) are functions of each subject's *dynamics* plus label noise,
    so predicting them needs functional connectivity (FC) or temporal
    structure; the per-ROI means and standard deviations carry no label
    information. Three optional mechanisms add targets that zero-lag FC
    cannot see at all: a directed lag between two networks
    (``lagged_coupling``), skewed bursts of activity (``burstiness``) and
    switching between connectivity states (``state_switching``). Subjects
    can be spread over scanner sites whose effects are known
    (``n_sites``, ``site_effect``) and scanned several times
    (``runs_per_subject``), the setting of multi-site cohorts.

    Parameters
    ----------
    n_subjects : int, default=100
        Number of subjects.
    n_rois : int, default=50
        Number of regions of interest.
    n_timepoints : int, default=200
        Number of frames per subject.
    tr : float, default=2.0
        Repetition time in seconds (the sampling interval of the frames).
    n_networks : int, default=5
        Number of functional networks the ROIs are split into (contiguous,
        near-equal blocks of ROI indices). Must be at most ``n_rois``.
    noise_level : float, default=0.5
        Standard deviation of the white measurement noise relative to that of
        the haemodynamic signal (so the signal-to-noise variance ratio is about
        ``1 / noise_level**2``); each subject's value varies by about 20 %
        around it. 0 gives noiseless data.
    lagged_coupling : float, default=0.0
        Strength of a directed, lagged coupling between networks 0 and 1: a
        common signal reaches the leading network 2 frames before the other.
        Adds the target ``direction`` (0: network 0 leads, 1: network 1
        leads), carried by the lagged cross-covariance asymmetry only.
        0 switches it off; needs ``n_networks >= 2``.
    burstiness : float, default=0.0
        Strength of sparse, heavy-tailed bursts shared by the ROIs of each
        network. Adds the target ``burst_polarity`` (0: downward dips,
        1: upward bursts), carried by skewness and co-skewness only.
        0 switches it off.
    state_switching : float, default=0.0
        Strength of a shared signal that even- and odd-numbered networks carry
        in phase in one state and in anti-phase in the other, switching as a
        Markov chain. Adds the target ``dwell`` (0: short, 1: long mean dwell
        time), carried by how windowed FC fluctuates, not by its average.
        0 switches it off; needs ``n_networks >= 2``.
    n_sites : int, default=1
        Number of scanner sites. Subjects are assigned to sites in balanced
        numbers (counts differ by at most one) by a seeded shuffle that no
        label depends on. At most ``n_subjects``.
    site_effect : float, default=0.0
        Strength of the sites' effects (see Notes): per-site ROI baselines,
        fluctuation size, measurement-noise level, and a structured scanner
        artefact that shows in FC. 0 leaves the data exactly as with one
        site; 1 makes site easy to predict from FC.
    runs_per_subject : int, default=1
        Runs per subject. The runs of a subject share its parameters, labels,
        connectome, baselines and site, but have fresh neural and
        measurement noise (and fresh dynamic-phenotype and artefact signals).
    random_state : int, RandomState instance or None, default=None
        Seed for everything random: the group connectome, the subject
        parameters, the neural noise and the measurement noise (drawn from
        separate streams, so e.g. ``n_timepoints`` does not change the
        subjects' parameters). The dynamic phenotypes draw from further
        streams spawned from the same seeds, so switching one on or off
        changes none of the other draws or columns; the sites draw from a
        stream of their own in the same way.
    connectome_random_state : int, RandomState instance or None, default=None
        Seed of the group connectome alone; None draws it from
        ``random_state`` as before. Cohorts simulated with different
        ``random_state`` (other subjects), ``tr`` or ``noise_level`` (other
        scanners) but the same ``connectome_random_state`` share one brain
        wiring and ROI order, as cohorts of different sites share an atlas:
        the setting of external evaluation (pretrain on one cohort, test on
        another).
    return_networks : bool, default=False
        If True, also return the ground-truth network of each ROI.

    Returns
    -------
    X : ndarray of shape (n_subjects * runs_per_subject, n_rois, n_timepoints)
        Simulated BOLD signal (float32) on a scanner-like scale (ROI means of
        a few hundred to a few thousand, fluctuations of 0.5-2 % of the
        mean); the runs of a subject are consecutive rows.
    phenotypes : pandas.DataFrame of shape (n_subjects * runs_per_subject, n_columns)
        Indexed by subject ids ``"sub-000"``, ``"sub-001"``, ... (index name
        ``"subject_id"``), or with several runs by run ids
        ``"sub-000_run-1"``, ``"sub-000_run-2"``, ... Columns: the targets
        ``age`` (float, years), ``sex`` (int, 0/1) and ``diagnosis`` (int,
        0/1); the latent parameters that drive them, ``coupling``,
        ``timescale`` (seconds), ``network_gain`` and ``cross_gain``; and two
        nuisance parameters that no label depends on, ``hrf_peak`` (shape of
        the HRF's first gamma; 6 is SPM's canonical HRF) and ``noise_sd`` (the
        subject's measurement noise level). Then two columns for each dynamic
        mechanism switched on (strength > 0), in this order: ``direction``
        (int, 0/1) and ``lag_strength`` (the subject's coupling strength);
        ``burst_polarity`` (int, 0/1) and ``burst_rate`` (bursts per minute
        per network); ``dwell`` (int, 0/1) and ``dwell_time`` (mean dwell
        time, seconds). With ``n_sites > 1``, ``site`` (``"site-0"``,
        ``"site-1"``, ...); with ``runs_per_subject > 1``, ``participant_id``
        (``"sub-000"``: the ``groups`` that keep a subject's runs on one side
        of a split) and ``run`` (1, 2, ...). ``phenotypes.attrs["tr"]`` holds
        ``tr``.
    networks : ndarray of shape (n_rois,), dtype int
        Network index (0 to ``n_networks - 1``) of each ROI. Only returned when
        ``return_networks=True``.

    See Also
    --------
    load_hcp_rest : Real resting-state BOLD of 7 HCP subjects (no labels).
    load_timeseries : Load your own cohort from a folder of files.

    Notes
    -----
    **Latent parameters.** With ``z1 ... z9`` independent standard normal
    draws per subject:

    - ``coupling = clip(0.9 + 0.03 z1, 0.6, 0.98)``: global coupling, the
      spectral radius of the effective coupling ``g W`` (1 is the critical
      point; closer to 1 means stronger, more global FC);
    - ``timescale = 1.0 exp(0.3 z2)`` s: intrinsic neural time constant;
    - ``network_gain = exp(0.35 z3)``: multiplies the within-network coupling
      of network 0;
    - ``cross_gain = exp(0.7 z4)``: multiplies the coupling between the last
      two networks (no effect when ``n_networks=1``);
    - nuisances: ``hrf_peak = 6 exp(0.05 z8)``,
      ``noise_sd = noise_level exp(0.2 z9) n_k`` (``n_k``: the site's noise
      factor below, 1 without site effects).

    **Labels** (``z5``, ``z6``, ``z7`` are label noise):

    - ``age = clip(45 - 10 z1 + 3 z2 + 4 z5, 18, 90)``: older subjects have
      weaker global coupling (lower overall FC) and, weakly, longer intrinsic
      timescales (the HRF hides most of this effect);
    - ``diagnosis = 1[-z3 + 0.3 z6 > 0]``: patients (1) have weaker coupling
      inside network 0, hence lower within-network FC there (about 10 % of
      labels disagree with the sign of ``-z3``);
    - ``sex = 1[z4 + 0.3 z7 > 0]``: value 1 has stronger coupling between the
      last two networks (no signal when ``n_networks=1``).

    **Neural model.** For subject ``s`` with one state value per ROI,

    .. math:: dx = \\frac{1}{\\tau_s}\\left(-x + g_s \\hat W_s x\\right)dt
              + \\sqrt{2 / \\tau_s}\\,dB_t,

    with ``tau_s = timescale`` and ``g_s = coupling``. The group connectome
    (drawn once per ``random_state``) links 70 % of within-network ROI pairs
    (weights in [0.5, 1]), 10 % of between-network pairs (weights in
    [0.1, 0.4]) and 40 % of the pairs joining the last two networks. Each
    subject's ``W_s`` multiplies every link by its own log-normal jitter
    (about 15 %), network 0's block by ``network_gain`` and the last two
    networks' links by ``cross_gain``; ``hat W_s`` is ``W_s`` scaled to unit
    spectral radius, so the process is always stable. Because the coupling is
    symmetric, the model splits into independent modes in its eigenbasis, and
    each mode is sampled *exactly* (the exact discretisation that
    Euler-Maruyama approximates as the step shrinks) starting from the
    stationary distribution, so no neural burn-in is needed.

    **Haemodynamics and measurement.** The neural signal is averaged over bins
    of ``min(0.5, tr / 2)`` s, convolved with a double-gamma HRF (32 s long)
    and linearly interpolated at the frame times; the first frame comes 32 s
    after the start so that the HRF has a full history. Each ROI series is
    then standardised (so the variance of the dynamics, which grows with
    coupling, cannot leak the labels), white noise of SD ``noise_sd`` is
    added, and the result is put on a random baseline
    ``1000 exp(0.5 N(0, 1))`` with a random fluctuation size of 0.5-2 % of
    the baseline, drawn per subject and ROI independently of everything else.
    No drift, motion or physiological artefacts are simulated, apart from
    the sites' scanner artefact below.

    **Sites** (``e = site_effect``; with ``e = 0`` every factor is exactly 1
    and nothing is added). Each site ``k`` draws, from its own stream,
    standard normal ``u_kr`` (per ROI), ``v_kr`` (per ROI), ``w_k`` and
    ``q_k``; for every subject of the site, every run:

    - ROI offsets: the baseline of ROI ``r`` is multiplied by
      ``exp(0.2 e u_kr)``, common to all the site's subjects;
    - fluctuation size: the 0.5-2 % fluctuation size is multiplied by
      ``f_k = exp(0.3 e w_k)``;
    - measurement noise: ``noise_sd`` is multiplied by
      ``n_k = exp(0.4 e q_k)`` (lower SNR, hence weaker FC, at noisy sites);
    - scanner artefact: before the noise, the standardised signal of ROI
      ``r`` becomes ``standardise(x_r + 0.5 e v_kr a(t))``, where ``a`` is a
      unit-variance AR(1) signal with a correlation time of 20 s, fresh in
      every run, shared by all ROIs of the run. It adds a rank-one term
      ``~ v_k v_k^T`` to the covariance between ROIs, so the site shows in
      FC (the offsets and fluctuation size do not change correlations).

    With 4 sites, ``e = 1``, 20 ROIs and 120 subjects, logistic regression
    on FC predicts the site far above chance; with ``e = 0`` at chance.

    **Runs.** Run ``j`` of subject ``s`` (row ``s * runs_per_subject + j``)
    uses the subject's parameters, connectome jitter, HRF, baselines,
    fluctuation sizes, labels and site; only the neural noise, the
    measurement noise, the dynamic phenotypes' signals and the scanner
    signal ``a(t)`` are drawn anew. FC of two runs of one subject is thus
    more alike than FC of two subjects.

    With the defaults and 120 subjects, logistic regression on the upper
    triangle of the correlation matrix reaches a cross-validated balanced
    accuracy of about 0.8 for ``diagnosis`` and ``sex``, ridge regression on
    the same features predicts ``age`` with r of about 0.5-0.6, and the lag-1
    autocorrelation of the ROI series is about 0.7 at ``tr=2``.

    **Dynamic phenotypes** (all off by default; with every strength 0 the
    output is exactly that of the model above). Each mechanism draws its
    labels and signals from its own random streams, independent of the other
    targets. It adds a network-wide signal to the standardised haemodynamic
    signal ``x`` before the noise, ``x <- standardise(x + sum of drives)``,
    where each drive is built from neural noise passed through the same HRF
    and frame sampling as ``x`` and standardised. With ``1[.]`` an indicator
    and ``z`` fresh standard normal draws per subject:

    - ``lagged_coupling = c``: ``direction = 1[z > 0]``,
      ``lag_strength = c exp(0.2 z')``. A driver ``u`` (HRF-filtered white
      neural noise) is added as ``0.5 lag_strength u(t + 2 tr)`` to every ROI
      of the leading network and ``0.5 lag_strength u(t)`` to every ROI of the
      other (network 0 leads when ``direction = 0``, network 1 otherwise).
      The lagged cross-covariance ``C(L)[i, j] = cov(x_i(t), x_j(t + L))``
      then has ``C(L) - C(L).T`` positive from leader to follower, largest
      at ``L = 2``. One direction is the time reversal of the other, and the
      rest of the model is time-reversible, so zero-lag FC and per-ROI
      variances have the same distribution for both directions.
    - ``burstiness = b``: ``burst_polarity = 1[z > 0]``,
      ``burst_rate = 3 exp(0.3 z')`` per minute. Each network gets its own
      train of neural events (Poisson in time, exponentially distributed
      sizes), HRF-filtered into a positively skewed signal ``v_k``; every
      ROI of network ``k`` gets ``0.5 b (2 burst_polarity - 1) v_k``. The
      classes differ only in the sign of the bursts, so all even moments
      (FC, variances, interquartile ranges, kurtosis) have the same
      distribution; skewness ``E[x_i**3]`` and co-skewness ``E[x_i**2 x_j]``
      within a network have the sign of the polarity.
    - ``state_switching = g``: ``dwell = 1[z > 0]``,
      ``dwell_time = T exp(0.15 z')`` with ``T = 60`` s for long dwellers
      (``dwell = 1``) and 3 s for short ones. A symmetric two-state Markov
      chain ``s(t) = +1/-1`` switches with probability
      ``1 - exp(-h / dwell_time)`` per bin of ``h`` seconds (exponential
      dwell times of mean ``dwell_time``, half of the time in each state);
      with white neural noise ``w``, even-numbered networks get
      ``1.5 g HRF(w)`` and odd-numbered ones ``1.5 g HRF(s w)``. Each
      network alone is the same in both classes (``s w`` is white noise),
      and the time-averaged even-odd coupling is zero on average for both;
      long dwell times make sliding-window FC swing between the two
      patterns and stay there (large variance, slow changes over windows).

    With 200 subjects, 20 ROIs, 200 frames, 4 networks and a strength of 1,
    logistic regression on (per-subject z-scored) FC stays at chance for
    each of these targets, while on the matching
    :class:`~sk_brainjepa.preprocessing.DynamicFeatures` it reaches a
    balanced accuracy of about 0.95 (``direction``), 0.97
    (``burst_polarity``) and 0.85 (``dwell``).

    References
    ----------
    .. [1] Friston, K. J., et al. (1998). Event-related fMRI: characterizing
       differential responses. NeuroImage 7(1), 30-40 (the double-gamma HRF).
    .. [2] Deco, G., Jirsa, V. K., & McIntosh, A. R. (2011). Emerging concepts
       for the dynamical organization of resting-state activity in the brain.
       Nature Reviews Neuroscience 12(1), 43-56.

    Examples
    --------
    >>> from sk_brainjepa.datasets import make_brain_dynamics
    >>> X, pheno = make_brain_dynamics(n_subjects=4, n_rois=10, n_timepoints=50,
    ...                                n_networks=2, random_state=0)
    >>> X.shape, X.dtype
    ((4, 10, 50), dtype('float32'))
    >>> list(pheno.columns[:3])
    ['age', 'sex', 'diagnosis']

    Two sites with scanner effects, two runs per subject:

    >>> X, pheno = make_brain_dynamics(n_subjects=4, n_rois=10, n_timepoints=50,
    ...                                n_sites=2, site_effect=1.0,
    ...                                runs_per_subject=2, random_state=0)
    >>> X.shape, list(pheno.columns[-3:])
    ((8, 10, 50), ['site', 'participant_id', 'run'])
    >>> list(pheno.index[:2])
    ['sub-000_run-1', 'sub-000_run-2']
    """
    n_subjects = check_int(n_subjects, "n_subjects")
    n_rois = check_int(n_rois, "n_rois")
    n_timepoints = check_int(n_timepoints, "n_timepoints")
    n_networks = check_int(n_networks, "n_networks")
    if n_networks > n_rois:
        raise ValueError(
            f"n_networks must be at most n_rois={n_rois}; got n_networks={n_networks}."
        )
    n_sites = check_int(n_sites, "n_sites")
    if n_sites > n_subjects:
        raise ValueError(
            f"n_sites must be at most n_subjects={n_subjects} (every site needs a "
            f"subject); got n_sites={n_sites}."
        )
    site_effect = _check_nonnegative_real(site_effect, "site_effect", strict=False)
    runs_per_subject = check_int(runs_per_subject, "runs_per_subject")
    tr = _check_nonnegative_real(tr, "tr", strict=True)
    noise_level = _check_nonnegative_real(noise_level, "noise_level", strict=False)
    strengths = _check_strengths(
        {
            "lagged_coupling": lagged_coupling,
            "burstiness": burstiness,
            "state_switching": state_switching,
        },
        n_networks,
    )

    # Separate streams so that, e.g., changing n_timepoints does not change the
    # connectome or the subjects' parameters.
    seeds = spawn_seeds(random_state, 4)
    rng_template, rng_subject, rng_neural, rng_measure = (
        np.random.default_rng(s) for s in seeds
    )

    if connectome_random_state is not None:
        rng_template = np.random.default_rng(spawn_seeds(connectome_random_state, 1)[0])
    networks = _network_labels(n_rois, n_networks)
    template = _template_connectome(networks, rng_template)
    # Sites come from a stream spawned from the seeds: with every factor 1
    # (site_effect=0) the data are bit for bit those of one site.
    sites = draw_site_effects(seeds, n_subjects, n_rois, n_sites, site_effect)
    # Subject of each run (row of X): runs of a subject are consecutive rows.
    subject = np.repeat(np.arange(n_subjects), runs_per_subject)

    draws = rng_subject.standard_normal((n_subjects, 9))
    jitter = rng_subject.standard_normal((n_subjects, n_rois, n_rois))
    params, labels = _subject_parameters(draws, noise_level)
    params["noise_sd"] = params["noise_sd"] * sites.noise_gain[sites.site]
    lam, vec = _coupling_modes(template, networks, params, jitter)
    timescale = params["timescale"]

    # Time grid: the neural modes are averaged over bins of width bin_w, then
    # convolved with the HRF; frames start once the HRF has a full history.
    bin_w = min(_MAX_BIN_WIDTH, tr / 2.0)
    timing = _Timing(tr, bin_w, _HRF_LENGTH, n_timepoints)
    modes = _simulate_modes(
        lam[subject], timescale[subject], timing.n_bins(), bin_w, rng_neural
    )

    # The HRF is the same for all ROIs of a subject, so it can be applied to
    # the modes before rotating back to ROI space (fewer frames to rotate).
    hrf_t = np.arange(0.0, _HRF_LENGTH, bin_w) + bin_w / 2
    hrf = _double_gamma_hrf(hrf_t, params["hrf_peak"])[subject]
    bold_modes = _hrf_convolve(modes, hrf)
    bold_modes = _sample_frames(bold_modes, timing.frame_times(), bin_w)
    bold = np.matmul(vec[subject], bold_modes)

    # Standardise each ROI so its mean/variance carry nothing about the labels;
    # the dynamic phenotypes (if any) and the sites' artefact enter here, on
    # the same footing, and are standardised away again. Then add noise and a
    # scanner-like scale.
    bold = _standardise(bold)
    bold, dynamic = _add_dynamic_phenotypes(
        bold, strengths, networks, hrf, timing, seeds, subject
    )
    bold = add_site_artefact(bold, sites, subject, tr)
    noise = rng_measure.standard_normal(bold.shape)
    noise_sd = params["noise_sd"]
    bold = bold + noise_sd[subject, None, None] * noise
    baseline = 1000.0 * np.exp(0.5 * rng_measure.standard_normal((n_subjects, n_rois)))
    percent = rng_measure.uniform(0.005, 0.02, (n_subjects, n_rois))
    baseline = baseline * sites.baseline_gain[sites.site]
    percent = percent * sites.fluctuation_gain[sites.site][:, None]
    scale = baseline * percent / np.sqrt(1.0 + noise_sd**2)[:, None]
    X = (baseline[subject, :, None] + scale[subject, :, None] * bold).astype(np.float32)

    width = max(3, len(str(n_subjects - 1)))
    index = pd.Index(
        [f"sub-{i:0{width}d}" for i in range(n_subjects)], name="subject_id"
    )
    phenotypes = pd.DataFrame({**labels, **params, **dynamic}, index=index)
    if n_sites > 1:
        site_width = len(str(n_sites - 1))
        phenotypes["site"] = [f"site-{k:0{site_width}d}" for k in sites.site]
    phenotypes.attrs["tr"] = tr
    phenotypes = run_table(phenotypes, runs_per_subject)
    logger.debug(
        "Simulated %d subjects x %d run(s) x %d ROIs x %d frames at %d site(s) "
        "(TR %.3g s, bins of %.3g s).",
        n_subjects,
        runs_per_subject,
        n_rois,
        n_timepoints,
        n_sites,
        tr,
        bin_w,
    )
    if return_networks:
        return X, phenotypes, networks
    return X, phenotypes
