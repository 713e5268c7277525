"""Loaders that read a plan's windows."""

import numpy as np
import torch
from numpy.testing import assert_array_equal

from sk_brainjepa.training import EpochPlanner, make_loader


def _memmap(path, data):
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=data.dtype, shape=data.shape)
    mm[:] = data
    mm.flush()
    return mm


def test_workers_give_the_same_batches_and_leave_global_rng_alone(tmp_path, rng):
    mm = _memmap(tmp_path / "X.npy", rng.standard_normal((10, 4, 40), dtype="f4"))
    plan = EpochPlanner(mm.shape[0] * [40], 16, batch_size=4).plan(
        np.random.default_rng(0)
    )
    runs = []
    for workers in (0, 2):
        state = torch.get_rng_state()
        loader = make_loader(mm, 16, plan=plan, num_workers=workers)
        runs.append([b.numpy() for b in loader])
        assert torch.equal(torch.get_rng_state(), state)
        assert not loader.pin_memory
    assert len(runs[0]) == 3
    for a, b in zip(*runs, strict=True):
        assert_array_equal(a, b)
    for (i, s), window in zip(plan.batches[1], runs[0][1], strict=True):
        assert_array_equal(window, mm[i, :, s : s + 16])
