"""One JEPA optimisation step after another: the training loop without the estimator.

:class:`JEPATrainer` owns the optimiser, the schedules, the EMA update and the
step counters (and their state dict); the estimator owns data (cropping,
shuffling), devices and bookkeeping. It knows nothing of scikit-learn. The
loss of each mini-batch, :func:`jepa_loss`, is computed in :mod:`._jepa_loss`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from sk_brainjepa.training._distributed import (
    DistributedContext,
    average_across_ranks,
    unwrap,
)

# patches_of and split_in_time are imported for the callers that still read
# them from this module, their former home.
from sk_brainjepa.training._jepa_loss import (  # noqa: F401
    jepa_loss,
    patches_of,
    split_in_time,
)
from sk_brainjepa.training._objective import Objective, update_ema
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
