"""One JEPA optimisation step after another: the training loop without the estimator.

:class:`JEPATrainer` owns the optimiser, the schedules and the step counters; the
estimator owns data (cropping, shuffling), devices and bookkeeping. It knows
nothing of scikit-learn.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sk_brainjepa.masking import MaskBatch, apply_masks
from sk_brainjepa.nn import read_out
from sk_brainjepa.training._distributed import (
    DistributedContext,
    average_across_ranks,
    gather_across_ranks,
    sum_across_ranks_,
    unwrap,
)
from sk_brainjepa.training._objective import (
    Objective,
    context_loss,
    normalize_targets,
    prediction_loss,
    representation_spread,
    sample_spread,
    supervised_layers,
    update_ema,
)
from sk_brainjepa.training._regularizers import (
    consistency_terms,
    sigreg,
    standardize_over_batch,
    variance_covariance_terms,
)
from sk_brainjepa.training._schedules import (
    cosine_ramp,
    ema_momentum,
    official_ema_momentum,
    warmup_cosine,
)

EMA_SCHEDULES = ("linear", "official")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


def parameter_groups(modules: Iterable[nn.Module], weight_decay: float) -> list[dict]:
    """AdamW groups: weight decay on matrices only, none on biases and norms.

    Decay is decided by tensor rank, as in nanoGPT: tensors of rank >= 2 (linear
    and conv weights, the mask token) decay, rank-1 tensors (biases, LayerNorm
    scales and shifts) do not. Frozen tensors are left out.

    Parameters
    ----------
    modules : iterable of nn.Module
    weight_decay : float

    Returns
    -------
    groups : list of dict
        ``[{"params": decayed, "weight_decay": weight_decay, "decay": True},
        {"params": others, "weight_decay": 0.0, "decay": False}]``
    """
    decay, no_decay = [], []
    for module in modules:
        for p in module.parameters():
            if p.requires_grad:
                (decay if p.ndim >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay, "decay": True},
        {"params": no_decay, "weight_decay": 0.0, "decay": False},
    ]


def patches_of(x: Tensor, patch_size: int) -> Tensor:
    """Raw frames of every token, in the encoder's token order.

    Parameters
    ----------
    x : Tensor of shape (B, R, T)
    patch_size : int
        Frames per token ``p``; divides T.

    Returns
    -------
    patches : Tensor of shape (B, R * T // p, p)
        Row ``roi * W + t`` holds frames ``t * p`` to ``(t + 1) * p - 1``.
    """
    batch, n_rois, n_timepoints = x.shape
    return x.reshape(batch, n_rois * (n_timepoints // patch_size), patch_size)


def split_in_time(x: Tensor, n_time_patches: int) -> tuple[Tensor, Tensor]:
    """The first and second half of each window, cut between time patches.

    Parameters
    ----------
    x : Tensor of shape (B, R, T)
    n_time_patches : int
        ``W = T // patch_size``; at least 2.

    Returns
    -------
    first, second : Tensor of shape (B, R, T1) and (B, R, T - T1)
        ``T1 = (W // 2) * patch_size``.
    """
    if n_time_patches < 2:
        raise ValueError(
            "consistency_weight > 0 needs at least 2 time patches per window "
            f"(n_timepoints // patch_size); got {n_time_patches}."
        )
    cut = (n_time_patches // 2) * (x.shape[-1] // n_time_patches)
    return x[..., :cut], x[..., cut:]


def _encode(
    encoder: nn.Module, x: Tensor, observation: Tensor | None, layers
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Features and, when ``layers`` is given, the hidden states it lists.

    Parameters
    ----------
    encoder : nn.Module
        A :class:`~sk_brainjepa.nn.BrainJEPAEncoder`, possibly wrapped.
    x : Tensor of shape (B, R, T)
    observation : LongTensor of shape (B, K) or None
    layers : tuple of int or None
        Intermediate blocks (see :func:`supervised_layers`); None asks for
        the features alone, with the call the objective always made.

    Returns
    -------
    features : Tensor of shape (B, K or N, D)
    hidden : tuple of Tensor of shape (B, K or N, D)
        The hidden state of each of ``layers``, then ``features``; empty when
        ``layers`` is None.
    """
    if layers is None:
        args = (x,) if observation is None else (x, observation)
        return encoder(*args), ()
    # One call of the (possibly DDP-wrapped) module yields the output and
    # the intermediate states, so the gradient reduction is prepared once.
    features, hidden = encoder(x, observation, return_layers=layers)
    return features, (*hidden, features)


def jepa_loss(
    encoder: nn.Module,
    predictor: nn.Module,
    target_encoder: nn.Module,
    x: Tensor,
    masks: MaskBatch,
    objective: Objective | None = None,
    *,
    reconstruction_head: nn.Module | None = None,
    generator: torch.Generator | None = None,
    context: DistributedContext | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The Brain-JEPA objective for one batch, with the terms it asks for.

    Parameters
    ----------
    encoder, predictor, target_encoder : nn.Module
    x : Tensor of shape (B, R, T)
        ROI time series.
    masks : MaskBatch
        Observation and target token indices.
    objective : Objective or None, default=None
        The terms and their weights; None is the paper's objective
        (``Objective()``: L2 on layer-normalised targets).
    reconstruction_head : nn.Module or None, default=None
        Maps predicted features (..., D) to raw patches (..., patch_size);
        required when ``objective.reconstruction_weight > 0``.
    generator : torch.Generator or None, default=None
        Source of SIGReg's random directions; required when
        ``objective.sigreg_weight > 0``.
    context : DistributedContext or None, default=None
        In data-parallel training, the batch-level parts (target
        standardisation, VICReg, SIGReg) use the global batch of all ranks.

    Returns
    -------
    loss : Tensor of shape ()
        The weighted total.
    terms : dict of Tensor
        Each term (``prediction_loss``, and ``variance_loss`` and
        ``covariance_loss``, ``sigreg_loss``, ``reconstruction_loss``,
        ``consistency_loss`` with ``consistency_variance_loss`` and
        ``consistency_covariance_loss``, ``context_loss`` when their weight is
        positive),
        detached, and the collapse statistics of the layer-normalised targets,
        ``spread`` (across tokens) and ``sample_spread`` (across samples).
    """
    objective = Objective() if objective is None else objective
    context = DistributedContext() if context is None else context
    layers = None
    if objective.context_loss_weight > 0:
        layers = supervised_layers(unwrap(encoder).config.depth)
    with torch.no_grad():
        full, target_hidden = _encode(target_encoder, x, None, layers)
        # The context tokens as they are with the whole window in view,
        # (B, K_obs, D) per supervised layer.
        context_targets = [apply_masks(h, masks.observation) for h in target_hidden]
        targets = normalize_targets(full.float())  # (B, N, D)
        stats = {
            "spread": representation_spread(targets),
            "sample_spread": sample_spread(targets).to(targets.device),
        }
        if objective.target_norm == "batch":
            targets = standardize_over_batch(
                targets, lambda t: sum_across_ranks_(t, context)
            )
        targets = apply_masks(targets, masks.target)  # (B, K_tgt, D)
    # (B, K_obs, D), and the same at each supervised layer
    observed, online_hidden = _encode(encoder, x, masks.observation, layers)
    n_time_patches = unwrap(encoder).n_time_patches(x.shape[-1])
    predicted = predictor(observed, masks.observation, masks.target, n_time_patches)
    terms = {
        "prediction_loss": prediction_loss(predicted.float(), targets, objective.loss)
    }
    if objective.regularizes_context:
        # (B_global, D): one vector per sample of the global batch
        pooled = gather_across_ranks(observed.float().mean(dim=1), context)
    if objective.vicreg_weight > 0:
        terms["variance_loss"], terms["covariance_loss"] = variance_covariance_terms(
            pooled
        )
    if objective.sigreg_weight > 0:
        if generator is None:
            raise ValueError("sigreg_weight > 0 needs a generator for the directions.")
        terms["sigreg_loss"] = sigreg(pooled, objective.sigreg_projections, generator)
    if objective.reconstruction_weight > 0:
        if reconstruction_head is None:
            raise ValueError("reconstruction_weight > 0 needs a reconstruction_head.")
        patch_size = x.shape[-1] // n_time_patches
        raw = apply_masks(patches_of(x.float(), patch_size), masks.target)
        reconstructed = reconstruction_head(predicted).float()  # (B, K_tgt, p)
        terms["reconstruction_loss"] = F.mse_loss(reconstructed, raw)
    if objective.consistency_weight > 0:
        halves = split_in_time(x, n_time_patches)
        # The bare module: DistributedDataParallel prepares its gradient
        # reduction once per forward; the halves' gradients reach the same
        # parameters within this backward and are reduced with the rest.
        plain = unwrap(encoder)
        pooled_halves = [
            gather_across_ranks(
                read_out(
                    plain(half).float(),
                    plain.config.n_rois,
                    objective.consistency_readout,
                ),
                context,
            )
            for half in halves
        ]
        (
            terms["consistency_loss"],
            terms["consistency_variance_loss"],
            terms["consistency_covariance_loss"],
        ) = consistency_terms(*pooled_halves)
    if layers is not None:
        terms["context_loss"] = context_loss(online_hidden, context_targets)
    loss = objective.total(terms)
    stats.update({name: value.detach() for name, value in terms.items()})
    return loss, stats


class JEPATrainer:
    """Optimiser, schedules and EMA for Brain-JEPA pretraining.

    Parameters
    ----------
    encoder, predictor, target_encoder : nn.Module
        The observation encoder, the predictor and the EMA copy of the encoder.
    masker : callable
        ``masker(batch_size, generator) -> MaskBatch``.
    mask_generator : torch.Generator
        The only source of randomness for masks.
    total_steps : int
        Optimiser steps in the whole run (sizes every schedule).
    warmup_steps : int
        Linear warm-up of the learning rate.
    lr, start_lr, final_lr : float
        Peak, initial and final learning rates.
    weight_decay, final_weight_decay : float
        Start and end of the cosine weight-decay ramp.
    ema : tuple of float
        Start and end EMA momentum.
    objective : Objective
        The loss terms and their weights.
    ema_schedule : {"linear", "official"}, default="linear"
        ``"linear"`` reaches the end momentum at the last optimiser step
        (:func:`ema_momentum`); ``"official"`` reproduces the official code,
        whose ramp is sized in mini-batches but advanced once per optimiser
        step (:func:`official_ema_momentum`), so with accumulation it stalls
        short of the end value.
    ema_iterations : int or None, default=None
        Mini-batches in the whole run; the length of the official ramp.
        Required for ``ema_schedule="official"``.
    reconstruction_head : nn.Module or None, default=None
        Trained with the encoder and predictor when the objective reconstructs
        raw patches (wrapped in ``DistributedDataParallel`` like them when
        there are several ranks).
    regularizer_generator : torch.Generator or None, default=None
        Source of SIGReg's random directions (CPU).
    accumulation_steps : int
        Mini-batches whose gradients add up before each optimiser step.
    autocast_dtype : torch.dtype or None
        ``torch.bfloat16`` to run forward passes under CUDA autocast.
    context : DistributedContext or None, default=None
        Data-parallel position of this process. With N ranks, ``encoder`` and
        ``predictor`` are expected to be wrapped in ``DistributedDataParallel``
        (see :func:`wrap_data_parallel`), each rank trains on its
        ``1 / N`` share of every global batch, and every rank draws the masks
        of the whole global batch and keeps its own rows, so N ranks see
        exactly the masks one process would.
    """

    def __init__(
        self,
        encoder,
        predictor,
        target_encoder,
        masker: Callable,
        *,
        mask_generator: torch.Generator,
        total_steps: int,
        warmup_steps: int,
        lr: float,
        start_lr: float,
        final_lr: float,
        weight_decay: float,
        final_weight_decay: float,
        ema: tuple[float, float],
        objective: Objective,
        ema_schedule: str = "linear",
        ema_iterations: int | None = None,
        reconstruction_head: nn.Module | None = None,
        regularizer_generator: torch.Generator | None = None,
        accumulation_steps: int = 1,
        autocast_dtype=None,
        context: DistributedContext | None = None,
    ):
        self.encoder = encoder
        self.predictor = predictor
        self.target_encoder = target_encoder
        self.masker = masker
        self.mask_generator = mask_generator
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.lr, self.start_lr, self.final_lr = lr, start_lr, final_lr
        self.weight_decay, self.final_weight_decay = weight_decay, final_weight_decay
        self.ema = ema
        if ema_schedule not in EMA_SCHEDULES:
            raise ValueError(
                f"ema_schedule must be one of {EMA_SCHEDULES}; got {ema_schedule!r}."
            )
        if ema_schedule == "official" and not ema_iterations:
            raise ValueError("ema_schedule='official' needs ema_iterations.")
        self.ema_schedule = ema_schedule
        self.ema_iterations = ema_iterations
        self.objective = objective
        self.reconstruction_head = reconstruction_head
        self.regularizer_generator = regularizer_generator
        self.accumulation_steps = accumulation_steps
        self.autocast_dtype = autocast_dtype
        self.context = DistributedContext() if context is None else context
        trained = [unwrap(encoder), unwrap(predictor)]
        if reconstruction_head is not None:
            trained.append(unwrap(reconstruction_head))
        self.optimizer = torch.optim.AdamW(
            parameter_groups(trained, weight_decay), lr=start_lr
        )
        self.step = 0  # optimiser steps taken
        self._pending = 0  # mini-batches accumulated since the last step

    def current_lr(self) -> float:
        return warmup_cosine(
            self.step,
            total_steps=self.total_steps,
            warmup_steps=self.warmup_steps,
            start_value=self.start_lr,
            peak_value=self.lr,
            final_value=self.final_lr,
        )

    def current_momentum(self) -> float:
        if self.ema_schedule == "official":
            return official_ema_momentum(
                self.step,
                iterations_per_epoch=self.ema_iterations,
                epochs=1,
                start_value=self.ema[0],
                final_value=self.ema[1],
            )
        return ema_momentum(
            self.step,
            total_steps=self.total_steps,
            start_value=self.ema[0],
            final_value=self.ema[1],
        )

    def _autocast(self, device_type: str):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type, dtype=self.autocast_dtype)

    def _gradient_sync(self, enabled: bool):
        """Skip the gradient all-reduce on micro-batches that do not step."""
        if enabled or not self.context.enabled:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        for module in (self.encoder, self.predictor, self.reconstruction_head):
            if hasattr(module, "no_sync"):
                stack.enter_context(module.no_sync())
        return stack

    def train_batch(self, x: Tensor, *, sync: bool = False) -> dict[str, float]:
        """Forward and backward one mini-batch; step the optimiser when due.

        Parameters
        ----------
        x : Tensor of shape (B, R, T), on the training device
            This rank's share of the global batch.
        sync : bool, default=False
            Average the gradients across ranks even if no optimiser step is
            due (needed before a partial accumulation is applied at the end
            of an epoch). Steps always synchronise.

        Returns
        -------
        record : dict of float
            ``loss`` (the weighted total, mean over ranks), each term of the
            objective and the collapse statistics ``spread`` and
            ``sample_spread`` of this rank (see :func:`jepa_loss`).
        """
        self.encoder.train()
        self.predictor.train()
        if self.reconstruction_head is not None:
            self.reconstruction_head.train()
        local = x.shape[0]
        ctx = self.context
        masks = self.masker(local * ctx.world_size, self.mask_generator)
        if ctx.enabled:
            masks = masks.rows(ctx.rank * local, (ctx.rank + 1) * local)
        masks = masks.to(x.device)
        syncing = sync or self._pending + 1 == self.accumulation_steps
        with self._gradient_sync(syncing), self._autocast(x.device.type):
            loss, stats = jepa_loss(
                self.encoder,
                self.predictor,
                self.target_encoder,
                x,
                masks,
                self.objective,
                reconstruction_head=self.reconstruction_head,
                generator=self.regularizer_generator,
                context=self.context,
            )
        # The mean over ranks: every rank then sees a divergence on any rank and
        # raises together, instead of leaving the others waiting in a collective.
        (value,) = average_across_ranks([loss.detach()], ctx)
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"The pretraining loss became {value} at optimiser step {self.step}. "
                "Lower lr, check that the input is scaled (ROIRobustScaler) and "
                "finite, or increase warmup_epochs."
            )
        with self._gradient_sync(syncing):
            (loss / self.accumulation_steps).backward()
        self._pending += 1
        if self._pending == self.accumulation_steps:
            self.optimizer_step()
        record = {name: float(v) for name, v in stats.items()}
        record["loss"] = value
        return record

    def optimizer_step(self) -> None:
        """Apply the accumulated gradients, then update the EMA target encoder."""
        if self._pending == 0:
            return
        lr = self.current_lr()
        wd = cosine_ramp(
            self.step,
            total_steps=self.total_steps,
            start_value=self.weight_decay,
            final_value=self.final_weight_decay,
        )
        for group in self.optimizer.param_groups:
            group["lr"] = lr
            if group["decay"]:
                group["weight_decay"] = wd
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        update_ema(
            unwrap(self.target_encoder), unwrap(self.encoder), self.current_momentum()
        )
        self.step += 1
        self._pending = 0

    def state_dict(self) -> dict:
        """Everything needed to continue training exactly where it stopped.

        The optimiser state, the step counters and the mask generator's state;
        the modules are saved by their owner. Only tensors and plain values,
        so ``torch.load(weights_only=True)`` reads it.
        """
        state = {
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "pending": self._pending,
            "mask_generator": self.mask_generator.get_state(),
        }
        if self.regularizer_generator is not None:
            state["regularizer_generator"] = self.regularizer_generator.get_state()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (modules restored separately)."""
        if state["pending"]:
            raise ValueError(
                "Cannot resume from the middle of a gradient accumulation; "
                "checkpoints are written between optimiser steps."
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self._pending = 0
        self.mask_generator.set_state(state["mask_generator"])
        if self.regularizer_generator is not None:
            self.regularizer_generator.set_state(state["regularizer_generator"])
