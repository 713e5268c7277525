"""BrainJEPAPretrainer's objective options: anti-collapse terms in short fits."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from sk_brainjepa import BrainJEPAPretrainer, make_brain_dynamics
from sk_brainjepa.nn import BrainJEPAEncoder, model_config
from sk_brainjepa.preprocessing import SubjectRobustScaler
from sk_brainjepa.training import Objective


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_auto_content_gain_balances_content_and_position():
    X, _ = make_brain_dynamics(n_subjects=8, n_rois=6, n_timepoints=64, random_state=0)
    X = SubjectRobustScaler().to_window_transform()(X)
    pre = BrainJEPAPretrainer(
        recipe="paper",
        content_gain="auto",
        window_length=64,
        max_epochs=1,
        batch_size=4,
        random_state=0,
    ).fit(X)
    gain = pre.objective_["content_gain"]
    assert (
        pre.online_encoder_.config.patch_gain
        == gain
        == pre.target_encoder_.config.patch_gain
    )
    # Rebuild the initial encoder and check the balance on the same windows.
    enc_cfg, _ = model_config("tiny", n_rois=6, gradient_dim=pre.gradients_.shape[1])
    from sk_brainjepa._utils._random import spawn_seeds

    init = BrainJEPAEncoder(
        enc_cfg,
        torch.from_numpy(pre.gradients_),
        generator=_gen(spawn_seeds(0, 1)[0]),
    )
    x = torch.from_numpy(np.ascontiguousarray(X[:, :, :64]))
    with torch.no_grad():
        content = init.patch_embed(x) * gain
        position = init.positional_embedding(4)
    rms = lambda t: float(t.pow(2).mean().sqrt())  # noqa: E731
    assert rms(content) == pytest.approx(rms(position), rel=0.05)
    assert gain > 3  # the content starts several times below the position


def test_bad_objective_parameters_name_themselves():
    X = np.zeros((4, 3, 32), dtype=np.float32)
    for kwargs, match in [
        ({"content_gain": 0}, r"'content_gain' parameter .* \(0.0, inf\)"),
        ({"content_gain": "big"}, "'content_gain' parameter .* must be"),
        ({"target_norm": "none"}, "'target_norm' parameter .* among"),
        ({"sigreg_weight": -0.1}, r"'sigreg_weight' parameter .* \[0.0, inf\)"),
        ({"ema_schedule": "cosine"}, "'ema_schedule' parameter .* among"),
        ({"monitor_readout": "max"}, "'monitor_readout' parameter .* among"),
        ({"monitor": (X,)}, r"monitor must be None or a pair \(X_val, y_val\)"),
        ({"monitor": (X, [0, 1])}, "X_val has 4 subjects but y_val has 2 labels"),
        ({"monitor_every": 0}, r"'monitor_every' parameter .* \[1, inf\)"),
        (
            {"monitor": (X, [0, 0, 0, 1])},
            r"classes with fewer than 3 subjects \(\[1\]\)",
        ),
        (
            {"context_loss_weight": -1.0},
            r"'context_loss_weight' parameter .* \[0.0, inf\)",
        ),
        (
            {"masking": "official", "masking_params": {"forecast": True}},
            "masking_params: .*'forecast' is an option of masking='spatiotemporal'",
        ),
    ]:
        with pytest.raises(ValueError, match=match):
            BrainJEPAPretrainer(window_length=32, **kwargs).fit(X)


# ------------------------------------------------ short fits: collapse or not
@pytest.fixture(scope="module")
def cohort():
    X, pheno = make_brain_dynamics(
        n_subjects=48, n_rois=8, n_timepoints=64, random_state=0
    )
    return SubjectRobustScaler().to_window_transform()(X), pheno


def _short_fit(X, **kwargs):
    params = dict(
        recipe="paper",
        model_params={"depth": 1, "predictor_depth": 1},
        n_timepoints=64,
        max_epochs=12,
        batch_size=8,
        lr=2e-3,
        random_state=0,
    )
    params.update(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BrainJEPAPretrainer(**params).fit(X)


@pytest.fixture(scope="module")
def paper_run(cohort):
    return _short_fit(cohort[0])


def test_history_records_every_diagnostic(paper_run):
    keys = {
        "epoch",
        "loss",
        "prediction_loss",
        "spread",
        "sample_spread",
        "online_sample_spread",
        "target_sample_spread",
        "position_share",
        "rankme",
        "lr",
        "momentum",
        "seconds",
    }
    for record in paper_run.history_:
        assert keys <= set(record)
        assert 0 <= record["position_share"] <= 1 and record["rankme"] >= 1
    # The paper's recipe at this scale: the online encoder collapses onto
    # token position, the loss falls.
    first, last = paper_run.history_[0], paper_run.history_[-1]
    assert last["loss"] < 0.3 * first["loss"]
    assert last["online_sample_spread"] < 0.05
    assert last["position_share"] > 0.95


@pytest.mark.slow
@pytest.mark.parametrize(
    "option",
    [
        {"vicreg_weight": 1.0},
        {"sigreg_weight": 0.1},
        {"target_norm": "batch", "content_gain": "auto"},
        {"recipe": "balanced"},
    ],
    ids=["vicreg", "sigreg", "batch-targets+gain", "balanced"],
)
def test_option_keeps_subjects_apart_where_the_paper_collapses(
    cohort, paper_run, option
):
    run = _short_fit(cohort[0], **option)
    paper, ours = paper_run.history_[-1], run.history_[-1]
    assert ours["online_sample_spread"] > 0.1 > 0.05 > paper["online_sample_spread"]
    assert ours["target_sample_spread"] > paper["target_sample_spread"]
    assert ours["position_share"] < paper["position_share"]


def test_reconstruction_term_is_trained_saved_and_loaded(cohort, tmp_path):
    X = cohort[0][:16]
    run = _short_fit(X, max_epochs=3, reconstruction_weight=1.0)
    losses = [h["reconstruction_loss"] for h in run.history_]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert run.reconstruction_head_.out_features == 16
    path = run.save(tmp_path / "m.pt")
    loaded = BrainJEPAPretrainer.load(path)
    for a, b in zip(
        run.reconstruction_head_.parameters(),
        loaded.reconstruction_head_.parameters(),
        strict=True,
    ):
        assert torch.equal(a, b)
    assert loaded.objective_["reconstruction_weight"] == 1.0


def test_monitor_scores_the_online_probe(cohort):
    X, pheno = cohort
    run = _short_fit(
        X[:24],
        max_epochs=3,
        monitor=(X[24:], pheno["sex"].to_numpy()[24:]),
        monitor_every=2,
        monitor_readout="connectivity",
    )
    scores = [h["monitor_score"] for h in run.history_]
    assert math.isnan(scores[0]) and 0 <= scores[1] <= 1 and 0 <= scores[2] <= 1


def test_new_terms_keep_determinism(cohort):
    X = cohort[0][:16]
    kwargs = dict(max_epochs=2, sigreg_weight=0.1, reconstruction_weight=0.5)
    a, b = _short_fit(X, **kwargs), _short_fit(X, **kwargs)
    for p, q in zip(
        a.online_encoder_.parameters(), b.online_encoder_.parameters(), strict=True
    ):
        assert torch.equal(p, q)
    assert a.history_[-1]["sigreg_loss"] == b.history_[-1]["sigreg_loss"]


def test_zero_epochs_gives_the_initial_model(cohort):
    X = cohort[0][:8]
    untrained = _short_fit(X, max_epochs=0, content_gain="auto")
    trained = _short_fit(X, max_epochs=1, content_gain="auto")
    assert untrained.history_ == []
    assert untrained.objective_["content_gain"] == trained.objective_["content_gain"]
    # Same seed, same initial weights: the EMA copy equals the online encoder.
    for p, q in zip(
        untrained.online_encoder_.parameters(),
        untrained.target_encoder_.parameters(),
        strict=True,
    ):
        assert torch.equal(p, q)
    assert untrained.transform(X).shape == (8, 64)


@pytest.mark.parametrize("readout", ["mean", "connectivity"])
def test_consistency_option_keeps_subjects_apart(cohort, paper_run, readout):
    run = _short_fit(cohort[0], consistency_weight=1.0, consistency_readout=readout)
    last = run.history_[-1]
    assert {"consistency_loss", "consistency_variance_loss"} <= set(last)
    assert (
        last["online_sample_spread"]
        > 0.1
        > 0.05
        > paper_run.history_[-1]["online_sample_spread"]
    )
    assert last["position_share"] < paper_run.history_[-1]["position_share"]
    with pytest.raises(ValueError, match="consistency_readout must be one of"):
        Objective(consistency_readout="lagged")


@pytest.mark.parametrize(
    "option, check",
    [
        # Alone, each keeps what the paper's recipe loses, by its own measure:
        # batch targets keep the online encoder's subjects apart, the content
        # gain keeps the targets' (and their energy off the token position).
        (
            {"target_norm": "batch"},
            lambda ours, paper: (
                ours["online_sample_spread"] > 5 * paper["online_sample_spread"]
            ),
        ),
        (
            {"content_gain": "auto"},
            lambda ours, paper: (
                ours["target_sample_spread"] > 0.5
                and ours["position_share"] < 0.7 < 0.95 < paper["position_share"]
            ),
        ),
    ],
    ids=["batch-targets", "content-gain"],
)
def test_single_balancing_options_beat_the_paper_recipe(
    cohort, paper_run, option, check
):
    run = _short_fit(cohort[0], **option)
    assert check(run.history_[-1], paper_run.history_[-1])


def test_context_loss_option_is_trained_and_off_changes_nothing(cohort):
    X = cohort[0][:16]
    kwargs = dict(max_epochs=2, model_params={"depth": 2, "predictor_depth": 1})
    run = _short_fit(X, context_loss_weight=1.0, **kwargs)
    losses = [h["context_loss"] for h in run.history_]
    assert all(np.isfinite(losses)) and min(losses) > 0
    assert run.objective_["context_loss_weight"] == 1.0
    # Off, explicitly or from the recipe: the same model, bit for bit (the
    # objective then makes the calls it made before the option existed: no
    # extra forward, no extra random draw).
    off = _short_fit(X, context_loss_weight=0.0, **kwargs)
    default = _short_fit(X, **kwargs)
    assert "context_loss" not in off.history_[-1]
    for a, b in zip(
        off.online_encoder_.parameters(),
        default.online_encoder_.parameters(),
        strict=True,
    ):
        assert torch.equal(a, b)
    assert off.history_[-1]["loss"] == default.history_[-1]["loss"]
    assert not torch.equal(
        next(run.online_encoder_.parameters()), next(off.online_encoder_.parameters())
    )


def test_forecast_masking_is_reachable_from_the_pretrainer(cohort):
    X = cohort[0][:16]
    forecast = _short_fit(X, max_epochs=1, masking_params={"forecast": True})
    plain = _short_fit(X, max_epochs=1, masking_params={"forecast": False})
    default = _short_fit(X, max_epochs=1)
    assert np.isfinite(forecast.history_[-1]["loss"])
    # forecast=False is the default masking; forecast=True draws other masks.
    for a, b in zip(
        plain.online_encoder_.parameters(),
        default.online_encoder_.parameters(),
        strict=True,
    ):
        assert torch.equal(a, b)
    assert not torch.equal(
        next(forecast.online_encoder_.parameters()),
        next(plain.online_encoder_.parameters()),
    )
