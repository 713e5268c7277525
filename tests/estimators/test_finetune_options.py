"""Fine-tuning options of issue 19: probe head, re-initialised blocks, warm-up,
and the per-epoch diagnostics."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR

from sk_brainjepa import (
    BrainJEPAClassifier,
    BrainJEPAPretrainer,
    BrainJEPARegressor,
    ROIRobustScaler,
    make_brain_dynamics,
)
from sk_brainjepa.estimators import RepresentationCollapseWarning
from sk_brainjepa.estimators._finetune_callbacks import (
    cosine_annealing_lr,
    probe_head_parameters,
    warmup_factor,
)
from sk_brainjepa.nn import read_out

# The toy task lives in the mean of the series: the mean head (the fine-tuners
# default to the connectivity head).
FAST = dict(max_epochs=2, batch_size=8, random_state=0, module__readout="mean")
DIAGNOSTICS = ("encoder_shift", "feature_shift", "head_norm", "grad_norm")


@pytest.fixture(scope="module")
def toy():
    """40 subjects; class 1 has its series raised by 2 (learnable from the mean)."""
    X, _ = make_brain_dynamics(n_subjects=40, n_rois=6, n_timepoints=32, random_state=0)
    X = ROIRobustScaler().fit_transform(X).astype(np.float32)
    y = np.arange(40) % 2
    X[y == 1] += 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepresentationCollapseWarning)
        pre = BrainJEPAPretrainer(
            window_length=32, max_epochs=1, batch_size=20, random_state=0
        ).fit(X)
    return X, y, pre


class FirstStepSpy(Callback):
    """What the net predicts on its training part just before the first step."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def initialize(self):
        self.proba_ = self.indices_ = None
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and self.proba_ is None:
            train, _ = net.get_split_datasets(self.X, self.y)
            self.indices_ = np.asarray(train.indices)
            self.proba_ = net.predict_proba(self.X[self.indices_])


class LRSpy(Callback):
    """Every parameter group's learning rate at every training step."""

    def initialize(self):
        self.lrs_ = []
        return self

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self.lrs_.append([g["lr"] for g in net.optimizer_.param_groups])


def _frozen_features(net, X, head_norm, train_idx):
    """The head's input, computed independently of the fine-tuner's code path."""
    module = net.module_
    with torch.no_grad():
        tokens = module.encoder(torch.from_numpy(X))
        feats = read_out(tokens, module.encoder.config.n_rois, "mean").double()
    if head_norm == "layernorm":
        return torch.nn.functional.layer_norm(feats, feats.shape[1:], eps=1e-6).numpy()
    train = feats[train_idx]
    return ((feats - train.mean(0)) / (train.var(0) + 1e-6).sqrt()).numpy()


# ------------------------------------------------------------ parameters


def test_new_parameters_reach_get_params_clone_and_grid_search(toy):
    X, y, pre = toy
    net = BrainJEPAClassifier(
        pretrainer=pre, head_init="probe", reinit_blocks=1, warmup_epochs=0.5
    )
    params = net.get_params()
    assert (params["head_init"], params["reinit_blocks"]) == ("probe", 1)
    assert params["warmup_epochs"] == 0.5
    twin = clone(net)
    assert (twin.head_init, twin.reinit_blocks, twin.warmup_epochs) == (
        "probe",
        1,
        0.5,
    )
    defaults = BrainJEPARegressor(pretrainer=pre).get_params()
    assert (defaults["head_init"], defaults["reinit_blocks"]) == ("random", 0)
    assert defaults["warmup_epochs"] == 0
    search = GridSearchCV(
        BrainJEPAClassifier(pretrainer=pre, max_epochs=1, batch_size=8, random_state=0),
        {"head_init": ["random", "probe"], "reinit_blocks": [0, 2]},
        cv=2,
    ).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"head_init": "linear"}, ValueError, "'head_init' parameter"),
        ({"reinit_blocks": -1}, ValueError, "'reinit_blocks' parameter"),
        ({"reinit_blocks": 1.5}, ValueError, "'reinit_blocks' parameter"),
        ({"warmup_epochs": -0.5}, ValueError, "'warmup_epochs' parameter"),
        ({"reinit_blocks": 3}, ValueError, r"reinit_blocks=3 exceeds .* depth=2"),
    ],
)
def test_bad_new_parameters_are_named(toy, params, error, match):
    X, y, pre = toy
    with pytest.raises(error, match=match):
        BrainJEPAClassifier(pretrainer=pre, **params, **FAST).fit(X, y)


# --------------------------------------------------------- reinit_blocks


def test_reinit_blocks_redraws_only_the_top_blocks(toy):
    X, y, pre = toy
    pretrained = pre.target_encoder_.state_dict()
    net = BrainJEPAClassifier(pretrainer=pre, reinit_blocks=1, **FAST).initialize()
    state = net.module_.encoder.state_dict()
    depth = net.module_.encoder.config.depth
    top = f"blocks.{depth - 1}."
    for key, value in state.items():
        if key.startswith(top) and key.endswith("weight") and value.ndim == 2:
            assert not torch.equal(value, pretrained[key]), key
            # The encoder's own init: trunc-normal with std 0.02.
            assert value.std().item() == pytest.approx(0.02, rel=0.2)
        elif key.startswith(top) and key.endswith("bias"):
            assert torch.all(value == 0), key
        elif key.startswith(top):  # LayerNorm weights
            assert torch.all(value == 1), key
        else:
            assert torch.equal(value, pretrained[key]), key
    # Seeded by random_state: same seed, same blocks; another, others.
    again = BrainJEPAClassifier(pretrainer=pre, reinit_blocks=1, **FAST).initialize()
    other = BrainJEPAClassifier(
        pretrainer=pre, reinit_blocks=1, max_epochs=2, random_state=1
    ).initialize()
    key = f"{top}attn.qkv.weight"
    assert torch.equal(again.module_.encoder.state_dict()[key], state[key])
    assert not torch.equal(other.module_.encoder.state_dict()[key], state[key])
    # The head is drawn as without re-initialisation.
    plain = BrainJEPAClassifier(pretrainer=pre, **FAST).initialize()
    assert torch.equal(plain.module_.head.weight, net.module_.head.weight)


# ---------------------------------------------------------- warmup_epochs


def test_cosine_annealing_lr_equals_torchs_scheduler():
    param = torch.zeros(1, requires_grad=True)
    for base, min_lr, n_epochs in [(1e-3, 1e-6, 7), (3.1e-4, 0.0, 50), (1.0, 0.1, 3)]:
        opt = torch.optim.SGD([param], lr=base)
        sched = CosineAnnealingLR(opt, T_max=n_epochs, eta_min=min_lr)
        for epoch in range(2 * n_epochs + 3):  # also past the half period
            assert (
                cosine_annealing_lr(base, min_lr, n_epochs, epoch)
                == (opt.param_groups[0]["lr"])
            )
            opt.step()
            sched.step()


def test_warmup_factor_ramps_to_one():
    assert warmup_factor(5, 0, 4, 0.0) == 1.0
    factors = [warmup_factor(e, b, 4, 1.5) for e in range(3) for b in range(4)]
    assert factors[0] == pytest.approx(1 / 6)
    assert np.all(np.diff(factors[:6]) > 0)
    assert factors[5:] == [1.0] * 7


def test_warmup_zero_trains_exactly_as_the_former_schedule(toy):
    """Former: skorch's LRScheduler(CosineAnnealingLR) and no diagnostics."""
    X, y, pre = toy
    runs = []
    for former in (False, True):
        spy = LRSpy()
        extra = {}
        if former:
            extra = dict(
                callbacks__lr_scheduler=LRScheduler(
                    policy="CosineAnnealingLR", T_max=4, eta_min=1e-6
                ),
                callbacks__diagnostics=None,
            )
        net = BrainJEPAClassifier(
            pretrainer=pre,
            lr=1e-3,
            max_epochs=4,
            batch_size=8,
            random_state=0,
            callbacks=[("lr_spy", spy)],
            **extra,
        ).fit(X, y)
        runs.append((spy.lrs_, net.predict_proba(X), net.history[:, "event_lr"]))
    (new_lrs, new_proba, new_event), (old_lrs, old_proba, old_event) = runs
    assert new_lrs == old_lrs  # every group, every step, bit for bit
    assert new_event == old_event
    assert_array_equal(new_proba, old_proba)
    assert (
        "encoder_shift"
        not in BrainJEPAClassifier(pretrainer=pre, callbacks__diagnostics=None, **FAST)
        .fit(X, y)
        .history[-1]
    )


def test_warmup_ramps_every_group_alike_then_decays(toy):
    X, y, pre = toy
    spy = LRSpy()
    net = BrainJEPAClassifier(
        pretrainer=pre,
        lr=1e-3,
        layer_decay=0.5,
        warmup_epochs=1.5,
        max_epochs=4,
        batch_size=8,
        valid_fraction=None,
        random_state=0,
        callbacks=[("lr_spy", spy)],
    ).fit(X, y)
    lrs = np.array(spy.lrs_)  # (steps, groups)
    n_batches = 5  # 40 subjects in batches of 8
    assert lrs.shape[0] == 4 * n_batches
    bases = np.array([g["initial_lr"] for g in net.optimizer_.param_groups])
    # One factor for every group: the layer-decay ratios hold in the warm-up.
    assert_allclose(
        lrs[:n_batches] / lrs[:n_batches, :1], np.tile(bases / bases[0], (n_batches, 1))
    )
    # From near zero, linearly up to the end of the warm-up (1.5 epochs)...
    assert_allclose(lrs[0], bases / 7.5)
    assert np.all(np.diff(lrs[:8], axis=0) > 0)
    # ...times the epoch's cosine rate, which alone remains afterwards.
    for step in range(len(lrs)):
        epoch, batch = divmod(step, n_batches)
        factor = min(1.0, (step + 1) / 7.5)
        expected = [factor * cosine_annealing_lr(b, 1e-6, 4, epoch) for b in bases]
        assert_allclose(lrs[step], expected, rtol=1e-12)
    assert net.history[-1, "event_lr"] == lrs[-1, 0]


# --------------------------------------------------------------- head_init


@pytest.mark.parametrize("head_norm", ["layernorm", "batchnorm"])
def test_probe_head_predicts_as_logistic_regression_before_any_step(toy, head_norm):
    X, y, pre = toy
    accuracies = {}
    for head_init in ("random", "probe"):
        spy = FirstStepSpy(X, y)
        net = BrainJEPAClassifier(
            pretrainer=pre,
            freeze_encoder=True,
            head_init=head_init,
            module__head_norm=head_norm,
            callbacks=[("spy", spy)],
            **FAST,
        ).fit(X, y)
        idx = spy.indices_
        accuracies[head_init] = np.mean(spy.proba_.argmax(1) == y[idx])
    # Only the training part (30 of 40 subjects): the probe never sees the rest.
    assert len(idx) == 30
    assert net.head_init_ == "probe"
    features = _frozen_features(net, X, head_norm, idx)
    reference = LogisticRegression(C=net.probe_.C, max_iter=2000)
    reference.fit(features[idx], y[idx])
    assert accuracies["probe"] == pytest.approx(
        reference.score(features[idx], y[idx]), abs=1 / 30
    )
    assert accuracies["probe"] >= 0.9
    assert_allclose(spy.proba_, reference.predict_proba(features[idx]), atol=1e-3)
    assert accuracies["random"] <= 0.7


def test_probe_head_of_the_regressor_is_ridge(toy):
    X, y, pre = toy
    target = X.mean(axis=(1, 2)) * 3.0 + 10.0
    spy = FirstStepSpy(X, target)
    net = BrainJEPARegressor(
        pretrainer=pre,
        freeze_encoder=True,
        head_init="probe",
        module__head_norm="layernorm",
        callbacks=[("spy", spy)],
        **FAST,
    ).fit(X, target)
    idx = spy.indices_
    features = _frozen_features(net, X, "layernorm", idx)
    scaled = (target - net.target_center_) / net.target_scale_
    reference = Ridge(alpha=net.probe_.alpha_).fit(features[idx], scaled[idx])
    # predict_proba of a regressor: the module's output, in standardised units.
    assert_allclose(
        spy.proba_.ravel(), reference.predict(features[idx]), rtol=1e-4, atol=1e-4
    )
    assert np.corrcoef(spy.proba_.ravel(), scaled[idx])[0, 1] > 0.9


def test_probe_head_parameters_reproduce_binary_and_multiclass_probabilities():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((60, 5))
    for n_classes in (2, 3):
        y = np.arange(60) % n_classes
        probe = LogisticRegression().fit(Z + y[:, None], y)
        weight, bias = probe_head_parameters(probe, n_classes)
        logits = torch.as_tensor((Z + y[:, None]) @ weight.T + bias)
        assert_allclose(
            logits.softmax(1).numpy(), probe.predict_proba(Z + y[:, None]), atol=1e-10
        )
    # A class absent from the training part: a zero row.
    probe = LogisticRegression().fit(Z, np.arange(60) % 2 * 2)
    weight, bias = probe_head_parameters(probe, 3)
    assert not weight[1].any() and bias[1] == 0


def test_partial_fit_keeps_the_probed_head(toy):
    X, y, pre = toy
    net = BrainJEPAClassifier(pretrainer=pre, head_init="probe", **FAST).fit(X, y)
    probe = net.probe_
    net.partial_fit(X, y)
    assert net.probe_ is probe and net.head_init_ == "probe"
    assert len(net.history) == 4


# -------------------------------------------------------------- diagnostics


def test_diagnostics_are_zero_for_a_frozen_encoder_and_grow_unfrozen(toy):
    X, y, pre = toy
    frozen = BrainJEPAClassifier(pretrainer=pre, freeze_encoder=True, **FAST)
    frozen.fit(X, y)
    tuned = BrainJEPAClassifier(pretrainer=pre, lr=1e-3, **FAST).fit(X, y)
    for net in (frozen, tuned):
        values = np.array(net.history[:, DIAGNOSTICS], dtype=float)
        assert values.shape == (2, 4)
        assert np.all(np.isfinite(values))
        assert np.all(values[:, 2:] > 0)  # head_norm, grad_norm
    assert frozen.history[:, "encoder_shift"] == [0.0, 0.0]
    assert max(frozen.history[:, "feature_shift"]) < 1e-6
    assert np.all(np.array(tuned.history[:, "encoder_shift"]) > 0)
    assert np.all(np.array(tuned.history[:, "feature_shift"]) > 1e-6)
    # Training moves on: the encoder's shift grows from epoch to epoch.
    assert tuned.history[-1, "encoder_shift"] > tuned.history[0, "encoder_shift"]
    # The copies that served the measures are gone from the fitted net.
    assert (
        tuned.callbacks_[[n for n, _ in tuned.callbacks_].index("diagnostics")][
            1
        ].reference_params_
        is None
    )


def test_diagnostics_of_the_epoch_that_stops_training_are_recorded(toy):
    X, y, pre = toy
    # patience=1 with a large lr stops early; the stopping epoch raises in the
    # early-stopping callback, which must come after the diagnostics.
    net = BrainJEPAClassifier(
        pretrainer=pre, lr=0.05, patience=1, max_epochs=30, batch_size=8, random_state=0
    ).fit(X, y)
    assert len(net.history) < 30
    for key in DIAGNOSTICS:
        assert key in net.history[-1], key
        assert np.isfinite(net.history[-1, key])


# -------------------------------------------------------------- determinism


def test_probe_and_reinit_fit_is_deterministic_and_pickles(toy):
    X, y, pre = toy
    params = dict(pretrainer=pre, head_init="probe", reinit_blocks=1, warmup_epochs=1)
    state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    a = BrainJEPAClassifier(lr=1e-3, **params, **FAST).fit(X, y)
    b = BrainJEPAClassifier(lr=1e-3, **params, **FAST).fit(X, y)
    assert torch.equal(torch.get_rng_state(), state)
    assert_array_equal(np.random.get_state()[1], np_state)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.history[:, DIAGNOSTICS] == b.history[:, DIAGNOSTICS]
    restored = pickle.loads(pickle.dumps(a))
    assert_array_equal(restored.predict_proba(X), a.predict_proba(X))
    assert restored.probe_.C == a.probe_.C
    c = BrainJEPAClassifier(lr=1e-3, **{**params, **FAST, "random_state": 1}).fit(X, y)
    assert not np.array_equal(c.predict_proba(X), a.predict_proba(X))
