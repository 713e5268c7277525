"""The steps of ``BrainJEPAPretrainer.fit``, one function each.

:func:`prepare_run` reads the data, the resume checkpoint and the seeds and
resolves the gradients; :func:`build_modules` builds (or restores) the
encoder, predictor, target encoder and reconstruction head; :func:`make_trainer`
wraps them in a :class:`~sk_brainjepa.training.JEPATrainer` sized by
:func:`~sk_brainjepa.training.build_trainer`; :func:`train_epochs` runs the
epochs with their diagnostics, monitor, logging and checkpoints. Each takes the
parts of :class:`~sk_brainjepa.estimators._pretraining_settings.PretrainingSettings`
it reads (resolved once by ``fit``), never the estimator.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from sk_brainjepa._utils._random import spawn_seeds
from sk_brainjepa.estimators._common import embed, resolve_device
from sk_brainjepa.estimators._monitor import check_monitor, probe_score
from sk_brainjepa.estimators._persistence import load_module, model_payload
from sk_brainjepa.estimators._pretraining_checks import (
    balancing_gain,
    diagnostic_windows,
    reconstruction_head,
)
from sk_brainjepa.estimators._pretraining_settings import (
    CheckpointSettings,
    ModelSettings,
    MonitorSettings,
    PretrainingSettings,
    RuntimeSettings,
    ScheduleSettings,
)
from sk_brainjepa.estimators._resume import (
    check_same_gradients,
    data_fingerprint,
    load_resume_checkpoint,
)
from sk_brainjepa.gradients import resolve_gradients
from sk_brainjepa.nn import BrainJEPAEncoder, BrainJEPAPredictor
from sk_brainjepa.sources import as_source
from sk_brainjepa.training import (
    DistributedContext,
    EpochPlanner,
    JEPATrainer,
    Objective,
    average_across_ranks,
    barrier,
    build_trainer,
    collapse_diagnostics,
    iter_batches,
    make_loader,
    nan_mean,
    rank_device,
    save_checkpoint,
    setup_distributed,
    shared_seeds,
    wrap_data_parallel,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Seeds:
    """The seeds of one fit, the same on every rank.

    Seeds 4 and 5 were added after the first three: ``spawn_seeds`` keeps the
    first ones unchanged, so runs without the new terms are as before.
    """

    init: int
    mask: int
    data: int
    regularizer: int
    monitor: int


@dataclass
class PretrainingRun:
    """What one call of ``fit`` trains on, and where."""

    device: torch.device
    context: DistributedContext
    source: object  # TimeSeriesSource
    resumed: dict | None
    seeds: Seeds
    monitor: tuple | None
    diagnostic_x: torch.Tensor
    gradients: np.ndarray

    @property
    def n_rois(self) -> int:
        return self.source.n_rois


@dataclass
class PretrainingModules:
    """The modules pretraining trains, plain (not wrapped for DDP or compiled)."""

    encoder: BrainJEPAEncoder
    predictor: BrainJEPAPredictor
    target_encoder: BrainJEPAEncoder
    head: torch.nn.Linear | None
    content_gain: float

    def fitted(self) -> tuple:
        """Encoder, predictor, target encoder and head, on the CPU in eval mode."""
        head = None if self.head is None else self.head.cpu().eval()
        return (
            self.encoder.cpu().eval(),
            self.predictor.cpu().eval(),
            self.target_encoder.cpu().eval(),
            head,
        )

    def named(self) -> list[tuple[str, torch.nn.Module]]:
        """``(checkpoint key, module)`` of every module that exists."""
        named = [
            ("encoder", self.encoder),
            ("predictor", self.predictor),
            ("target_encoder", self.target_encoder),
        ]
        if self.head is not None:
            named.append(("reconstruction_head", self.head))
        return named


# ------------------------------------------------------------------ the run
def prepare_run(settings: PretrainingSettings, X) -> PretrainingRun:
    """Device, process group, data, resume checkpoint, seeds and gradients.

    Every check on the data and the checkpoint happens here, before any
    module is built.
    """
    runtime = settings.runtime
    device = resolve_device(runtime.device)
    context = setup_distributed(runtime.distributed, device.type)
    device = rank_device(device, context)
    # The collectives run on this device; the current CUDA device is the caller's.
    context = replace(context, device=device)
    source = as_source(X, layout=settings.layout)
    window_length = settings.model.window_length
    source.check_lengths(window_length)
    if source.n_rois < 2:
        raise ValueError(f"X must have at least 2 ROIs; got {source.n_rois}.")
    batch_size = settings.schedule.batch_size
    if batch_size % context.world_size:
        raise ValueError(
            f"batch_size={batch_size} is the global batch and must be a "
            f"multiple of the number of processes ({context.world_size})."
        )
    resumed = (
        load_resume_checkpoint(settings, source) if settings.checkpoint.resume else None
    )
    seeds = Seeds(*shared_seeds(spawn_seeds(settings.random_state, 5), context))
    monitor = check_monitor(settings.monitor.data, settings.monitor.task)
    diagnostic_x = torch.from_numpy(diagnostic_windows(source, window_length))
    return PretrainingRun(
        device=device,
        context=context,
        source=source,
        resumed=resumed,
        seeds=seeds,
        monitor=monitor,
        diagnostic_x=diagnostic_x.to(device),
        gradients=_training_gradients(settings, source, resumed, seeds.init),
    )


def _training_gradients(
    settings: PretrainingSettings, source, resumed: dict | None, seed: int
) -> np.ndarray:
    """The gradients of the run: resolved, or the checkpoint's when resuming."""
    n_rois = source.n_rois
    if resumed is None:
        return resolve_gradients(settings.gradients, source, n_rois, seed % (2**32))
    gradients = resumed["gradients"].numpy()
    if settings.gradients is not None:
        check_same_gradients(
            gradients,
            resolve_gradients(settings.gradients, source, n_rois, seed % (2**32)),
            settings.checkpoint.path,
        )
    return gradients


# -------------------------------------------------------------- the modules
def build_modules(
    model: ModelSettings,
    objective: Objective,
    run: PretrainingRun,
    checkpoint: CheckpointSettings,
) -> PretrainingModules:
    """Modules at their seeded initial weights, or the checkpoint's; on the device.

    The content gain is the checkpoint's when resuming, else measured on the
    diagnostic windows for ``content_gain="auto"``, else the given one. The
    reconstruction head exists when ``objective`` weighs reconstruction.
    """
    enc_cfg, pred_cfg = model.configs(run.n_rois, run.gradients.shape[1])
    init_gen = torch.Generator().manual_seed(run.seeds.init)
    grads_t = torch.from_numpy(run.gradients)
    encoder = BrainJEPAEncoder(enc_cfg, grads_t, generator=init_gen)
    predictor = BrainJEPAPredictor(pred_cfg, grads_t, generator=init_gen)
    if run.resumed is not None:
        gain = float(run.resumed["encoder_config"].get("patch_gain", 1.0))
    elif model.content_gain == "auto":
        gain = balancing_gain(encoder, run.diagnostic_x.cpu())
    else:
        gain = float(model.content_gain)
    encoder.config = replace(encoder.config, patch_gain=gain)
    head = None
    if objective.reconstruction_weight > 0:
        head = reconstruction_head(enc_cfg.embed_dim, model.patch_size, init_gen)
    target_encoder = copy.deepcopy(encoder)
    target_encoder.requires_grad_(False)
    modules = PretrainingModules(encoder, predictor, target_encoder, head, gain)
    for key, module in modules.named():
        if run.resumed is not None:
            load_module(module, run.resumed[key], checkpoint.path)
        module.to(run.device)
    return modules


def make_trainer(
    settings: PretrainingSettings, run: PretrainingRun, modules: PretrainingModules
) -> JEPATrainer:
    """The trainer: modules wrapped for DDP (and compiled), masker, schedules.

    Reads ``settings.model`` (the token grid), ``masking``, ``objective``,
    ``schedule`` and ``runtime`` (compile, precision).
    """
    context, device = run.context, run.device
    schedule: ScheduleSettings = settings.schedule
    runtime: RuntimeSettings = settings.runtime
    trained = (
        wrap_data_parallel(modules.encoder, context, device),
        wrap_data_parallel(modules.predictor, context, device),
        modules.target_encoder,
    )
    if runtime.compile:
        trained = tuple(torch.compile(m) for m in trained)
    masker = settings.masking.make(run.n_rois, settings.model.n_time_patches)
    return build_trainer(
        *trained,
        masker,
        n_subjects=len(run.source),
        batch_size=schedule.batch_size,
        max_epochs=schedule.max_epochs,
        mask_generator=torch.Generator().manual_seed(run.seeds.mask),
        objective=settings.objective,
        accumulation_steps=schedule.accumulation_steps,
        warmup_epochs=schedule.warmup_epochs,
        lr=schedule.lr,
        start_lr=schedule.start_lr,
        final_lr=schedule.final_lr,
        weight_decay=schedule.weight_decay,
        final_weight_decay=schedule.final_weight_decay,
        ema=schedule.ema,
        ema_schedule=schedule.ema_schedule,
        reconstruction_head=None
        if modules.head is None
        else wrap_data_parallel(modules.head, context, device),
        regularizer_generator=torch.Generator().manual_seed(run.seeds.regularizer),
        autocast_dtype=runtime.autocast_dtype(device),
        context=context,
    )


# --------------------------------------------------------------- the epochs
def train_epochs(
    settings: PretrainingSettings,
    run: PretrainingRun,
    modules: PretrainingModules,
    trainer: JEPATrainer,
) -> list[dict]:
    """Train from the first epoch not done yet to ``max_epochs``; the history.

    Each epoch's record gets the collapse diagnostics on the fixed windows
    and, when due, the monitor's probe score; checkpoints are written by rank
    0 every ``checkpoint.every`` epochs and after the last. Reads
    ``settings.model`` (window length), ``schedule``, ``monitor``,
    ``checkpoint``, ``runtime`` and ``params`` (recorded in checkpoints).
    """
    context = run.context
    schedule, checkpoint = settings.schedule, settings.checkpoint
    window_length = settings.model.window_length
    data_rng = np.random.default_rng(run.seeds.data)
    planner = EpochPlanner(
        run.source.lengths,
        window_length,
        batch_size=schedule.batch_size,
        rank=context.rank,
        world_size=context.world_size,
    )
    loader = make_loader(
        run.source,
        window_length,
        num_workers=settings.runtime.num_workers,
        device=run.device,
    )
    fingerprint = data_fingerprint(run.source) if checkpoint.path is not None else None
    history, first_epoch = _restore(checkpoint, schedule, run, trainer, data_rng)
    epochs = range(first_epoch, schedule.max_epochs + 1)
    progress = None
    if settings.runtime.verbose and context.is_main:
        from tqdm.auto import tqdm

        progress = tqdm(
            epochs,
            desc="Brain-JEPA pretraining",
            unit="epoch",
            initial=first_epoch - 1,
            total=schedule.max_epochs,
        )
        epochs = progress
    for epoch in epochs:
        # Windows and order come from data_rng in this process; workers only read.
        loader.batch_sampler.set_plan(planner.plan(data_rng))
        record = train_epoch(trainer, loader, context, run.device)
        record["epoch"] = epoch
        record.update(
            collapse_diagnostics(
                modules.encoder, modules.target_encoder, run.diagnostic_x
            )
        )
        if run.monitor is not None:
            record["monitor_score"] = _monitor_score(settings, run, modules, epoch)
        history.append(record)
        if progress is not None:
            _log_epoch(schedule.max_epochs, record, progress)
        if checkpoint.due(epoch, schedule.max_epochs):
            if context.is_main:
                payload = model_payload(
                    settings.params,
                    modules.encoder,
                    modules.predictor,
                    modules.target_encoder,
                    run.gradients,
                    history,
                    run.n_rois,
                    modules.head,
                )
                payload["training"] = {
                    "epoch": epoch,
                    "n_subjects": len(run.source),
                    "data": fingerprint,
                    "trainer": trainer.state_dict(),
                    "data_rng": json.dumps(data_rng.bit_generator.state),
                }
                save_checkpoint(payload, checkpoint.path)
            # No rank may go on (or finish) before the checkpoint is complete.
            barrier(context)
    return history


def _restore(
    checkpoint: CheckpointSettings,
    schedule: ScheduleSettings,
    run: PretrainingRun,
    trainer,
    data_rng,
) -> tuple[list[dict], int]:
    """The history so far and the first epoch to run (trainer and data RNG restored)."""
    if run.resumed is None:
        return [], 1
    state = run.resumed["training"]
    trainer.load_state_dict(state["trainer"])
    data_rng.bit_generator.state = json.loads(state["data_rng"])
    first_epoch = int(state["epoch"]) + 1
    if run.context.is_main:
        logger.info(
            "resuming from %s after epoch %d of %d",
            checkpoint.path,
            first_epoch - 1,
            schedule.max_epochs,
        )
    return [dict(h) for h in run.resumed["history"]], first_epoch


def train_epoch(trainer, loader, context, device) -> dict:
    """One pass over the loader's plan; returns the epoch's history record."""
    tic = time.perf_counter()
    records = []
    n_batches = len(loader)
    for i, batch in enumerate(iter_batches(loader)):
        records.append(
            trainer.train_batch(
                batch.to(device, non_blocking=True), sync=i == n_batches - 1
            )
        )
    trainer.optimizer_step()  # apply a partial accumulation at the epoch's end
    # The loss is already a mean over ranks; the other terms and statistics
    # are this rank's, averaged here (NaN-aware: a batch of one sample has
    # no sample spread).
    loss = float(np.mean([r["loss"] for r in records]))
    names = [name for name in records[0] if name != "loss"]
    means = average_across_ranks(
        [nan_mean(r[name] for r in records) for name in names], context
    )
    return {
        "epoch": None,
        "loss": loss,
        **dict(zip(names, means, strict=True)),
        "lr": trainer.current_lr(),
        "momentum": trainer.current_momentum(),
        "seconds": time.perf_counter() - tic,
    }


def _monitor_score(
    settings: PretrainingSettings, run: PretrainingRun, modules, epoch: int
) -> float:
    """The online linear probe's score of the target encoder (NaN when not due)."""
    monitor: MonitorSettings = settings.monitor
    if not (monitor.due(epoch, settings.schedule.max_epochs) and run.context.is_main):
        return float("nan")
    X_val, y_val, task = run.monitor
    features = embed(
        modules.target_encoder,
        as_source(X_val, layout=settings.layout),
        n_timepoints=settings.model.window_length,
        window=settings.runtime.window_position,
        readout=monitor.readout,
        batch_size=settings.runtime.embed_batch_size,
        device=run.device,
    )
    return probe_score(features, y_val, run.seeds.monitor % (2**32), task)


def _log_epoch(max_epochs: int, record: dict, progress) -> None:
    progress.set_postfix(loss=f"{record['loss']:.4f}", spread=f"{record['spread']:.3f}")
    logger.info(
        "epoch %d/%d loss %.5f spread %.4f lr %.2e (%.1f s)",
        record["epoch"],
        max_epochs,
        record["loss"],
        record["spread"],
        record["lr"],
        record["seconds"],
    )
