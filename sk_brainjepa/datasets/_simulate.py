"""Simulate resting-state BOLD ROI time series with labels that live in the dynamics."""

from __future__ import annotations

import logging
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.fft import irfft, next_fast_len, rfft
from scipy.special import gammaln

from sk_brainjepa._utils._random import spawn_seeds

logger = logging.getLogger(__name__)

# Largest width (s) of the bins the neural signal is averaged over before the
# HRF convolution; the HRF passes almost nothing above 0.3 Hz, so 0.5 s bins
# lose nothing visible in the BOLD signal.
_MAX_BIN_WIDTH = 0.5
# Length (s) of the sampled haemodynamic response; the SPM double gamma has
# decayed to < 1e-4 of its peak by then.
_HRF_LENGTH = 32.0
# Generative constants, documented in make_brain_dynamics' Notes. They were
# tuned so that, with the defaults and ~120 subjects, FC-based linear models
# predict every label well above chance (see tests/test_datasets.py).
_WITHIN_DENSITY, _WITHIN_WEIGHT = 0.7, (0.5, 1.0)
_BETWEEN_DENSITY, _BETWEEN_WEIGHT = 0.1, (0.1, 0.4)
_CROSS_DENSITY = 0.4
_JITTER_LOG_SD = 0.15
_COUPLING_MEAN, _COUPLING_SD, _COUPLING_RANGE = 0.9, 0.03, (0.6, 0.98)
_TIMESCALE, _TIMESCALE_LOG_SD = 1.0, 0.3
_NETWORK_GAIN_LOG_SD = 0.35
_CROSS_GAIN_LOG_SD = 0.7
_LABEL_NOISE = 0.3


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def _check_nonnegative_real(value, name: str, *, strict: bool) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (value > 0 if strict else value >= 0)
    if not ok:
        bound = "a positive" if strict else "a non-negative"
        raise ValueError(f"{name} must be {bound} finite number; got {value!r}.")
    return float(value)


def _network_labels(n_rois: int, n_networks: int) -> np.ndarray:
    """Contiguous, near-equal blocks of ROIs, like an atlas sorted by network."""
    return (np.arange(n_rois) * n_networks) // n_rois


def _last_two_networks(networks: np.ndarray) -> np.ndarray:
    """Boolean (n_rois, n_rois) mask of ROI pairs that join the last two networks."""
    n_networks = int(networks.max()) + 1
    a, b = networks == n_networks - 2, networks == n_networks - 1
    return (a[:, None] & b[None, :]) | (b[:, None] & a[None, :])


def _template_connectome(networks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Symmetric, non-negative modular group connectome of shape (n_rois, n_rois).

    Within a network 70 % of ROI pairs are linked with weights in [0.5, 1];
    between networks 10 % are linked with weights in [0.1, 0.4], which mimics
    the dense-within / sparse-between organisation of resting-state networks.
    The last two networks are more strongly interlinked (40 % of pairs), like
    the default-mode and fronto-parietal systems, so that ``cross_gain`` acts
    on enough links to be visible in FC.
    """
    n_rois = networks.size
    same = networks[:, None] == networks[None, :]
    density = np.where(same, _WITHIN_DENSITY, _BETWEEN_DENSITY)
    density[_last_two_networks(networks)] = _CROSS_DENSITY
    weight = np.where(
        same,
        rng.uniform(*_WITHIN_WEIGHT, (n_rois, n_rois)),
        rng.uniform(*_BETWEEN_WEIGHT, (n_rois, n_rois)),
    )
    links = rng.random((n_rois, n_rois)) < density
    w = np.triu(np.where(links, weight, 0.0), k=1)
    return w + w.T


def _double_gamma_hrf(
    t: np.ndarray, peak: np.ndarray, undershoot: float = 16.0, ratio: float = 1 / 6
) -> np.ndarray:
    """Canonical (SPM-style) double-gamma HRF, one row per peak shape.

    ``peak`` is the shape of the first gamma (6 in SPM, i.e. a response peaking
    about 5 s after the neural event); the undershoot gamma has shape 16 and is
    scaled by 1/6. Each row is normalised to unit sum so that the HRF changes
    the timing, not the amplitude, of the signal.
    """
    t = np.asarray(t, dtype=float)[None, :]
    a = np.asarray(peak, dtype=float)[:, None]
    log_t = np.log(np.maximum(t, 1e-12))
    first = np.exp((a - 1) * log_t - t - gammaln(a))
    second = np.exp((undershoot - 1) * log_t - t - gammaln(undershoot))
    hrf = np.where(t > 0, first - ratio * second, 0.0)
    return hrf / hrf.sum(axis=1, keepdims=True)


def _subject_parameters(
    draws: np.ndarray, noise_level: float
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Latent parameters and labels from standard normal draws of shape (S, 9).

    Columns 0-3 drive the dynamics, 4-6 are label noise, 7-8 are nuisances.
    The formulas are listed in the Notes of :func:`make_brain_dynamics`.
    """
    z = draws
    params = {
        "coupling": np.clip(_COUPLING_MEAN + _COUPLING_SD * z[:, 0], *_COUPLING_RANGE),
        "timescale": _TIMESCALE * np.exp(_TIMESCALE_LOG_SD * z[:, 1]),
        "network_gain": np.exp(_NETWORK_GAIN_LOG_SD * z[:, 2]),
        "cross_gain": np.exp(_CROSS_GAIN_LOG_SD * z[:, 3]),
        "hrf_peak": 6.0 * np.exp(0.05 * z[:, 7]),
        "noise_sd": noise_level * np.exp(0.2 * z[:, 8]),
    }
    labels = {
        "age": np.clip(45.0 - 10.0 * z[:, 0] + 3.0 * z[:, 1] + 4.0 * z[:, 4], 18, 90),
        "sex": (z[:, 3] + _LABEL_NOISE * z[:, 5] > 0).astype(int),
        "diagnosis": (-z[:, 2] + _LABEL_NOISE * z[:, 6] > 0).astype(int),
    }
    return params, labels


def _coupling_modes(
    template: np.ndarray,
    networks: np.ndarray,
    params: dict[str, np.ndarray],
    jitter: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of each subject's effective coupling ``g_s W_s``.

    Returns
    -------
    eigvals : ndarray of shape (n_subjects, n_rois)
    eigvecs : ndarray of shape (n_subjects, n_rois, n_rois)
    """
    in_net0 = networks == 0
    block0 = in_net0[:, None] & in_net0[None, :]
    last_two = _last_two_networks(networks)
    # Symmetric log-normal jitter: each subject's own version of the template.
    sym = np.triu(jitter, k=1)
    sym = sym + np.swapaxes(sym, 1, 2)
    w = template[None] * np.exp(_JITTER_LOG_SD * sym)
    w = np.where(block0[None], w * params["network_gain"][:, None, None], w)
    w = np.where(last_two[None], w * params["cross_gain"][:, None, None], w)
    # Rescale each W_s to unit spectral radius (its largest eigenvalue, since
    # W_s is symmetric and non-negative), so that ``coupling`` alone sets the
    # distance from the critical point at 1 and the process is always stable.
    eigvals, eigvecs = np.linalg.eigh(w)
    top = eigvals[:, -1:]
    # A subject without any link (e.g. one ROI) has top == 0: no coupling.
    safe_top = np.where(top > 0, top, 1.0)
    eigvals = np.where(top > 0, eigvals / safe_top, 0.0)
    return params["coupling"][:, None] * eigvals, eigvecs


def _simulate_modes(
    eigvals: np.ndarray,
    timescale: np.ndarray,
    n_bins: int,
    bin_width: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bin averages of the network's independent modes, sampled exactly.

    In the eigenbasis of the symmetric coupling ``A = V diag(lam) V^T`` the model
    ``dx = (A - I) x dt / tau + sqrt(2 / tau) dB`` splits into independent
    scalar Ornstein-Uhlenbeck modes ``dy = -k y dt + s dB`` with
    ``k = (1 - lam) / tau`` and ``s**2 = 2 / tau``. Over a bin of width ``h``
    the end value ``y_h`` and the integral ``I = int_0^h y dt`` given the start
    value ``y_0`` are jointly Gaussian with

    - ``E[y_h] = p y_0`` with ``p = exp(-k h)``,
      ``Var = s**2 (1 - p**2) / (2 k)``;
    - ``E[I] = y_0 (1 - p) / k``,
      ``Var = s**2 / k**2 * (h - 2 (1 - p) / k + (1 - p**2) / (2 k))``;
    - ``Cov(y_h, I) = s**2 (1 - p)**2 / (2 k**2)``.

    Sampling from this law has no discretisation error (unlike Euler-Maruyama)
    and needs two normal draws per bin instead of one per fine step.

    Returns
    -------
    modes : ndarray of shape (n_subjects, n_rois, n_bins)
        Mean of each mode over each bin.
    """
    h = bin_width
    k = (1.0 - eigvals) / timescale[:, None]
    s2 = (2.0 / timescale)[:, None]
    one_minus_p = -np.expm1(-k * h)
    p = 1.0 - one_minus_p
    var_end = s2 * one_minus_p * (1.0 + p) / (2.0 * k)
    var_int = (s2 / k**2) * (
        h - 2.0 * one_minus_p / k + one_minus_p * (1.0 + p) / (2.0 * k)
    )
    cov = s2 * one_minus_p**2 / (2.0 * k**2)
    # Cholesky factor of the 2x2 covariance, written out per mode.
    a = np.sqrt(var_end)
    c = cov / a
    d = np.sqrt(np.maximum(var_int - c**2, 0.0))
    gain = one_minus_p / k

    # Start in the stationary law, variance s**2 / (2 k) = 1 / (1 - lam).
    y = rng.standard_normal(eigvals.shape) / np.sqrt(1.0 - eigvals)
    # Time first, so each bin writes one contiguous block.
    out = np.empty((n_bins,) + eigvals.shape)
    chunk = 128  # draw noise for many bins per call to keep numpy overhead low
    for b0 in range(0, n_bins, chunk):
        u = rng.standard_normal((min(chunk, n_bins - b0), 2) + eigvals.shape)
        for j in range(u.shape[0]):
            out[b0 + j] = gain * y + c * u[j, 0] + d * u[j, 1]
            y = p * y + a * u[j, 0]
    return np.moveaxis(out, 0, -1) / h


def make_brain_dynamics(
    n_subjects: int = 100,
    n_rois: int = 50,
    n_timepoints: int = 200,
    *,
    tr: float = 2.0,
    n_networks: int = 5,
    noise_level: float = 0.5,
    random_state=None,
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
    information.

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
    random_state : int, RandomState instance or None, default=None
        Seed for everything random: the group connectome, the subject
        parameters, the neural noise and the measurement noise (drawn from
        separate streams, so e.g. ``n_timepoints`` does not change the
        subjects' parameters).
    return_networks : bool, default=False
        If True, also return the ground-truth network of each ROI.

    Returns
    -------
    X : ndarray of shape (n_subjects, n_rois, n_timepoints), dtype float32
        Simulated BOLD signal on a scanner-like scale (ROI means of a few
        hundred to a few thousand, fluctuations of 0.5-2 % of the mean).
    phenotypes : pandas.DataFrame of shape (n_subjects, 9)
        Indexed by subject ids ``"sub-000"``, ``"sub-001"``, ... (index name
        ``"subject_id"``). Columns: the targets ``age`` (float, years),
        ``sex`` (int, 0/1) and ``diagnosis`` (int, 0/1); the latent parameters
        that drive them, ``coupling``, ``timescale`` (seconds),
        ``network_gain`` and ``cross_gain``; and two nuisance parameters that
        no label depends on, ``hrf_peak`` (shape of the HRF's first gamma; 6
        is SPM's canonical HRF) and ``noise_sd`` (the subject's measurement
        noise level). ``phenotypes.attrs["tr"]`` holds ``tr``.
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
      ``noise_sd = noise_level exp(0.2 z9)``.

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
    No drift, motion or physiological artefacts are simulated.

    With the defaults and 120 subjects, logistic regression on the upper
    triangle of the correlation matrix reaches a cross-validated balanced
    accuracy of about 0.8 for ``diagnosis`` and ``sex``, ridge regression on
    the same features predicts ``age`` with r of about 0.5-0.6, and the lag-1
    autocorrelation of the ROI series is about 0.7 at ``tr=2``.

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
    """
    n_subjects = _check_positive_int(n_subjects, "n_subjects")
    n_rois = _check_positive_int(n_rois, "n_rois")
    n_timepoints = _check_positive_int(n_timepoints, "n_timepoints")
    n_networks = _check_positive_int(n_networks, "n_networks")
    if n_networks > n_rois:
        raise ValueError(
            f"n_networks must be at most n_rois={n_rois}; got n_networks={n_networks}."
        )
    tr = _check_nonnegative_real(tr, "tr", strict=True)
    noise_level = _check_nonnegative_real(noise_level, "noise_level", strict=False)

    # Separate streams so that, e.g., changing n_timepoints does not change the
    # connectome or the subjects' parameters.
    seeds = spawn_seeds(random_state, 4)
    rng_template, rng_subject, rng_neural, rng_measure = (
        np.random.default_rng(s) for s in seeds
    )

    networks = _network_labels(n_rois, n_networks)
    template = _template_connectome(networks, rng_template)

    draws = rng_subject.standard_normal((n_subjects, 9))
    jitter = rng_subject.standard_normal((n_subjects, n_rois, n_rois))
    params, labels = _subject_parameters(draws, noise_level)
    lam, vec = _coupling_modes(template, networks, params, jitter)
    timescale = params["timescale"]

    # Time grid: the neural modes are averaged over bins of width bin_w, then
    # convolved with the HRF; frames start once the HRF has a full history.
    bin_w = min(_MAX_BIN_WIDTH, tr / 2.0)
    lead = _HRF_LENGTH
    n_bins = int(np.ceil((lead + (n_timepoints - 1) * tr) / bin_w)) + 2
    modes = _simulate_modes(lam, timescale, n_bins, bin_w, rng_neural)

    # The HRF is the same for all ROIs of a subject, so it can be applied to
    # the modes before rotating back to ROI space (fewer frames to rotate).
    hrf_t = np.arange(0.0, _HRF_LENGTH, bin_w) + bin_w / 2
    hrf = _double_gamma_hrf(hrf_t, params["hrf_peak"])
    n_fft = next_fast_len(n_bins + hrf_t.size - 1, real=True)
    spectrum = rfft(modes, n_fft, axis=-1) * rfft(hrf, n_fft, axis=-1)[:, None, :]
    bold_modes = irfft(spectrum, n_fft, axis=-1)[:, :, :n_bins]

    # Linear interpolation at the frame times; bin i covers [i, i + 1) * bin_w
    # and its mean is assigned to the bin centre.
    frame_t = lead + tr * np.arange(n_timepoints)
    pos = frame_t / bin_w - 0.5
    left = np.floor(pos).astype(int)
    frac = pos - left
    bold_modes = bold_modes[:, :, left] * (1 - frac) + bold_modes[:, :, left + 1] * frac
    bold = np.matmul(vec, bold_modes)

    # Standardise each ROI so its mean/variance carry nothing about the labels,
    # then add noise and a scanner-like baseline and fluctuation size.
    bold = bold - bold.mean(axis=2, keepdims=True)
    sd = bold.std(axis=2, keepdims=True)
    bold = bold / np.where(sd > 0, sd, 1.0)
    noise = rng_measure.standard_normal(bold.shape)
    noise_sd = params["noise_sd"]
    bold = bold + noise_sd[:, None, None] * noise
    baseline = 1000.0 * np.exp(0.5 * rng_measure.standard_normal((n_subjects, n_rois)))
    percent = rng_measure.uniform(0.005, 0.02, (n_subjects, n_rois))
    scale = baseline * percent / np.sqrt(1.0 + noise_sd**2)[:, None]
    X = (baseline[:, :, None] + scale[:, :, None] * bold).astype(np.float32)

    width = max(3, len(str(n_subjects - 1)))
    index = pd.Index(
        [f"sub-{i:0{width}d}" for i in range(n_subjects)], name="subject_id"
    )
    phenotypes = pd.DataFrame({**labels, **params}, index=index)
    phenotypes.attrs["tr"] = tr
    logger.debug(
        "Simulated %d subjects x %d ROIs x %d frames (TR %.3g s, bins of %.3g s).",
        n_subjects,
        n_rois,
        n_timepoints,
        tr,
        bin_w,
    )
    if return_networks:
        return X, phenotypes, networks
    return X, phenotypes
