"""Epoch plans: which windows each batch of an epoch holds, on each rank.

:class:`EpochPlanner` decides, in the main process and from one numpy
``Generator``, the order of the subjects and the crop start of each window
for an epoch (:class:`EpochPlan`, from :func:`draw_epoch`), and gives each
DistributedDataParallel rank its share of every global batch
(:func:`shard_batches`). Plans are plain numpy: no torch, no data read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sk_brainjepa._utils._validation import check_int
from sk_brainjepa.sources import window_starts


def draw_epoch(
    rng: np.random.Generator, lengths, n_timepoints: int, *, shuffle: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Order of the subjects and crop start of each window for one epoch.

    The draws are those of the in-memory training loop: one permutation, then
    one ``rng.integers(0, length - n_timepoints + 1)`` per subject in that
    order (the ``"random"`` rule of :func:`~sk_brainjepa.sources.window_starts`),
    so a plan reproduces that loop's windows exactly from the same generator
    state.

    Parameters
    ----------
    rng : numpy.random.Generator
        Advanced by the draws; every DistributedDataParallel rank uses a
        generator in the same state, so all draw the same global epoch.
    lengths : array-like of int, shape (n_subjects,)
        Frames of each subject.
    n_timepoints : int
        Window length.
    shuffle : bool, default=True
        False keeps the subject order (crops are still drawn).

    Returns
    -------
    subjects : ndarray of shape (n_subjects,), int64
    starts : ndarray of shape (n_subjects,), int64
        ``starts[k]`` is the first frame of the window of ``subjects[k]``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng)}.")
    lengths = np.asarray(lengths, dtype=np.int64)
    n_timepoints = check_int(n_timepoints, "n_timepoints", 1)
    short = np.flatnonzero(lengths < n_timepoints)
    if short.size:
        raise ValueError(
            f"Subject {short[0]} has {lengths[short[0]]} frames, fewer than "
            f"n_timepoints={n_timepoints}."
        )
    n = len(lengths)
    subjects = rng.permutation(n) if shuffle else np.arange(n)
    starts = np.empty(n, dtype=np.int64)
    for k, i in enumerate(subjects):
        # One scalar draw per window, as crop_random_windows makes them.
        (starts[k],) = window_starts(lengths[i], n_timepoints, "random", rng=rng)
    return subjects.astype(np.int64), starts


def shard_batches(
    subjects, starts, *, batch_size: int, rank: int = 0, world_size: int = 1
) -> tuple[np.ndarray, ...]:
    """Cut an epoch into global batches and give rank ``rank`` its part of each.

    Global batch ``k`` holds windows ``k * batch_size`` to ``(k + 1) *
    batch_size`` of the epoch, as one process would see them. Each rank takes
    a contiguous ``ceil(b / world_size)`` rows of a batch of ``b`` rows, in
    rank order, so the ranks' parts concatenate to the single-process batch.
    A batch whose size is not a multiple of ``world_size`` (the last one, or
    all of them when ``batch_size`` is not a multiple) is padded by repeating
    its own first rows (wrapping, as ``DistributedSampler`` pads an epoch), so
    every rank runs the same number of batches of the same size and the
    collectives match; only such batches differ from one process's.

    Parameters
    ----------
    subjects, starts : ndarray of shape (n_windows,)
        From :func:`draw_epoch`.
    batch_size : int
        Global batch size; make it a multiple of ``world_size`` for batches
        equal to one process's.
    rank : int, default=0
    world_size : int, default=1

    Returns
    -------
    batches : tuple of ndarray of shape (b_k, 2), int64
        Rows ``(subject, start)``; ``b_k = batch_size / world_size`` except
        maybe for the last batch.
    """
    batch_size = check_int(batch_size, "batch_size", 1)
    world_size = check_int(world_size, "world_size", 1)
    rank = check_int(rank, "rank", 0)
    if rank >= world_size:
        raise ValueError(f"rank must be < world_size={world_size}; got {rank}.")
    pairs = np.stack(
        [np.asarray(subjects, dtype=np.int64), np.asarray(starts, dtype=np.int64)],
        axis=1,
    )
    if len(pairs) == 0:
        raise ValueError("An epoch needs at least one window; got none.")
    batches = []
    for lo in range(0, len(pairs), batch_size):
        chunk = pairs[lo : lo + batch_size]
        share = -(-len(chunk) // world_size)
        rows = np.arange(share * world_size) % len(chunk)
        batches.append(chunk[rows[rank * share : (rank + 1) * share]])
    return tuple(batches)


@dataclass(frozen=True)
class EpochPlan:
    """The windows of one epoch: the global draw and this rank's batches.

    Attributes
    ----------
    subjects, starts : ndarray of shape (n_subjects,), int64
        Global order of the epoch and crop starts (identical on every rank).
    batches : tuple of ndarray of shape (b_k, 2), int64
        This rank's batches, rows ``(subject, start)``.
    rank, world_size, batch_size : int
        ``batch_size`` is the global batch size.
    """

    subjects: np.ndarray
    starts: np.ndarray
    batches: tuple
    rank: int = 0
    world_size: int = 1
    batch_size: int = 1

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


class EpochPlanner:
    """Draw :class:`EpochPlan`\\ s for one rank of a (possibly distributed) run.

    Parameters
    ----------
    lengths : array-like of int, shape (n_subjects,)
        Frames of each subject (``source.lengths``).
    n_timepoints : int
        Model window.
    batch_size : int
        Global batch size (over all ranks); with a multiple of ``world_size``
        the ranks together see exactly one process's batches.
    rank : int, default=0
    world_size : int, default=1
    shuffle : bool, default=True

    Examples
    --------
    >>> import numpy as np
    >>> planner = EpochPlanner([100] * 10, 32, batch_size=4, rank=1, world_size=2)
    >>> plan = planner.plan(np.random.default_rng(0))
    >>> len(plan), planner.n_batches, plan.batches[0].shape
    (3, 3, (2, 2))
    """

    def __init__(
        self,
        lengths,
        n_timepoints: int,
        *,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
    ):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if self.lengths.ndim != 1 or self.lengths.size == 0:
            raise ValueError(
                f"lengths must be a non-empty 1-D list of frame counts; got shape "
                f"{self.lengths.shape}."
            )
        self.n_timepoints = check_int(n_timepoints, "n_timepoints", 1)
        self.batch_size = check_int(batch_size, "batch_size", 1)
        self.world_size = check_int(world_size, "world_size", 1)
        self.rank = check_int(rank, "rank", 0)
        if self.rank >= self.world_size:
            raise ValueError(
                f"rank must be < world_size={self.world_size}; got {self.rank}."
            )
        self.shuffle = bool(shuffle)

    @property
    def n_batches(self) -> int:
        """Batches per epoch, the same on every rank."""
        return -(-len(self.lengths) // self.batch_size)

    def plan(self, rng: np.random.Generator) -> EpochPlan:
        """Draw the next epoch from ``rng`` (advancing it) and shard it."""
        subjects, starts = draw_epoch(
            rng, self.lengths, self.n_timepoints, shuffle=self.shuffle
        )
        batches = shard_batches(
            subjects,
            starts,
            batch_size=self.batch_size,
            rank=self.rank,
            world_size=self.world_size,
        )
        return EpochPlan(
            subjects, starts, batches, self.rank, self.world_size, self.batch_size
        )
