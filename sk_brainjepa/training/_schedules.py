"""Closed-form schedules of the optimisation step: learning rate, weight decay, EMA.

Each schedule is a pure function of the step, so it can be tested at its end
points and resumed exactly from a step counter (the official code re-steps
generator objects on resume and gets it wrong: official repository file
``src/train.py``; docs/differences-from-official.md, "Optimiser, schedules and
EMA").
"""

from __future__ import annotations

import math


def warmup_cosine(
    step: int,
    *,
    total_steps: int,
    warmup_steps: int,
    start_value: float,
    peak_value: float,
    final_value: float,
) -> float:
    """Linear warm-up from ``start_value`` to ``peak_value``, then cosine decay.

    Parameters
    ----------
    step : int
        Optimiser step, counted from 0.
    total_steps : int
        Steps in the whole run; the value reaches ``final_value`` at the end.
    warmup_steps : int
        Length of the linear warm-up.
    start_value, peak_value, final_value : float
        Learning rate at step 0, at the end of warm-up, and at ``total_steps``.

    Returns
    -------
    value : float
    """
    if step < warmup_steps:
        return start_value + (step / warmup_steps) * (peak_value - start_value)
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return final_value + (peak_value - final_value) * 0.5 * (
        1.0 + math.cos(math.pi * progress)
    )


def cosine_ramp(
    step: int, *, total_steps: int, start_value: float, final_value: float
) -> float:
    """Half-cosine ramp from ``start_value`` (step 0) to ``final_value`` (last step).

    Brain-JEPA and I-JEPA raise the weight decay from 0.04 to 0.4 this way.

    Parameters
    ----------
    step : int
    total_steps : int
    start_value, final_value : float

    Returns
    -------
    value : float
    """
    progress = min(1.0, step / max(1, total_steps))
    return final_value + (start_value - final_value) * 0.5 * (
        1.0 + math.cos(math.pi * progress)
    )


def ema_momentum(
    step: int, *, total_steps: int, start_value: float = 0.996, final_value: float = 1.0
) -> float:
    """Linear EMA momentum ramp that reaches ``final_value`` at the last update.

    The paper ramps the momentum from 0.996 to 1.0 over training. The official
    code advances its momentum generator only once per optimiser step while
    sizing it in iterations, so with 8 accumulation steps it stalls near 0.9965
    (official repository file ``src/train.py``); this function reaches the end
    value.

    Parameters
    ----------
    step : int
        EMA update index, from 0 to ``total_steps - 1``.
    total_steps : int
        Number of EMA updates in the run.
    start_value, final_value : float

    Returns
    -------
    momentum : float
    """
    if total_steps <= 1:
        return final_value
    progress = min(1.0, step / (total_steps - 1))
    return start_value + progress * (final_value - start_value)


def official_ema_momentum(
    update: int,
    *,
    iterations_per_epoch: int,
    epochs: int,
    start_value: float = 0.996,
    final_value: float = 1.0,
) -> float:
    """The official schedule: the k-th update (from 0) uses a per-iteration ramp.

    Parameters
    ----------
    update : int
        EMA update index from 0.
    iterations_per_epoch : int
        Mini-batches per epoch (not optimiser steps).
    epochs : int

    Returns
    -------
    momentum : float
    """
    return start_value + update * (final_value - start_value) / (
        iterations_per_epoch * epochs
    )
