"""A :class:`JEPATrainer` sized from epochs and batches, as pretraining builds it.

:class:`JEPATrainer` counts optimiser steps; a run is planned in epochs over a
number of subjects. :func:`schedule_steps` converts one into the other, and
:func:`build_trainer` builds the trainer with them and the pretrainer's
defaults. ``BrainJEPAPretrainer.fit`` and ``benchmarks/throughput.py`` both
build their trainer here, so the benchmark times what ``fit`` runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sk_brainjepa.training._distributed import DistributedContext
from sk_brainjepa.training._objective import Objective
from sk_brainjepa.training._trainer import JEPATrainer

#: The official start learning rate as a share of the peak (5e-5 / 1e-3).
START_LR_FRACTION = 0.05


def schedule_steps(
    n_subjects: int,
    batch_size: int,
    max_epochs: int,
    *,
    accumulation_steps: int = 1,
    warmup_epochs: float | None = None,
) -> dict[str, int]:
    """Step counts of a run planned in epochs.

    Parameters
    ----------
    n_subjects : int
        Training subjects; an epoch sees each once.
    batch_size : int
        Global mini-batch size; the last batch of an epoch may be smaller.
    max_epochs : int
    accumulation_steps : int, default=1
        Mini-batches per optimiser step; a partial accumulation is applied at
        the end of every epoch.
    warmup_epochs : float or None, default=None
        Length of the learning-rate warm-up in epochs; None is the official
        proportion, 40/300 of ``max_epochs``.

    Returns
    -------
    steps : dict of int
        ``batches_per_epoch``; ``steps_per_epoch`` (optimiser steps);
        ``total_steps`` and ``warmup_steps`` (optimiser steps of the run and of
        its warm-up); ``ema_iterations`` (mini-batches of the run, the length
        of the official EMA ramp).
    """
    batches_per_epoch = -(-n_subjects // batch_size)
    steps_per_epoch = -(-batches_per_epoch // accumulation_steps)
    if warmup_epochs is None:
        # The official warm-up, 40 of 300 epochs (computed in this order: the
        # rounding below must not change).
        warmup_epochs = max_epochs * 40 / 300
    return {
        "batches_per_epoch": batches_per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "total_steps": steps_per_epoch * max_epochs,
        "warmup_steps": int(round(warmup_epochs * steps_per_epoch)),
        "ema_iterations": batches_per_epoch * max_epochs,
    }


def build_trainer(
    encoder: nn.Module,
    predictor: nn.Module,
    target_encoder: nn.Module,
    masker: Callable,
    *,
    n_subjects: int,
    batch_size: int,
    max_epochs: int,
    mask_generator: torch.Generator,
    objective: Objective | None = None,
    accumulation_steps: int = 1,
    warmup_epochs: float | None = None,
    lr: float = 1e-3,
    start_lr: float | None = None,
    final_lr: float = 1e-6,
    weight_decay: float = 0.04,
    final_weight_decay: float = 0.4,
    ema: tuple[float, float] = (0.996, 1.0),
    ema_schedule: str = "linear",
    reconstruction_head: nn.Module | None = None,
    regularizer_generator: torch.Generator | None = None,
    autocast_dtype=None,
    context: DistributedContext | None = None,
) -> JEPATrainer:
    """The trainer of a run planned in epochs, with the pretrainer's defaults.

    Parameters
    ----------
    encoder, predictor, target_encoder : nn.Module
        As the trainer gets them (wrapped for data parallelism or compiled by
        the caller when wanted).
    masker : callable
        ``masker(batch_size, generator) -> MaskBatch``.
    n_subjects, batch_size, max_epochs, accumulation_steps, warmup_epochs
        The plan of the run; see :func:`schedule_steps`.
    mask_generator : torch.Generator
        The only source of randomness for masks.
    objective : Objective or None, default=None
        None is the paper's objective (``Objective()``).
    lr : float, default=1e-3
        Peak learning rate.
    start_lr : float or None, default=None
        Learning rate at step 0; None is ``0.05 * lr``.
    final_lr, weight_decay, final_weight_decay, ema, ema_schedule
        See :class:`JEPATrainer`.
    reconstruction_head, regularizer_generator, autocast_dtype, context
        Passed to :class:`JEPATrainer` unchanged.

    Returns
    -------
    trainer : JEPATrainer
        At step 0, its schedules sized by :func:`schedule_steps`.
    """
    steps = schedule_steps(
        n_subjects,
        batch_size,
        max_epochs,
        accumulation_steps=accumulation_steps,
        warmup_epochs=warmup_epochs,
    )
    return JEPATrainer(
        encoder,
        predictor,
        target_encoder,
        masker,
        mask_generator=mask_generator,
        total_steps=steps["total_steps"],
        warmup_steps=steps["warmup_steps"],
        lr=lr,
        start_lr=START_LR_FRACTION * lr if start_lr is None else start_lr,
        final_lr=final_lr,
        weight_decay=weight_decay,
        final_weight_decay=final_weight_decay,
        ema=tuple(ema),
        objective=Objective() if objective is None else objective,
        ema_schedule=ema_schedule,
        # A run of zero epochs takes no step; the official EMA schedule still
        # needs a positive length to be built.
        ema_iterations=max(steps["ema_iterations"], 1),
        reconstruction_head=reconstruction_head,
        regularizer_generator=regularizer_generator,
        accumulation_steps=accumulation_steps,
        autocast_dtype=autocast_dtype,
        context=context,
    )
