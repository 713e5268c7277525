"""Torch side of streaming: a DataLoader that reads the windows a plan names.

:func:`make_loader` returns a ``torch.utils.data.DataLoader`` over a
:class:`WindowDataset` whose batches come from a :class:`PlanBatchSampler`:
the plan is drawn in the main process, and workers only read and scale the
windows it names, so the batches do not depend on the number of workers.
The plans (:mod:`sk_brainjepa.training._plans`) are plain numpy; this module
adds torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from sk_brainjepa._utils._validation import check_int
from sk_brainjepa.sources import TimeSeriesSource, as_source
from sk_brainjepa.training._plans import EpochPlan


class WindowDataset(Dataset):
    """Windows of a source, addressed by ``(subject, start)``.

    Parameters
    ----------
    source : TimeSeriesSource
        Windows are read from it as they are; to scale them as they are read,
        wrap the data in a :class:`~sk_brainjepa.sources.ScaledSource` (the
        library's one transform-while-reading path).
    n_timepoints : int
        Window length.
    """

    def __init__(self, source: TimeSeriesSource, n_timepoints: int):
        if not isinstance(source, TimeSeriesSource):
            raise TypeError(
                f"source must be a TimeSeriesSource (see as_source); got "
                f"{type(source).__name__}."
            )
        self.source = source
        self.n_timepoints = check_int(n_timepoints, "n_timepoints", 1)

    def __len__(self) -> int:
        return len(self.source)

    def window(self, index: int, start: int) -> np.ndarray:
        """The window as a float32 array of shape (n_rois, n_timepoints)."""
        return self.source.window(index, start, self.n_timepoints)

    def __getitem__(self, key) -> torch.Tensor:
        index, start = key
        return torch.from_numpy(self.window(index, start))


class PlanBatchSampler(Sampler):
    """Batch sampler that yields the batches of the current :class:`EpochPlan`.

    It runs in the main process, so the windows do not depend on the number
    of workers. Call :meth:`set_plan` before iterating the loader for each
    epoch (as ``DistributedSampler.set_epoch``).
    """

    def __init__(self, plan: EpochPlan | None = None):
        super().__init__()
        self.plan = plan

    def set_plan(self, plan: EpochPlan) -> None:
        if not isinstance(plan, EpochPlan):
            raise TypeError(f"plan must be an EpochPlan; got {type(plan).__name__}.")
        self.plan = plan

    def _current(self) -> EpochPlan:
        if self.plan is None:
            raise RuntimeError(
                "No epoch plan set: call loader.batch_sampler.set_plan(plan) with "
                "plan = EpochPlanner(...).plan(rng) before iterating."
            )
        return self.plan

    def __iter__(self):
        for batch in self._current().batches:
            yield [(int(i), int(s)) for i, s in batch]

    def __len__(self) -> int:
        return len(self._current())


def make_loader(
    source,
    n_timepoints: int,
    *,
    plan: EpochPlan | None = None,
    num_workers: int = 0,
    device=None,
    pin_memory: bool | None = None,
    persistent_workers: bool = False,
    prefetch_factor: int | None = None,
    multiprocessing_context=None,
) -> DataLoader:
    """A DataLoader of training windows following an epoch plan.

    Parameters
    ----------
    source : TimeSeriesSource or anything :func:`as_source` accepts
        A :class:`~sk_brainjepa.sources.ScaledSource` scales each window as
        it is read.
    n_timepoints : int
        Window length.
    plan : EpochPlan or None, default=None
        First epoch's plan; set each epoch's with
        ``loader.batch_sampler.set_plan(plan)``.
    num_workers : int, default=0
        Worker processes reading windows (0 reads in the main process).
        Workers draw nothing random: the windows and their order come from
        the plan, so batches are the same for any ``num_workers``.
    device : str, torch.device or None, default=None
        Where batches will go; decides the default of ``pin_memory``.
    pin_memory : bool or None, default=None
        None pins when ``device`` is a CUDA device.
    persistent_workers : bool, default=False
        Keep workers alive between epochs (only with ``num_workers > 0``).
    prefetch_factor : int or None, default=None
        Batches each worker loads ahead (torch's default of 2 when None).
    multiprocessing_context : str or None, default=None
        e.g. ``"spawn"``; sources pickle without their data.

    Returns
    -------
    loader : torch.utils.data.DataLoader
        Yields float32 tensors of shape (b, n_rois, n_timepoints).
    """
    source = as_source(source)
    num_workers = check_int(num_workers, "num_workers", 0)
    if pin_memory is None:
        pin_memory = device is not None and torch.device(device).type == "cuda"
    extra = {}
    if num_workers > 0:
        extra = {
            "persistent_workers": bool(persistent_workers),
            "prefetch_factor": prefetch_factor,
            "multiprocessing_context": multiprocessing_context,
        }
    return DataLoader(
        WindowDataset(source, n_timepoints),
        batch_sampler=PlanBatchSampler(plan),
        num_workers=num_workers,
        pin_memory=bool(pin_memory),
        # The loader draws its workers' base seed from this generator; without
        # it, every epoch would consume a draw of torch's global RNG and shift
        # whatever else uses it. Workers use no randomness, so a constant seed.
        generator=torch.Generator().manual_seed(0),
        **extra,
    )


def iter_batches(loader: DataLoader):
    """Iterate over ``loader``, re-raising a worker's error as the error itself.

    With ``num_workers > 0`` torch wraps an exception raised in a worker (a NaN
    in a subject, an unreadable file) in a message that starts with "Caught
    ValueError in DataLoader worker process 0" and carries the worker's whole
    traceback. The user's problem is the last line of it: that is what is
    raised here, with the same exception type.

    Parameters
    ----------
    loader : torch.utils.data.DataLoader

    Yields
    ------
    batch
        What ``loader`` yields.
    """
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except (ValueError, OSError, TypeError) as exc:
            message = str(exc)
            if "DataLoader worker" not in message:
                raise
            last = message.strip().splitlines()[-1]
            prefix = f"{type(exc).__name__}: "
            raise type(exc)(last.removeprefix(prefix)) from None
        yield batch
