"""Tests for the objective, EMA, schedules and checkpoints."""

import os
import warnings

import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.training import (
    cosine_ramp,
    ema_momentum,
    load_checkpoint,
    normalize_targets,
    official_ema_momentum,
    parameter_groups,
    prediction_loss,
    representation_spread,
    sample_spread,
    save_checkpoint,
    update_ema,
    warmup_cosine,
)


def test_warmup_cosine_end_points():
    kw = dict(
        total_steps=100,
        warmup_steps=10,
        start_value=5e-5,
        peak_value=1e-3,
        final_value=1e-6,
    )
    assert warmup_cosine(0, **kw) == pytest.approx(5e-5)
    assert warmup_cosine(5, **kw) == pytest.approx(5e-5 + 0.5 * (1e-3 - 5e-5))
    assert warmup_cosine(10, **kw) == pytest.approx(1e-3)
    assert warmup_cosine(55, **kw) == pytest.approx((1e-3 + 1e-6) / 2)
    assert warmup_cosine(100, **kw) == pytest.approx(1e-6)
    values = [warmup_cosine(s, **kw) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_weight_decay_ramp_rises_from_start_to_end():
    assert cosine_ramp(
        0, total_steps=50, start_value=0.04, final_value=0.4
    ) == pytest.approx(0.04)
    assert cosine_ramp(
        25, total_steps=50, start_value=0.04, final_value=0.4
    ) == pytest.approx(0.22)
    assert cosine_ramp(
        50, total_steps=50, start_value=0.04, final_value=0.4
    ) == pytest.approx(0.4)


def test_ema_momentum_reaches_one_unlike_official():
    total = 40
    assert ema_momentum(0, total_steps=total) == pytest.approx(0.996)
    assert ema_momentum(total - 1, total_steps=total) == pytest.approx(1.0)
    # Official: with 8 accumulation steps the ramp is sized in iterations but
    # advanced per optimiser step, so the last update uses ~0.9965.
    ipe, epochs = 80, 300
    last = official_ema_momentum(
        ipe * epochs // 8 - 1, iterations_per_epoch=ipe, epochs=epochs
    )
    assert last == pytest.approx(0.9965, abs=1e-4)


def test_update_ema_end_points_and_mixture():
    online, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in target.parameters()]
    update_ema(target, online, 1.0)
    for p, b in zip(target.parameters(), before, strict=True):
        assert torch.equal(p, b)
    update_ema(target, online, 0.25)
    for p, b, o in zip(target.parameters(), before, online.parameters(), strict=True):
        assert_allclose(p.detach(), 0.25 * b + 0.75 * o.detach(), rtol=1e-6, atol=1e-7)
    update_ema(target, online, 0.0)
    for p, o in zip(target.parameters(), online.parameters(), strict=True):
        assert torch.equal(p, o)


def test_losses_and_normalisation():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 5, 8, generator=g), torch.randn(2, 5, 8, generator=g)
    assert prediction_loss(a, b, "l2") == pytest.approx(float(((a - b) ** 2).mean()))
    diff = (a - b).abs()
    huber = torch.where(diff < 1, 0.5 * diff**2, diff - 0.5).mean()
    assert prediction_loss(a, b, "smooth_l1") == pytest.approx(float(huber), rel=1e-6)
    with pytest.raises(ValueError, match="loss must be one of"):
        prediction_loss(a, b, "l1")
    n = normalize_targets(a * 10 + 3)
    assert_allclose(n.mean(-1), 0, atol=1e-5)
    assert_allclose(n.var(-1, unbiased=False), 1, atol=1e-3)


def test_spread_detects_collapse():
    g = torch.Generator().manual_seed(0)
    healthy = normalize_targets(torch.randn(2, 50, 16, generator=g))
    collapsed = normalize_targets(
        torch.randn(1, 1, 16, generator=g).expand(2, 50, 16)
        + 1e-4 * torch.randn(2, 50, 16, generator=g)
    )
    assert representation_spread(healthy) > 0.8
    assert representation_spread(collapsed) < 0.01
    # Position-only features: every sample gets the same token-dependent vectors.
    positional = normalize_targets(
        torch.randn(1, 50, 16, generator=g).expand(4, 50, 16)
    )
    assert representation_spread(positional) > 0.8
    assert sample_spread(positional) < 1e-6
    assert sample_spread(healthy) > 0.5  # std of 2 samples of N(0, 1): about 0.8
    assert torch.isnan(sample_spread(healthy[:1]))


def test_parameter_groups_decay_matrices_only():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    model[1].weight.requires_grad_(False)
    decay, no_decay = parameter_groups([model], 0.1)
    assert [p.shape for p in decay["params"]] == [torch.Size([3, 4])]
    assert [p.shape for p in no_decay["params"]] == [torch.Size([3]), torch.Size([3])]
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0


def test_checkpoint_round_trip_and_atomicity(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint({"w": torch.arange(3.0), "meta": {"epoch": 2}}, path)
    out = load_checkpoint(path)
    assert torch.equal(out["w"], torch.arange(3.0)) and out["meta"] == {"epoch": 2}

    # A failing save leaves the previous file intact and no temporary behind.
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"w": torch.zeros(1)}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(3.0))
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]


class _Untrusted:
    """Any class: unpickling it would run arbitrary code paths."""


def test_load_checkpoint_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"obj": _Untrusted()}, path)
    with pytest.raises(ValueError, match="refused without being unpickled"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_save_checkpoint_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        save_checkpoint({}, tmp_path / "nope" / "x.pt")


# --------------------------------------------------------------- the builder
def _schedule_fit_computed(
    n_subjects, batch_size, max_epochs, accumulation_steps, warmup_epochs
):
    """What ``BrainJEPAPretrainer.fit`` computed by hand before ``build_trainer``."""
    import numpy as np

    batches_per_epoch = int(np.ceil(n_subjects / batch_size))
    steps_per_epoch = int(np.ceil(batches_per_epoch / accumulation_steps))
    warmup = max_epochs * 40 / 300 if warmup_epochs is None else warmup_epochs
    return {
        "total_steps": steps_per_epoch * max_epochs,
        "warmup_steps": int(round(warmup * steps_per_epoch)),
        "ema_iterations": batches_per_epoch * max_epochs,
    }


@pytest.fixture(scope="module")
def tiny_modules():
    import copy

    from sk_brainjepa.nn import BrainJEPAEncoder, BrainJEPAPredictor, model_config

    gen = torch.Generator().manual_seed(0)
    enc_cfg, pred_cfg = model_config(
        "tiny", n_rois=4, patch_size=4, gradient_dim=3, depth=1, predictor_depth=1
    )
    gradients = torch.randn(4, 3, generator=gen)
    encoder = BrainJEPAEncoder(enc_cfg, gradients, generator=gen)
    predictor = BrainJEPAPredictor(pred_cfg, gradients, generator=gen)
    target = copy.deepcopy(encoder).requires_grad_(False)
    return encoder, predictor, target


@pytest.mark.parametrize(
    "n_subjects, batch_size, max_epochs, accumulation_steps, warmup_epochs",
    [
        (10, 4, 3, 1, None),
        (10, 4, 3, 2, None),
        (8, 4, 10, 1, None),
        (100, 16, 300, 8, None),
        (7, 7, 1, 1, None),
        (33, 4, 10, 3, 2.5),
        (1000, 32, 7, 4, 0.5),
        (5, 2, 0, 1, None),
    ],
)
def test_build_trainer_sizes_the_schedules_as_fit_did(
    tiny_modules, n_subjects, batch_size, max_epochs, accumulation_steps, warmup_epochs
):
    from sk_brainjepa.masking import make_masker
    from sk_brainjepa.training import build_trainer, schedule_steps

    expected = _schedule_fit_computed(
        n_subjects, batch_size, max_epochs, accumulation_steps, warmup_epochs
    )
    steps = schedule_steps(
        n_subjects,
        batch_size,
        max_epochs,
        accumulation_steps=accumulation_steps,
        warmup_epochs=warmup_epochs,
    )
    assert {k: steps[k] for k in expected} == expected
    trainer = build_trainer(
        *tiny_modules,
        make_masker("spatiotemporal", 4, 2),
        n_subjects=n_subjects,
        batch_size=batch_size,
        max_epochs=max_epochs,
        accumulation_steps=accumulation_steps,
        warmup_epochs=warmup_epochs,
        mask_generator=torch.Generator().manual_seed(0),
        ema_schedule="official",
    )
    assert trainer.total_steps == expected["total_steps"]
    assert trainer.warmup_steps == expected["warmup_steps"]
    # A run of zero epochs takes no step; its EMA ramp is given length 1 to build.
    assert trainer.ema_iterations == max(expected["ema_iterations"], 1)
    assert trainer.accumulation_steps == accumulation_steps
    # The pretrainer's defaults: start at 5 % of the peak, official ramps.
    assert (trainer.lr, trainer.start_lr, trainer.final_lr) == (1e-3, 0.05 * 1e-3, 1e-6)
    assert (trainer.weight_decay, trainer.final_weight_decay) == (0.04, 0.4)
    assert trainer.ema == (0.996, 1.0)


def test_fit_trains_with_the_builders_schedule(monkeypatch):
    from sk_brainjepa import BrainJEPAPretrainer, make_brain_dynamics
    from sk_brainjepa.training import JEPATrainer, schedule_steps

    built = []
    original = JEPATrainer.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(JEPATrainer, "__init__", init)
    X, _ = make_brain_dynamics(n_subjects=10, n_rois=6, n_timepoints=16, random_state=0)
    X = (X - X.mean(axis=-1, keepdims=True)) / X.std(axis=-1, keepdims=True)
    params = dict(
        n_timepoints=8,
        patch_size=4,
        batch_size=3,
        max_epochs=2,
        accumulation_steps=2,
        lr=2e-3,
        ema=(0.9, 0.99),
        ema_schedule="official",
        model_params={"depth": 1, "predictor_depth": 1, "embed_dim": 16},
        random_state=0,
    )
    with warnings.catch_warnings():  # a collapse warning after 2 epochs
        warnings.simplefilter("ignore", UserWarning)
        BrainJEPAPretrainer(**params).fit(X)
    (trainer,) = built
    steps = schedule_steps(10, 3, 2, accumulation_steps=2)
    assert trainer.total_steps == steps["total_steps"] == 4
    assert trainer.warmup_steps == steps["warmup_steps"]
    assert trainer.ema_iterations == steps["ema_iterations"] == 8
    assert (trainer.lr, trainer.start_lr) == (2e-3, 0.05 * 2e-3)
    assert trainer.ema == (0.9, 0.99)
    assert trainer.step == 4
