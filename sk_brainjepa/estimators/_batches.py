"""Which subjects and windows make up each global batch of a pretraining epoch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from sk_brainjepa.training._distributed import DistributedContext


def global_batches(
    n_subjects: int,
    batch_size: int,
    rng: np.random.Generator,
    *,
    lengths: Sequence[int],
    n_timepoints: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shuffle the subjects and draw one random window start per subject.

    The subjects are permuted once per epoch; the window starts of a batch are
    drawn when the batch is reached, one integer per subject in batch order.
    Every rank of a data-parallel run makes the same draws from the same
    generator, so they agree on the global batches without communicating.

    Parameters
    ----------
    n_subjects : int
    batch_size : int
        Global batch size; the last batch may be smaller.
    rng : numpy.random.Generator
    lengths : sequence of int
        Frames of each subject.
    n_timepoints : int
        Window length.

    Yields
    ------
    indices : ndarray of shape (b,), int
        Subjects of the batch.
    starts : ndarray of shape (b,), int
        First frame of each subject's window.
    """
    order = rng.permutation(n_subjects)
    for first in range(0, n_subjects, batch_size):
        indices = order[first : first + batch_size]
        starts = np.asarray(
            [int(rng.integers(0, lengths[i] - n_timepoints + 1)) for i in indices],
            dtype=np.int64,
        )
        yield indices, starts


def rank_rows(batch_size: int, context: DistributedContext) -> np.ndarray:
    """Rows of a global batch that this rank trains on.

    Each rank takes a contiguous ``batch_size / world_size`` share. When the
    (last) batch does not split evenly, it is padded by repeating its first
    rows, as :class:`torch.utils.data.DistributedSampler` pads an epoch, so
    that every rank runs the same number of samples and collectives match.

    Parameters
    ----------
    batch_size : int
        Rows in the global batch.
    context : DistributedContext

    Returns
    -------
    rows : ndarray of shape (ceil(batch_size / world_size),), int
    """
    share = -(-batch_size // context.world_size)
    padded = np.arange(share * context.world_size) % batch_size
    return padded[context.rank * share : (context.rank + 1) * share]
