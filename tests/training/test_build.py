"""Building a trainer and its schedules."""

import warnings

import pytest
import torch


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
        window_length=8,
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
