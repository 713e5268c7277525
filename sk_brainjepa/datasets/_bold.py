"""The simulated cohort's haemodynamic signal: networks, coupling, HRF, frames.

A template connectome of networks, per-subject coupling modes driven by
white noise, the SPM double-gamma HRF and the sampling of frames at the TR;
:func:`~sk_brainjepa.datasets.make_brain_dynamics` documents the model and
its constants.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft
from scipy.special import gammaln

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
