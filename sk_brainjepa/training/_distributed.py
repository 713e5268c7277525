"""Data-parallel training on ``torch.distributed``: which rank am I, and how to sync.

Pretraining runs unchanged in one process; launched with ``torchrun
--nproc_per_node N`` it becomes N data-parallel processes (ranks). Each rank
holds the full model, trains on its slice of every global batch, and
``DistributedDataParallel`` averages the gradients, so every rank takes the
same optimiser step and the EMA target encoders stay identical without any
extra communication.

The process's current CUDA device is the caller's choice: the library never
calls ``torch.cuda.set_device``. A launch script (``examples/
distributed_pretraining.py``, the CLI under ``torchrun``) sets it to
``LOCAL_RANK`` if it wishes; the library works out the device of each rank
(``device=``, or ``cuda:{LOCAL_RANK}`` for a bare ``"cuda"`` in a multi-process
run, see :func:`rank_device`) and passes it explicitly to modules, tensors,
``DistributedDataParallel`` and the NCCL collectives.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

logger = logging.getLogger(__name__)

DISTRIBUTED_MODES = ("auto", "off")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a data-parallel run.

    Parameters
    ----------
    rank : int, default=0
        Global index of this process.
    world_size : int, default=1
        Number of processes.
    local_rank : int, default=0
        Index of this process on its node (selects its GPU).
    device : torch.device or None, default=None
        The device this rank trains on (:func:`rank_device`), given to the
        NCCL collectives; None uses the current CUDA device there.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device | None = None

    @property
    def enabled(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, logs progress and shows progress bars."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """Whether the environment describes a multi-process launch (``WORLD_SIZE > 1``)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def setup_distributed(mode: str, device_type: str) -> DistributedContext:
    """Join (or start) the process group of a data-parallel run.

    Parameters
    ----------
    mode : {"auto", "off"}
        ``"auto"`` uses the process group that is already initialised, or
        initialises one (NCCL for CUDA, gloo for the CPU) when the process was
        launched by ``torchrun`` with more than one process; otherwise it runs
        alone. ``"off"`` always runs alone.
    device_type : {"cpu", "cuda"}
        Picks the communication backend when a group has to be created.

    Returns
    -------
    context : DistributedContext
    """
    if mode not in DISTRIBUTED_MODES:
        raise ValueError(
            f"distributed must be one of {DISTRIBUTED_MODES}; got {mode!r}."
        )
    if mode == "off" or not dist.is_available():
        return DistributedContext()
    if not dist.is_initialized():
        if not launched_by_torchrun():
            return DistributedContext()
        backend = "nccl" if device_type == "cuda" else "gloo"
        # torchrun sets MASTER_ADDR/PORT, RANK and WORLD_SIZE for env:// init.
        dist.init_process_group(backend=backend)
        # The group outlives fit (callers ask for their rank afterwards), so it
        # is torn down at exit rather than left to interpreter shutdown.
        atexit.register(destroy_process_group_at_exit)
        logger.info(
            "joined a %s process group as rank %d of %d",
            backend,
            dist.get_rank(),
            dist.get_world_size(),
        )
    world_size = dist.get_world_size()
    if world_size == 1:
        return DistributedContext()
    return DistributedContext(
        rank=dist.get_rank(),
        world_size=world_size,
        local_rank=int(os.environ.get("LOCAL_RANK", dist.get_rank())),
    )


def destroy_process_group_at_exit() -> None:
    """Destroy the default process group if one is still up (an atexit hook).

    Local to this process: it sends nothing, so it cannot hang on a rank that
    has already gone.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_device(device: torch.device, context: DistributedContext) -> torch.device:
    """The GPU this process trains on, with an index; the current GPU unchanged.

    A bare ``"cuda"`` means this rank's own GPU, ``cuda:{local_rank}``, in a
    multi-process run, and the caller's current GPU otherwise; an indexed
    device is kept. Other devices are returned unchanged. The process's
    current device is left as the caller set it (no ``torch.cuda.set_device``):
    the returned device is passed explicitly wherever the library places a
    module or a tensor.
    """
    if device.type != "cuda":
        return device
    if device.index is None:
        index = context.local_rank if context.enabled else torch.cuda.current_device()
        device = torch.device("cuda", index)
    return device


def _nccl_device(context: DistributedContext) -> torch.device | None:
    """The device NCCL collectives run on: this rank's, or None off NCCL."""
    if dist.get_backend() != "nccl":
        return None
    if context.device is not None and context.device.type == "cuda":
        return context.device
    return torch.device("cuda", torch.cuda.current_device())


def wrap_data_parallel(
    module: nn.Module, context: DistributedContext, device: torch.device
) -> nn.Module:
    """``module`` wrapped in ``DistributedDataParallel``, or itself when alone.

    Every parameter of the encoder and the predictor takes part in every
    forward pass (one mask token serves all target kinds), so DDP need not
    search the graph for unused parameters.
    """
    if not context.enabled:
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)


def release_data_parallel(trainer) -> None:
    """Free a trainer's DistributedDataParallel wrappers now, not at exit.

    DDP modules sit in reference cycles, so they outlive ``fit`` until a
    cyclic garbage collection, which may come only at interpreter shutdown,
    after or while the process group is torn down. Before this, a gloo rank
    aborted at exit ("terminate called without an active exception") in about
    one two-process test run in 30.

    Parameters
    ----------
    trainer : JEPATrainer
        Done training; its ``encoder``, ``predictor`` and
        ``reconstruction_head`` are set to None.
    """
    trainer.encoder = trainer.predictor = trainer.reconstruction_head = None
    gc.collect()


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside a ``DistributedDataParallel`` or compiled wrapper."""
    while True:
        inner = getattr(module, "module", None) or getattr(module, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return module
        module = inner


def average_across_ranks(values, context: DistributedContext) -> list[float]:
    """Mean of each value over all ranks (identity when alone).

    Parameters
    ----------
    values : sequence of float
    context : DistributedContext

    Returns
    -------
    means : list of float
    """
    values = [float(v) for v in values]
    if not context.enabled:
        return values
    buffer = torch.tensor(values, dtype=torch.float64)
    device = _nccl_device(context)
    if device is not None:
        buffer = buffer.to(device)
    dist.all_reduce(buffer)
    return (buffer / context.world_size).cpu().tolist()


def sum_across_ranks_(
    tensor: torch.Tensor, context: DistributedContext
) -> torch.Tensor:
    """Sum a tensor over all ranks in place, without gradient (identity alone)."""
    if context.enabled:
        dist.all_reduce(tensor)
    return tensor


def gather_across_ranks(
    tensor: torch.Tensor, context: DistributedContext
) -> torch.Tensor:
    """Concatenate every rank's rows, keeping gradients to this rank's rows.

    A batch-level term (VICReg, SIGReg) computed on the gathered global batch
    is the same on every rank; backward sums the ranks' gradients of each
    slice, and DistributedDataParallel's mean over ranks then gives the
    gradient of that one global term.

    Parameters
    ----------
    tensor : Tensor of shape (b, ...)
        This rank's rows; every rank must pass the same shape.

    Returns
    -------
    gathered : Tensor of shape (b * world_size, ...)
    """
    if not context.enabled:
        return tensor
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(tensor), dim=0)


def barrier(context: DistributedContext) -> None:
    """Wait for every rank (a no-op when alone)."""
    if context.enabled:
        device = _nccl_device(context)
        if device is None:
            dist.barrier()
        else:
            dist.barrier(device_ids=[device.index])


def shared_seeds(seeds: list[int], context: DistributedContext) -> list[int]:
    """Rank 0's seeds on every rank.

    With ``random_state=None`` each process would draw its own entropy; the
    ranks must agree on weights, masks and batches, so rank 0's draw wins.
    """
    if not context.enabled:
        return list(seeds)
    shared = list(seeds)
    dist.broadcast_object_list(shared, src=0, device=_nccl_device(context))
    return [int(s) for s in shared]
