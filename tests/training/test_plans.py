"""Epoch plans: which windows each batch holds."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_brainjepa.training import EpochPlanner, draw_epoch, make_loader, shard_batches


def crop_random_windows(subjects, n_timepoints, rng):
    """The in-memory loop's draws before streaming: one start per subject."""
    out = []
    for x in subjects:
        start = int(rng.integers(0, x.shape[1] - n_timepoints + 1))
        out.append(x[:, start : start + n_timepoints])
    return np.stack(out).astype(np.float32, copy=False)


# -------------------------------------------------------------------- plans
def test_plan_reproduces_the_in_memory_training_loop(rng):
    lengths = [40, 64, 33, 50, 32, 45, 60]
    X = [rng.standard_normal((3, n)).astype(np.float32) for n in lengths]
    planner = EpochPlanner([x.shape[1] for x in X], 32, batch_size=3)
    loader = make_loader(X, 32)
    plan_rng, loop_rng = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(2):  # two epochs: the generator carries over
        loader.batch_sampler.set_plan(planner.plan(plan_rng))
        order = loop_rng.permutation(len(X))
        expected = [
            crop_random_windows([X[i] for i in order[s : s + 3]], 32, loop_rng)
            for s in range(0, len(X), 3)
        ]
        batches = [b.numpy() for b in loader]
        assert len(batches) == len(expected) == planner.n_batches == 3
        for got, want in zip(batches, expected, strict=True):
            assert_array_equal(got, want)


def test_same_seed_same_plan():
    lengths = np.arange(40, 60)
    plans = [
        EpochPlanner(lengths, 16, batch_size=4).plan(np.random.default_rng(seed))
        for seed in (1, 1, 2)
    ]
    assert_array_equal(
        np.concatenate(plans[0].batches), np.concatenate(plans[1].batches)
    )
    assert not np.array_equal(plans[0].subjects, plans[2].subjects)
    ordered = EpochPlanner(lengths, 16, batch_size=4, shuffle=False)
    assert_array_equal(ordered.plan(np.random.default_rng(0)).subjects, np.arange(20))


@pytest.mark.parametrize("n, batch_size, world_size", [(21, 8, 2), (22, 8, 4)])
def test_ranks_split_each_global_batch(n, batch_size, world_size):
    subjects, starts = draw_epoch(np.random.default_rng(3), [50] * n, 16)
    single = shard_batches(subjects, starts, batch_size=batch_size)
    ranks = [
        EpochPlanner([50] * n, 16, batch_size=batch_size, rank=r, world_size=world_size)
        .plan(np.random.default_rng(3))
        .batches
        for r in range(world_size)
    ]
    assert {len(b) for b in ranks} == {len(single)}
    for k, whole in enumerate(single):
        parts = [rank[k] for rank in ranks]
        assert len({len(p) for p in parts}) == 1  # same batch size on every rank
        joined = np.concatenate(parts)
        assert_array_equal(joined[: len(whole)], whole)
        # Padding repeats the batch's own first rows.
        assert_array_equal(joined[len(whole) :], whole[: len(joined) - len(whole)])
        if len(whole) == batch_size:
            assert len(parts[0]) == batch_size // world_size
    with pytest.raises(ValueError, match="rank must be < world_size"):
        EpochPlanner([50], 16, batch_size=4, rank=2, world_size=2)
    with pytest.raises(ValueError, match="fewer than n_timepoints"):
        draw_epoch(np.random.default_rng(0), [50, 10], 16)
