"""The steps of ``BrainJEPAPretrainer.fit``, one function each.

:func:`prepare_run` reads the data, the resume checkpoint and the seeds and
resolves the gradients; :func:`build_modules` builds (or restores) the
encoder, predictor, target encoder and reconstruction head; :func:`make_trainer`
wraps them in a :class:`~sk_brainjepa.training.JEPATrainer` sized by
:func:`~sk_brainjepa.training.build_trainer`; :func:`train_epochs` runs the
epochs with their diagnostics, monitor, logging and checkpoints. Each takes the
estimator for its parameters and never sets fitted attributes on it.
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
from sk_brainjepa.estimators._resume import (
    check_same_gradients,
    data_fingerprint,
    load_resume_checkpoint,
)
from sk_brainjepa.gradients import resolve_gradients
from sk_brainjepa.masking import make_masker
from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAPredictor,
    EncoderConfig,
    PredictorConfig,
    model_config,
)
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
def prepare_run(est, X) -> PretrainingRun:
    """Device, process group, data, resume checkpoint, seeds and gradients.

    Every check on the data and the checkpoint happens here, before any
    module is built.
    """
    device = resolve_device(est.device)
    context = setup_distributed(est.distributed, device.type)
    device = rank_device(device, context)
    # The collectives run on this device; the current CUDA device is the caller's.
    context = replace(context, device=device)
    source = as_source(X, layout=est.layout)
    source.check_lengths(est.n_timepoints)
    if source.n_rois < 2:
        raise ValueError(f"X must have at least 2 ROIs; got {source.n_rois}.")
    if est.batch_size % context.world_size:
        raise ValueError(
            f"batch_size={est.batch_size} is the global batch and must be a "
            f"multiple of the number of processes ({context.world_size})."
        )
    resumed = load_resume_checkpoint(est, source) if est.resume else None
    seeds = Seeds(*shared_seeds(spawn_seeds(est.random_state, 5), context))
    monitor = check_monitor(est.monitor, est.monitor_task)
    diagnostic_x = torch.from_numpy(diagnostic_windows(source, est.n_timepoints))
    return PretrainingRun(
        device=device,
        context=context,
        source=source,
        resumed=resumed,
        seeds=seeds,
        monitor=monitor,
        diagnostic_x=diagnostic_x.to(device),
        gradients=_training_gradients(est, source, resumed, seeds.init),
    )


def _training_gradients(est, source, resumed: dict | None, seed: int) -> np.ndarray:
    """The gradients of the run: resolved, or the checkpoint's when resuming."""
    n_rois = source.n_rois
    if resumed is None:
        gradients = resolve_gradients(est.gradients, source, n_rois, seed % (2**32))
    else:
        gradients = resumed["gradients"].numpy()
        if est.gradients is not None:
            check_same_gradients(
                gradients,
                resolve_gradients(est.gradients, source, n_rois, seed % (2**32)),
                est.checkpoint_path,
            )
    return gradients


def model_configs(
    est, n_rois: int, gradient_dim: int
) -> tuple[EncoderConfig, PredictorConfig]:
    """The encoder and predictor configs of ``est``'s model for the data."""
    overrides = dict(est.model_params or {})
    overrides.setdefault("patch_size", est.patch_size)
    overrides.setdefault("gradient_dim", gradient_dim)
    return model_config(est.model, n_rois=n_rois, **overrides)


# -------------------------------------------------------------- the modules
def build_modules(est, run: PretrainingRun, settings: dict) -> PretrainingModules:
    """Modules at their seeded initial weights, or the checkpoint's; on the device.

    The content gain is the checkpoint's when resuming, else measured on the
    diagnostic windows for ``content_gain="auto"``, else the given one.
    """
    enc_cfg, pred_cfg = model_configs(est, run.n_rois, run.gradients.shape[1])
    init_gen = torch.Generator().manual_seed(run.seeds.init)
    grads_t = torch.from_numpy(run.gradients)
    encoder = BrainJEPAEncoder(enc_cfg, grads_t, generator=init_gen)
    predictor = BrainJEPAPredictor(pred_cfg, grads_t, generator=init_gen)
    if run.resumed is not None:
        gain = float(run.resumed["encoder_config"].get("patch_gain", 1.0))
    elif settings["content_gain"] == "auto":
        gain = balancing_gain(encoder, run.diagnostic_x.cpu())
    else:
        gain = float(settings["content_gain"])
    encoder.config = replace(encoder.config, patch_gain=gain)
    head = None
    if settings["reconstruction_weight"] > 0:
        head = reconstruction_head(enc_cfg.embed_dim, est.patch_size, init_gen)
    target_encoder = copy.deepcopy(encoder)
    target_encoder.requires_grad_(False)
    modules = PretrainingModules(encoder, predictor, target_encoder, head, gain)
    for key, module in modules.named():
        if run.resumed is not None:
            load_module(module, run.resumed[key], est.checkpoint_path)
        module.to(run.device)
    return modules


def make_objective(settings: dict) -> Objective:
    """The loss terms of the run (validates their names and weights)."""
    return Objective(
        loss=settings["loss"],
        target_norm=settings["target_norm"],
        vicreg_weight=settings["vicreg_weight"],
        sigreg_weight=settings["sigreg_weight"],
        reconstruction_weight=settings["reconstruction_weight"],
        consistency_weight=settings["consistency_weight"],
        consistency_readout=settings["consistency_readout"],
        context_loss_weight=settings["context_loss_weight"],
    )


def _autocast_dtype(precision: str, device: torch.device):
    if precision == "bfloat16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def make_trainer(
    est, run: PretrainingRun, modules: PretrainingModules, settings: dict
) -> JEPATrainer:
    """The trainer: modules wrapped for DDP (and compiled), masker, schedules."""
    context, device = run.context, run.device
    trained = (
        wrap_data_parallel(modules.encoder, context, device),
        wrap_data_parallel(modules.predictor, context, device),
        modules.target_encoder,
    )
    if est.compile:
        trained = tuple(torch.compile(m) for m in trained)
    masker = make_masker(
        settings["masking"],
        run.n_rois,
        est.n_timepoints // est.patch_size,
        **(est.masking_params or {}),
    )
    return build_trainer(
        *trained,
        masker,
        n_subjects=len(run.source),
        batch_size=est.batch_size,
        max_epochs=est.max_epochs,
        mask_generator=torch.Generator().manual_seed(run.seeds.mask),
        objective=make_objective(settings),
        accumulation_steps=est.accumulation_steps,
        warmup_epochs=est.warmup_epochs,
        lr=est.lr,
        start_lr=est.start_lr,
        final_lr=est.final_lr,
        weight_decay=est.weight_decay,
        final_weight_decay=est.final_weight_decay,
        ema=est.ema,
        ema_schedule=settings["ema_schedule"],
        reconstruction_head=None
        if modules.head is None
        else wrap_data_parallel(modules.head, context, device),
        regularizer_generator=torch.Generator().manual_seed(run.seeds.regularizer),
        autocast_dtype=_autocast_dtype(est.precision, device),
        context=context,
    )


# --------------------------------------------------------------- the epochs
def train_epochs(
    est, run: PretrainingRun, modules: PretrainingModules, trainer: JEPATrainer
) -> list[dict]:
    """Train from the first epoch not done yet to ``max_epochs``; the history.

    Each epoch's record gets the collapse diagnostics on the fixed windows
    and, when due, the monitor's probe score; checkpoints are written by rank
    0 every ``checkpoint_every`` epochs and after the last.
    """
    context = run.context
    data_rng = np.random.default_rng(run.seeds.data)
    planner = EpochPlanner(
        run.source.lengths,
        est.n_timepoints,
        batch_size=est.batch_size,
        rank=context.rank,
        world_size=context.world_size,
    )
    loader = make_loader(
        run.source, est.n_timepoints, num_workers=est.num_workers, device=run.device
    )
    fingerprint = (
        data_fingerprint(run.source) if est.checkpoint_path is not None else None
    )
    history, first_epoch = _restore(est, run, trainer, data_rng)
    epochs = range(first_epoch, est.max_epochs + 1)
    progress = None
    if est.verbose and context.is_main:
        from tqdm.auto import tqdm

        progress = tqdm(
            epochs,
            desc="Brain-JEPA pretraining",
            unit="epoch",
            initial=first_epoch - 1,
            total=est.max_epochs,
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
            record["monitor_score"] = _monitor_score(est, run, modules, epoch)
        history.append(record)
        if progress is not None:
            _log_epoch(est, record, progress)
        if est.checkpoint_path is not None and (
            epoch % est.checkpoint_every == 0 or epoch == est.max_epochs
        ):
            if context.is_main:
                payload = model_payload(
                    est,
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
                save_checkpoint(payload, est.checkpoint_path)
            # No rank may go on (or finish) before the checkpoint is complete.
            barrier(context)
    return history


def _restore(est, run: PretrainingRun, trainer, data_rng) -> tuple[list[dict], int]:
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
            est.checkpoint_path,
            first_epoch - 1,
            est.max_epochs,
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


def _monitor_score(est, run: PretrainingRun, modules, epoch: int) -> float:
    """The online linear probe's score of the target encoder (NaN when not due)."""
    due = epoch % est.monitor_every == 0 or epoch == est.max_epochs
    if not (due and run.context.is_main):
        return float("nan")
    X_val, y_val, task = run.monitor
    features = embed(
        modules.target_encoder,
        as_source(X_val, layout=est.layout),
        n_timepoints=est.n_timepoints,
        window=est.embed_window,
        readout=est.monitor_readout,
        batch_size=est.embed_batch_size,
        device=run.device,
    )
    return probe_score(features, y_val, run.seeds.monitor % (2**32), task)


def _log_epoch(est, record: dict, progress) -> None:
    progress.set_postfix(loss=f"{record['loss']:.4f}", spread=f"{record['spread']:.3f}")
    logger.info(
        "epoch %d/%d loss %.5f spread %.4f lr %.2e (%.1f s)",
        record["epoch"],
        est.max_epochs,
        record["loss"],
        record["spread"],
        record["lr"],
        record["seconds"],
    )
