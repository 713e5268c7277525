"""Simulate resting-state BOLD ROI time series with labels that live in the dynamics."""

from __future__ import annotations

import logging
from numbers import Integral, Real
from typing import NamedTuple

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
# Dynamic phenotypes (off by default), documented in make_brain_dynamics' Notes.
# Each adds a network-wide signal whose two classes zero-lag FC cannot tell
# apart. The scales (SD of each added signal relative to the unit intrinsic
# one, per unit of strength) were tuned so that a strength of 1 gives
# hand-made dynamic features a clear margin (tests/test_dynamics_phenotypes.py);
# lags and bursts are far easier to detect than states, hence smaller scales.
_LAG_SCALE, _BURST_SCALE, _STATE_SCALE = 0.5, 0.5, 1.5
_LAG_FRAMES = 2
_LAG_STRENGTH_LOG_SD = 0.2
_BURST_RATE, _BURST_RATE_LOG_SD = 3.0, 0.3  # bursts per minute per network
_DWELL_SHORT, _DWELL_LONG, _DWELL_LOG_SD = 3.0, 60.0, 0.15  # seconds


class _Timing(NamedTuple):
    """Time grid shared by every simulated signal of a cohort (seconds)."""

    tr: float
    bin_width: float
    lead: float
    n_timepoints: int

    def n_bins(self, extra: float = 0.0) -> int:
        """Bins covering the lead, the frames and ``extra`` seconds more."""
        span = self.lead + (self.n_timepoints - 1) * self.tr + extra
        return int(np.ceil(span / self.bin_width)) + 2

    def frame_times(self) -> np.ndarray:
        """Time of each frame, once the HRF has a full history."""
        return self.lead + self.tr * np.arange(self.n_timepoints)


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


def _hrf_convolve(neural: np.ndarray, hrf: np.ndarray) -> np.ndarray:
    """Causal convolution of each subject's signals with that subject's HRF.

    Parameters
    ----------
    neural : ndarray of shape (n_subjects, n_signals, n_bins)
        Bin averages of neural signals; nothing happens before the first bin.
    hrf : ndarray of shape (n_subjects, n_hrf_bins)

    Returns
    -------
    bold : ndarray of shape (n_subjects, n_signals, n_bins)
    """
    n_bins = neural.shape[-1]
    n_fft = next_fast_len(n_bins + hrf.shape[-1] - 1, real=True)
    spectrum = rfft(neural, n_fft, axis=-1) * rfft(hrf, n_fft, axis=-1)[:, None, :]
    return irfft(spectrum, n_fft, axis=-1)[:, :, :n_bins]


def _sample_frames(
    signal: np.ndarray, times: np.ndarray, bin_width: float
) -> np.ndarray:
    """Linear interpolation of binned signals at ``times`` (seconds).

    Bin ``i`` covers ``[i, i + 1) * bin_width`` and its mean is assigned to the
    bin centre.

    Parameters
    ----------
    signal : ndarray of shape (n_subjects, n_signals, n_bins)
    times : ndarray of shape (n_frames,)

    Returns
    -------
    frames : ndarray of shape (n_subjects, n_signals, n_frames)
    """
    pos = times / bin_width - 0.5
    left = np.floor(pos).astype(int)
    frac = pos - left
    return signal[:, :, left] * (1 - frac) + signal[:, :, left + 1] * frac


def _standardise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit SD along the last axis; constant series become zeros."""
    x = x - x.mean(axis=2, keepdims=True)
    sd = x.std(axis=2, keepdims=True)
    return x / np.where(sd > 0, sd, 1.0)


def _bold_of(
    neural: np.ndarray, hrf: np.ndarray, times: np.ndarray, timing: _Timing
) -> np.ndarray:
    """Standardised BOLD frames of binned neural signals (HRF, then sampling).

    Parameters
    ----------
    neural : ndarray of shape (n_subjects, n_signals, n_bins)
    hrf : ndarray of shape (n_subjects, n_hrf_bins)
    times : ndarray of shape (n_frames,)

    Returns
    -------
    bold : ndarray of shape (n_subjects, n_signals, n_frames)
    """
    bold = _hrf_convolve(neural, hrf)
    return _standardise(_sample_frames(bold, times, timing.bin_width))


def _spread(
    signal: np.ndarray, networks: np.ndarray, network: int, n_rois: int
) -> np.ndarray:
    """Copy one signal per subject onto every ROI of ``network``, zeros elsewhere.

    Parameters
    ----------
    signal : ndarray of shape (n_subjects, n_frames)

    Returns
    -------
    drive : ndarray of shape (n_subjects, n_rois, n_frames)
    """
    drive = np.zeros((signal.shape[0], n_rois, signal.shape[1]))
    drive[:, networks == network] = signal[:, None, :]
    return drive


def _lag_parameters(
    rng: np.random.Generator, n_subjects: int, strength: float
) -> dict[str, np.ndarray]:
    """Direction (0: network 0 leads, 1: network 1 leads) and per-subject strength."""
    z = rng.standard_normal((n_subjects, 2))
    return {
        "direction": (z[:, 0] > 0).astype(int),
        "lag_strength": strength * np.exp(_LAG_STRENGTH_LOG_SD * z[:, 1]),
    }


def _lagged_drive(
    columns: dict[str, np.ndarray],
    strength: float,
    networks: np.ndarray,
    hrf: np.ndarray,
    timing: _Timing,
    rng: np.random.Generator,
) -> np.ndarray:
    """A common signal that reaches the leading network ``_LAG_FRAMES`` early.

    The driver ``u`` is HRF-filtered white neural noise; the leader gets
    ``u(t + L tr)`` and the follower ``u(t)``, each standardised. Swapping the
    roles is a time reversal of a reversible Gaussian process, which leaves
    every zero-lag statistic (FC, variances) with the same distribution.

    Returns
    -------
    drive : ndarray of shape (n_subjects, n_rois, n_timepoints)
    """
    shift = _LAG_FRAMES * timing.tr
    n_subjects = hrf.shape[0]
    neural = rng.standard_normal((n_subjects, 1, timing.n_bins(shift)))
    times = timing.frame_times()
    bold = _hrf_convolve(neural, hrf)
    early = _standardise(_sample_frames(bold, times + shift, timing.bin_width))[:, 0]
    late = _standardise(_sample_frames(bold, times, timing.bin_width))[:, 0]
    first_leads = (columns["direction"] == 0)[:, None]
    weight = _LAG_SCALE * columns["lag_strength"][:, None]
    n_rois = networks.size
    return _spread(
        weight * np.where(first_leads, early, late), networks, 0, n_rois
    ) + _spread(weight * np.where(first_leads, late, early), networks, 1, n_rois)


def _burst_parameters(
    rng: np.random.Generator, n_subjects: int, strength: float
) -> dict[str, np.ndarray]:
    """Burst polarity (0: dips, 1: bursts) and rate (per minute) per subject."""
    z = rng.standard_normal((n_subjects, 2))
    return {
        "burst_polarity": (z[:, 0] > 0).astype(int),
        "burst_rate": _BURST_RATE * np.exp(_BURST_RATE_LOG_SD * z[:, 1]),
    }


def _burst_drive(
    columns: dict[str, np.ndarray],
    strength: float,
    networks: np.ndarray,
    hrf: np.ndarray,
    timing: _Timing,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sparse, exponentially sized neural events shared by each network's ROIs.

    Every network gets its own Poisson train of events; after the HRF each
    train is a skewed (shot-noise) signal, standardised and multiplied by the
    subject's sign. Flipping the sign of a signal added to a symmetric Gaussian
    background changes the odd moments only, so FC and every even moment
    (variance, IQR, kurtosis) have the same distribution in both classes.

    Returns
    -------
    drive : ndarray of shape (n_subjects, n_rois, n_timepoints)
    """
    n_subjects, n_networks = hrf.shape[0], int(networks.max()) + 1
    shape = (n_subjects, n_networks, timing.n_bins())
    p_event = -np.expm1(-columns["burst_rate"] / 60.0 * timing.bin_width)
    events = rng.random(shape) < p_event[:, None, None]
    neural = np.where(events, rng.exponential(1.0, shape), 0.0)
    bold = _bold_of(neural, hrf, timing.frame_times(), timing)
    sign = 2.0 * columns["burst_polarity"] - 1.0
    return _BURST_SCALE * strength * sign[:, None, None] * bold[:, networks, :]


def _state_parameters(
    rng: np.random.Generator, n_subjects: int, strength: float
) -> dict[str, np.ndarray]:
    """Dwell class (0: short, 1: long) and mean dwell time (s) per subject."""
    z = rng.standard_normal((n_subjects, 2))
    dwell = (z[:, 0] > 0).astype(int)
    base = np.where(dwell == 1, _DWELL_LONG, _DWELL_SHORT)
    return {"dwell": dwell, "dwell_time": base * np.exp(_DWELL_LOG_SD * z[:, 1])}


def _telegraph(
    rng: np.random.Generator, dwell_time: np.ndarray, n_bins: int, bin_width: float
) -> np.ndarray:
    """Symmetric two-state Markov chain (values +1/-1) started at stationarity.

    Parameters
    ----------
    dwell_time : ndarray of shape (n_subjects,)
        Mean time (s) spent in a state before switching.

    Returns
    -------
    states : ndarray of shape (n_subjects, n_bins)
    """
    # Switching with probability 1 - exp(-h / T) per bin of width h gives
    # exponential dwell times of mean T; both states are equally likely.
    p_switch = -np.expm1(-bin_width / dwell_time)
    switches = rng.random((dwell_time.size, n_bins)) < p_switch[:, None]
    start = rng.random(dwell_time.size) < 0.5
    parity = (np.cumsum(switches, axis=1) + start[:, None]) % 2
    return 1.0 - 2.0 * parity


def _state_drive(
    columns: dict[str, np.ndarray],
    strength: float,
    networks: np.ndarray,
    hrf: np.ndarray,
    timing: _Timing,
    rng: np.random.Generator,
) -> np.ndarray:
    """A shared signal that even and odd networks carry in or out of phase.

    Even-numbered networks get white neural noise ``w``, odd-numbered ones
    ``s w``, where ``s = +1/-1`` is a telegraph process: in one state every
    network moves together, in the other neighbouring networks are
    anti-correlated. ``s w`` is white Gaussian noise whatever ``s`` is, so
    each network alone looks the same in both classes, and the time-averaged
    coupling between even and odd networks is zero on average; only how long
    the sign stays put (the dwell time) differs.

    Returns
    -------
    drive : ndarray of shape (n_subjects, n_rois, n_timepoints)
    """
    n_subjects, n_bins = hrf.shape[0], timing.n_bins()
    white = rng.standard_normal((n_subjects, n_bins))
    states = _telegraph(rng, columns["dwell_time"], n_bins, timing.bin_width)
    neural = np.stack([white, states * white], axis=1)
    bold = _STATE_SCALE * strength * _bold_of(neural, hrf, timing.frame_times(), timing)
    # ROIs of even networks take signal 0, those of odd networks signal 1.
    return bold[:, networks % 2, :]


# (strength parameter, label/parameter maker, signal maker), in stream order.
_DYNAMIC_MECHANISMS = (
    ("lagged_coupling", _lag_parameters, _lagged_drive),
    ("burstiness", _burst_parameters, _burst_drive),
    ("state_switching", _state_parameters, _state_drive),
)


def _dynamic_streams(seeds: list[int]) -> list[tuple[np.random.Generator, ...]]:
    """A (parameters, signal) pair of generators per dynamic mechanism.

    They are spawned from the cohort's existing seeds instead of drawing more
    from ``random_state``, so the original streams, and the data simulated
    with all mechanisms off, stay exactly as they were.
    """
    children = np.random.SeedSequence(seeds).spawn(2 * len(_DYNAMIC_MECHANISMS))
    gens = [np.random.default_rng(c) for c in children]
    return list(zip(gens[::2], gens[1::2], strict=True))


def _add_dynamic_phenotypes(
    bold: np.ndarray,
    strengths: dict[str, float],
    networks: np.ndarray,
    hrf: np.ndarray,
    timing: _Timing,
    seeds: list[int],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Add the signals of the mechanisms switched on, then re-standardise.

    Parameters
    ----------
    bold : ndarray of shape (n_subjects, n_rois, n_timepoints)
        Standardised haemodynamic signal.

    Returns
    -------
    bold : ndarray of shape (n_subjects, n_rois, n_timepoints)
        Unchanged (the same object) when every strength is 0.
    columns : dict of str to ndarray of shape (n_subjects,)
        Labels and parameters of the mechanisms switched on.
    """
    if not any(strengths.values()):
        return bold, {}
    drive = np.zeros_like(bold)
    columns = {}
    streams = _dynamic_streams(seeds)
    for (name, make_params, make_drive), (rng_params, rng_signal) in zip(
        _DYNAMIC_MECHANISMS, streams, strict=True
    ):
        if strengths[name] == 0:
            continue
        params = make_params(rng_params, bold.shape[0], strengths[name])
        drive += make_drive(params, strengths[name], networks, hrf, timing, rng_signal)
        columns.update(params)
        logger.debug("Dynamic phenotype %s with strength %.3g.", name, strengths[name])
    return _standardise(bold + drive), columns


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
    information. Three optional mechanisms add targets that zero-lag FC
    cannot see at all: a directed lag between two networks
    (``lagged_coupling``), skewed bursts of activity (``burstiness``) and
    switching between connectivity states (``state_switching``).

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
    random_state : int, RandomState instance or None, default=None
        Seed for everything random: the group connectome, the subject
        parameters, the neural noise and the measurement noise (drawn from
        separate streams, so e.g. ``n_timepoints`` does not change the
        subjects' parameters). The dynamic phenotypes draw from further
        streams spawned from the same seeds, so switching one on or off
        changes none of the other draws or columns.
    return_networks : bool, default=False
        If True, also return the ground-truth network of each ROI.

    Returns
    -------
    X : ndarray of shape (n_subjects, n_rois, n_timepoints), dtype float32
        Simulated BOLD signal on a scanner-like scale (ROI means of a few
        hundred to a few thousand, fluctuations of 0.5-2 % of the mean).
    phenotypes : pandas.DataFrame of shape (n_subjects, 9 + 2 * n_mechanisms)
        Indexed by subject ids ``"sub-000"``, ``"sub-001"``, ... (index name
        ``"subject_id"``). Columns: the targets ``age`` (float, years),
        ``sex`` (int, 0/1) and ``diagnosis`` (int, 0/1); the latent parameters
        that drive them, ``coupling``, ``timescale`` (seconds),
        ``network_gain`` and ``cross_gain``; and two nuisance parameters that
        no label depends on, ``hrf_peak`` (shape of the HRF's first gamma; 6
        is SPM's canonical HRF) and ``noise_sd`` (the subject's measurement
        noise level). Then two columns for each dynamic mechanism switched
        on (strength > 0), in this order: ``direction`` (int, 0/1) and
        ``lag_strength`` (the subject's coupling strength); ``burst_polarity``
        (int, 0/1) and ``burst_rate`` (bursts per minute per network);
        ``dwell`` (int, 0/1) and ``dwell_time`` (mean dwell time, seconds).
        ``phenotypes.attrs["tr"]`` holds ``tr``.
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
    timing = _Timing(tr, bin_w, _HRF_LENGTH, n_timepoints)
    modes = _simulate_modes(lam, timescale, timing.n_bins(), bin_w, rng_neural)

    # The HRF is the same for all ROIs of a subject, so it can be applied to
    # the modes before rotating back to ROI space (fewer frames to rotate).
    hrf_t = np.arange(0.0, _HRF_LENGTH, bin_w) + bin_w / 2
    hrf = _double_gamma_hrf(hrf_t, params["hrf_peak"])
    bold_modes = _hrf_convolve(modes, hrf)
    bold_modes = _sample_frames(bold_modes, timing.frame_times(), bin_w)
    bold = np.matmul(vec, bold_modes)

    # Standardise each ROI so its mean/variance carry nothing about the labels;
    # the dynamic phenotypes (if any) enter here, on the same footing, and are
    # standardised away again. Then add noise and a scanner-like scale.
    bold = _standardise(bold)
    bold, dynamic = _add_dynamic_phenotypes(
        bold, strengths, networks, hrf, timing, seeds
    )
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
    phenotypes = pd.DataFrame({**labels, **params, **dynamic}, index=index)
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
