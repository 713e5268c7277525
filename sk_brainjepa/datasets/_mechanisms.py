"""Dynamic phenotypes of the simulator: lagged coupling, bursts, state switching.

Each mechanism adds a network-wide signal whose two classes zero-lag FC
cannot tell apart; :func:`~sk_brainjepa.datasets.make_brain_dynamics`
documents them.
"""

from __future__ import annotations

import logging

import numpy as np

from sk_brainjepa.datasets._bold import (
    _bold_of,
    _hrf_convolve,
    _sample_frames,
    _spread,
    _standardise,
    _Timing,
)

logger = logging.getLogger(__name__)

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


def _label_and_spread(
    rng: np.random.Generator, n_subjects: int, log_sd: float
) -> tuple[np.ndarray, np.ndarray]:
    """A 0/1 label and a log-normal factor ``exp(log_sd * z)`` per subject.

    Both come from one ``(n_subjects, 2)`` standard-normal draw, the label
    from its first column and the factor from its second.
    """
    z = rng.standard_normal((n_subjects, 2))
    return (z[:, 0] > 0).astype(int), np.exp(log_sd * z[:, 1])


def _lag_parameters(
    rng: np.random.Generator, n_subjects: int, strength: float
) -> dict[str, np.ndarray]:
    """Direction (0: network 0 leads, 1: network 1 leads) and per-subject strength."""
    direction, spread = _label_and_spread(rng, n_subjects, _LAG_STRENGTH_LOG_SD)
    return {"direction": direction, "lag_strength": strength * spread}


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
    polarity, spread = _label_and_spread(rng, n_subjects, _BURST_RATE_LOG_SD)
    return {"burst_polarity": polarity, "burst_rate": _BURST_RATE * spread}


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
    dwell, spread = _label_and_spread(rng, n_subjects, _DWELL_LOG_SD)
    base = np.where(dwell == 1, _DWELL_LONG, _DWELL_SHORT)
    return {"dwell": dwell, "dwell_time": base * spread}


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
    subject: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Add the signals of the mechanisms switched on, then re-standardise.

    Parameters
    ----------
    bold : ndarray of shape (n_runs, n_rois, n_timepoints)
        Standardised haemodynamic signal.
    hrf : ndarray of shape (n_runs, n_hrf_bins)
    subject : ndarray of shape (n_runs,) or None, default=None
        Subject of each run (0, 0, 1, 1, ... for two runs each): labels and
        parameters are drawn per subject and shared by its runs, the signals
        are fresh in every run. None: one run per subject.

    Returns
    -------
    bold : ndarray of shape (n_runs, n_rois, n_timepoints)
        Unchanged (the same object) when every strength is 0.
    columns : dict of str to ndarray of shape (n_subjects,)
        Labels and parameters of the mechanisms switched on.
    """
    if not any(strengths.values()):
        return bold, {}
    if subject is None:
        subject = np.arange(bold.shape[0])
    n_subjects = int(subject.max()) + 1
    drive = np.zeros_like(bold)
    columns = {}
    streams = _dynamic_streams(seeds)
    for (name, make_params, make_drive), (rng_params, rng_signal) in zip(
        _DYNAMIC_MECHANISMS, streams, strict=True
    ):
        if strengths[name] == 0:
            continue
        params = make_params(rng_params, n_subjects, strengths[name])
        per_run = {key: value[subject] for key, value in params.items()}
        drive += make_drive(per_run, strengths[name], networks, hrf, timing, rng_signal)
        columns.update(params)
        logger.debug("Dynamic phenotype %s with strength %.3g.", name, strengths[name])
    return _standardise(bold + drive), columns
