"""Checkpoints during pretraining and exact resumption of interrupted runs."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from sk_brainjepa import BrainJEPAPretrainer
from sk_brainjepa.training import JEPATrainer, load_checkpoint

PARAMS = dict(
    window_length=32,
    max_epochs=4,
    batch_size=4,
    accumulation_steps=2,  # 3 batches per epoch: a partial step at each epoch's end
    random_state=0,
)


def _data(n_subjects=12, n_timepoints=48):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n_subjects, 6, n_timepoints)).astype(np.float32)


def _assert_same_model(a, b):
    for name in ("online_encoder_", "predictor_", "target_encoder_"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}{key} differs"
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in a.history_]
    assert strip == [{k: v for k, v in h.items() if k != "seconds"} for h in b.history_]


class _Interrupt(Exception):
    pass


def _interrupt_after(monkeypatch, n_batches):
    original = JEPATrainer.train_batch
    calls = {"n": 0}

    def train_batch(self, x, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_batches:
            raise _Interrupt
        return original(self, x, **kwargs)

    monkeypatch.setattr(JEPATrainer, "train_batch", train_batch)


def test_checkpointing_does_not_change_the_result(tmp_path):
    X = _data()
    plain = BrainJEPAPretrainer(**PARAMS).fit(X)
    saving = BrainJEPAPretrainer(**PARAMS, checkpoint_path=tmp_path / "c.ckpt").fit(X)
    _assert_same_model(plain, saving)
    payload = load_checkpoint(tmp_path / "c.ckpt")
    assert payload["training"]["epoch"] == PARAMS["max_epochs"]


def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    X = _data()
    reference = BrainJEPAPretrainer(**PARAMS).fit(X)
    path = tmp_path / "run.ckpt"
    with monkeypatch.context() as patch:
        _interrupt_after(patch, 7)  # in epoch 3 (3 batches per epoch)
        with pytest.raises(_Interrupt):
            BrainJEPAPretrainer(**PARAMS, checkpoint_path=path).fit(X)
    assert load_checkpoint(path)["training"]["epoch"] == 2
    # Runtime parameters may change on resumption.
    resumed = BrainJEPAPretrainer(
        **PARAMS, checkpoint_path=path, resume=True, verbose=0, embed_batch_size=3
    ).fit(X)
    _assert_same_model(reference, resumed)
    np.testing.assert_array_equal(reference.transform(X), resumed.transform(X))


def test_killed_process_resumes_to_the_uninterrupted_result(tmp_path):
    # A real kill (SIGKILL) at an arbitrary moment, possibly while a checkpoint is
    # being written: the file left behind is a complete checkpoint.
    X = _data(n_subjects=8)
    params = {**PARAMS, "max_epochs": 12, "checkpoint_every": 1}
    np.save(tmp_path / "X.npy", X)
    path = tmp_path / "run.ckpt"
    script = textwrap.dedent(
        f"""
        import numpy as np
        import torch
        from sk_brainjepa import BrainJEPAPretrainer
        # Same thread count as this process: CPU kernels may sum in another
        # order with another count, and the comparison below is exact.
        torch.set_num_threads({torch.get_num_threads()})
        # Slow each batch down (without changing it) so the kill lands mid-run.
        from sk_brainjepa.training import JEPATrainer
        import time
        train_batch = JEPATrainer.train_batch
        def slow_train_batch(self, x, **kwargs):
            time.sleep(0.1)
            return train_batch(self, x, **kwargs)
        JEPATrainer.train_batch = slow_train_batch
        X = np.load({str(tmp_path / "X.npy")!r})
        BrainJEPAPretrainer(**{params!r}, checkpoint_path={str(path)!r}).fit(X)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if path.exists() and load_checkpoint(path)["training"]["epoch"] >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    stopped_at = load_checkpoint(path)["training"]["epoch"]
    assert 2 <= stopped_at < params["max_epochs"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    resumed = BrainJEPAPretrainer(**params, checkpoint_path=path, resume=True).fit(X)
    _assert_same_model(BrainJEPAPretrainer(**params).fit(X), resumed)


def test_resume_of_a_finished_run_trains_no_more(tmp_path, monkeypatch):
    X = _data()
    path = tmp_path / "run.ckpt"
    done = BrainJEPAPretrainer(**PARAMS, checkpoint_path=path).fit(X)
    _interrupt_after(monkeypatch, 0)  # any training batch would raise
    again = BrainJEPAPretrainer(**PARAMS, checkpoint_path=path, resume=True).fit(X)
    _assert_same_model(done, again)


def test_resume_without_a_checkpoint_starts_afresh(tmp_path):
    X = _data()
    path = tmp_path / "new.ckpt"
    fresh = BrainJEPAPretrainer(**PARAMS, checkpoint_path=path, resume=True).fit(X)
    _assert_same_model(BrainJEPAPretrainer(**PARAMS).fit(X), fresh)
    assert path.is_file()


def test_training_checkpoint_loads_as_a_model(tmp_path):
    X = _data()
    path = tmp_path / "run.ckpt"
    fitted = BrainJEPAPretrainer(**PARAMS, checkpoint_path=path).fit(X)
    loaded = BrainJEPAPretrainer.load(path)
    np.testing.assert_array_equal(fitted.transform(X), loaded.transform(X))


def test_resume_errors(tmp_path):
    X = _data()
    path = tmp_path / "run.ckpt"
    with pytest.raises(ValueError, match="resume=True needs checkpoint_path"):
        BrainJEPAPretrainer(**PARAMS, resume=True).fit(X)
    fitted = BrainJEPAPretrainer(**PARAMS, checkpoint_path=path).fit(X)
    with pytest.raises(ValueError, match=r"other values of lr, weight_decay"):
        BrainJEPAPretrainer(
            **{**PARAMS, "lr": 0.5, "weight_decay": 0.1},
            checkpoint_path=path,
            resume=True,
        ).fit(X)
    with pytest.raises(ValueError, match="trained on 12 subjects x 6 ROIs"):
        BrainJEPAPretrainer(**PARAMS, checkpoint_path=path, resume=True).fit(X[:8])
    model_file = fitted.save(tmp_path / "model.pt")
    with pytest.raises(ValueError, match="not a training checkpoint"):
        BrainJEPAPretrainer(**PARAMS, checkpoint_path=model_file, resume=True).fit(X)
    for name, value in (("checkpoint_every", 0), ("num_workers", -1), ("resume", 1)):
        with pytest.raises(ValueError, match=name):
            BrainJEPAPretrainer(**{**PARAMS, name: value}).fit(X)


def test_compile_option_trains_the_same_model(monkeypatch):
    # The inductor backend takes about 90 s to compile on a 2-core CPU (measured:
    # same features within 2.4e-7); the eager backend runs the same wrapping
    # (compiled modules sharing parameters with the saved ones) in seconds.
    import functools

    calls = []
    real_compile = torch.compile

    def eager_compile(module, **kwargs):
        calls.append(type(module).__name__)
        return real_compile(module, backend="eager", **kwargs)

    monkeypatch.setattr(torch, "compile", functools.wraps(real_compile)(eager_compile))
    X = _data()
    plain = BrainJEPAPretrainer(**PARAMS).fit(X)
    compiled = BrainJEPAPretrainer(**PARAMS, compile=True).fit(X)
    assert sorted(calls) == [
        "BrainJEPAEncoder",
        "BrainJEPAEncoder",
        "BrainJEPAPredictor",
    ]
    np.testing.assert_allclose(compiled.transform(X), plain.transform(X), atol=1e-5)
    assert not any(
        k.startswith("_orig_mod") for k in compiled.online_encoder_.state_dict()
    )


def test_resume_with_other_gradient_values_says_how_far_apart(tmp_path):
    # Equal shapes were reported as "shape (6, 3) vs saved (6, 3)".
    X = _data()
    path = tmp_path / "run.ckpt"
    gradients = np.random.default_rng(1).standard_normal((6, 3))
    params = {**PARAMS, "max_epochs": 1, "gradients": gradients}
    BrainJEPAPretrainer(**params, checkpoint_path=path).fit(X)
    moved = {**params, "gradients": gradients + 0.5}
    with pytest.raises(
        ValueError, match=r"same shape \(6, 3\), values differ by up to 0\.5"
    ):
        BrainJEPAPretrainer(**moved, checkpoint_path=path, resume=True).fit(X)
    fewer = {**params, "gradients": gradients[:, :2]}
    with pytest.raises(ValueError, match=r"shape \(6, 2\) vs saved \(6, 3\)"):
        BrainJEPAPretrainer(**fewer, checkpoint_path=path, resume=True).fit(X)
