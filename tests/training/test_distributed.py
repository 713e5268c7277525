"""Data-parallel pretraining: N gloo processes reach the weights of one process.

Also the device each rank trains on (rank_device), which needs no process group
and leaves the process's current CUDA device to the caller.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.distributed as dist

from sk_brainjepa import BrainJEPAPretrainer
from sk_brainjepa.masking import SpatiotemporalMasker
from sk_brainjepa.training import _distributed
from sk_brainjepa.training._distributed import (
    DistributedContext,
    destroy_process_group_at_exit,
    rank_device,
    setup_distributed,
    unwrap,
)

needs_gloo = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with gloo is not available",
)

PARAMS = dict(
    window_length=32,
    max_epochs=2,
    batch_size=8,
    accumulation_steps=1,
    random_state=0,
)

SCRIPT = textwrap.dedent(
    """
    import gc
    import sys
    import numpy as np
    from torch.nn.parallel import DistributedDataParallel
    from sk_brainjepa import BrainJEPAPretrainer

    # Only fit's own collection may free the DDP wrappers (they sit in
    # reference cycles; left to interpreter shutdown, a gloo rank can abort).
    gc.disable()
    X = np.load(sys.argv[1])
    params = eval(sys.argv[2])
    model = BrainJEPAPretrainer(**params).fit(X)
    assert not any(isinstance(o, DistributedDataParallel) for o in gc.get_objects())
    import torch.distributed as dist
    if dist.get_rank() == 0:
        model.save(sys.argv[3])
    """
)


def _data(n_subjects=16):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n_subjects, 6, 40)).astype(np.float32)


def _run_torchrun(tmp_path, X, params, n_proc=2):
    data, script, out = tmp_path / "X.npy", tmp_path / "run.py", tmp_path / "m.pt"
    np.save(data, X)
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={n_proc}",
        str(script),
        str(data),
        repr(params),
        str(out),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return BrainJEPAPretrainer.load(out)


def _max_difference(a, b):
    return max(
        float((pa - pb).abs().max())
        for ma, mb in (
            (a.online_encoder_, b.online_encoder_),
            (a.predictor_, b.predictor_),
            (a.target_encoder_, b.target_encoder_),
        )
        for pa, pb in zip(
            ma.state_dict().values(), mb.state_dict().values(), strict=True
        )
    )


# Every batch-level part of the objective: targets standardised over the
# batch, VICReg and SIGReg on the gathered batch, the reconstruction head.
# The context loss is per token; its case checks that the encoder's one
# wrapped call that also returns hidden states trains as one process does.
ALL_TERMS = dict(
    target_norm="batch",
    content_gain="auto",
    vicreg_weight=0.5,
    sigreg_weight=0.1,
    reconstruction_weight=0.5,
)


@needs_gloo
@pytest.mark.parametrize(
    "accumulation_steps, objective",
    [(1, {}), (2, {}), (2, ALL_TERMS), (1, {"context_loss_weight": 1.0})],
    ids=["accumulate-1", "accumulate-2", "accumulate-2-all-terms", "context-loss"],
)
def test_two_gloo_processes_match_one_process(tmp_path, accumulation_steps, objective):
    # Same global batch (8 = 2 ranks x 4): the averaged gradients, masks and
    # windows are those of one process, so only the all-reduce's summation
    # order can make the weights differ.
    X = _data()
    params = {**PARAMS, "accumulation_steps": accumulation_steps, **objective}
    single = BrainJEPAPretrainer(**params).fit(X)
    parallel = _run_torchrun(tmp_path, X, params)
    difference = _max_difference(single, parallel)
    print(f"max |single - parallel| = {difference:.3g}")
    assert difference < 1e-5
    # The run really trained (weights moved away from the initial ones).
    fresh = BrainJEPAPretrainer(**{**params, "max_epochs": 1, "lr": 1e-12}).fit(X)
    assert _max_difference(single, fresh) > 1e-3
    for a, b in zip(single.history_, parallel.history_, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)


@needs_gloo
def test_uneven_last_batch_does_not_hang(tmp_path):
    # 13 subjects, global batch 8: the last global batch (5) is padded to 6 so
    # both ranks run the same number of steps; the run finishes.
    X = _data(13)
    model = _run_torchrun(tmp_path, X, PARAMS)
    assert len(model.history_) == PARAMS["max_epochs"]
    assert np.isfinite(model.transform(X)).all()


@needs_gloo
def test_rank_mask_rows_are_the_global_batch_rows():
    masker = SpatiotemporalMasker(6, 4)
    whole = masker(8, torch.Generator().manual_seed(3))
    part = masker(8, torch.Generator().manual_seed(3)).rows(4, 8)
    torch.testing.assert_close(part.observation, whole.observation[4:])
    torch.testing.assert_close(part.target, whole.target[4:])
    with pytest.raises(ValueError, match="rows"):
        whole.rows(4, 9)


@needs_gloo
def test_setup_alone_and_errors(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert setup_distributed("auto", "cpu") == DistributedContext()
    assert setup_distributed("off", "cpu").world_size == 1
    with pytest.raises(ValueError, match="distributed must be one of"):
        setup_distributed("yes", "cpu")
    with pytest.raises(ValueError, match="'distributed' parameter .* among"):
        BrainJEPAPretrainer(distributed="nccl").fit(_data())


@needs_gloo
def test_a_group_made_by_setup_is_destroyed_at_exit(monkeypatch):
    """Left to interpreter shutdown, a gloo group can abort the process."""
    calls, hooks, state = [], [], {"up": False}

    def init_process_group(backend):
        calls.append(("init", backend))
        state["up"] = True

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(dist, "is_initialized", lambda: state["up"])
    monkeypatch.setattr(dist, "init_process_group", init_process_group)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    monkeypatch.setattr(dist, "destroy_process_group", lambda: calls.append("destroy"))
    monkeypatch.setattr(_distributed.atexit, "register", hooks.append)
    context = setup_distributed("auto", "cpu")
    assert context == DistributedContext(rank=1, world_size=2, local_rank=1)
    assert calls == [("init", "gloo")]
    assert hooks == [destroy_process_group_at_exit]
    hooks[0]()
    assert calls[-1] == "destroy"
    # A group that already exists belongs to the caller: no hook is added.
    setup_distributed("auto", "cpu")
    assert hooks == [destroy_process_group_at_exit]
    state["up"] = False
    destroy_process_group_at_exit()  # nothing left to destroy
    assert calls.count("destroy") == 1


@needs_gloo
def test_unwrap_sees_through_wrappers():
    inner = torch.nn.Linear(2, 2)

    class Wrapper(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    assert unwrap(Wrapper(Wrapper(inner))) is inner
    assert unwrap(inner) is inner


@pytest.mark.parametrize(
    "requested, world_size, local_rank, current, expected",
    [
        ("cuda", 1, 0, 0, "cuda:0"),  # one process: the current GPU, indexed
        ("cuda", 1, 0, 2, "cuda:2"),
        ("cuda", 4, 3, 0, "cuda:3"),  # torchrun: this rank's own GPU
        ("cuda:1", 4, 3, 0, "cuda:1"),  # an explicit index wins
        ("cpu", 4, 3, 0, "cpu"),
    ],
)
def test_rank_device_picks_the_rank_gpu_and_leaves_the_current_one(
    monkeypatch, requested, world_size, local_rank, current, expected
):
    """The device string chosen; ``torch.cuda.set_device`` is the caller's (#22)."""

    def set_device(device):
        raise AssertionError(f"the library called torch.cuda.set_device({device})")

    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: current)
    context = DistributedContext(rank=local_rank, world_size=world_size,
                                 local_rank=local_rank)  # fmt: skip
    got = rank_device(torch.device(requested), context)
    assert got == torch.device(expected)
    assert str(got) == expected
