"""Anti-collapse terms, collapse diagnostics and recipes of the JEPA objective."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats

from sk_brainjepa import BrainJEPAPretrainer, make_brain_dynamics
from sk_brainjepa.datasets import SubjectRobustScaling
from sk_brainjepa.estimators import RECIPES
from sk_brainjepa.estimators._recipes import RECIPE_PARAMS, resolve_recipe
from sk_brainjepa.nn import BrainJEPAEncoder, model_config
from sk_brainjepa.training import (
    Objective,
    consistency_terms,
    effective_rank,
    epps_pulley,
    expected_epps_pulley_under_null,
    official_ema_momentum,
    offset_ratio,
    patches_of,
    position_share,
    sigreg,
    standardize_over_batch,
    variance_covariance_terms,
)
from sk_brainjepa.training._trainer import split_in_time


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------- terms
def test_standardize_over_batch_removes_what_samples_share():
    g = _gen()
    position = torch.randn(1, 6, 4, generator=g) * 10  # shared by every sample
    content = torch.randn(32, 6, 4, generator=g)
    out = standardize_over_batch(position + content)
    torch.testing.assert_close(out.mean(0), torch.zeros(6, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        out.std(0, unbiased=False), torch.ones(6, 4), atol=1e-3, rtol=0
    )
    # Only the content is left: the positional code changes nothing.
    torch.testing.assert_close(out, standardize_over_batch(content), atol=1e-4, rtol=0)
    single = torch.randn(1, 6, 4, generator=g)
    assert torch.equal(standardize_over_batch(single), single)


def test_variance_covariance_terms_known_values():
    g = _gen()
    white = torch.randn(20000, 8, generator=g) * 2.0  # std 2 > 1, uncorrelated
    variance, covariance = variance_covariance_terms(white)
    assert float(variance) == 0.0
    assert float(covariance) < 0.01
    collapsed = torch.ones(16, 8)
    variance, covariance = variance_covariance_terms(collapsed)
    assert float(variance) == pytest.approx(1 - math.sqrt(1e-4))
    assert float(covariance) == 0.0
    # Two copies of one unit-variance feature: off-diagonal cov 1 twice, / D.
    z = torch.randn(20000, 1, generator=g)
    _, covariance = variance_covariance_terms(torch.cat([z, z], dim=1))
    assert float(covariance) == pytest.approx(1.0, rel=0.05)
    with pytest.raises(ValueError, match=r"shape \(batch, dim\)"):
        variance_covariance_terms(torch.ones(2, 3, 4))


def test_epps_pulley_matches_the_closed_form():
    # Against a direct numerical integration of the definition.
    rng = np.random.default_rng(0)
    x = rng.standard_t(df=3, size=200)
    t = np.linspace(-3, 3, 6001)
    phi_n = np.exp(1j * np.outer(t, x)).mean(axis=1)
    integrand = np.abs(phi_n - np.exp(-(t**2) / 2)) ** 2 * np.exp(-(t**2) / 2)
    expected = len(x) * np.trapezoid(integrand, t)
    got = float(epps_pulley(torch.tensor(x[:, None]), n_knots=401)[0])
    assert got == pytest.approx(expected, rel=1e-3)


def test_epps_pulley_small_for_normal_large_otherwise():
    g = _gen()
    normal = torch.randn(512, 200, generator=g)
    mean_stat = float(epps_pulley(normal).mean())
    # The expectation under the null is about 1.06 whatever n (a little less
    # after truncating the integral at t = 3).
    assert 0.8 < mean_stat < expected_epps_pulley_under_null() * 1.1
    assert float(epps_pulley(torch.zeros(512, 1))[0]) > 100  # a point mass
    assert float(epps_pulley(3 * torch.randn(512, 1, generator=g))[0]) > 20
    skewed = torch.from_numpy(stats.expon.rvs(size=(512, 1), random_state=0) - 1.0)
    assert float(epps_pulley(skewed)[0]) > 5 * mean_stat


def test_sigreg_is_low_for_isotropic_gaussian_and_has_gradients():
    g = _gen()
    iso = torch.randn(256, 16, generator=g)
    collapsed = torch.randn(256, 1, generator=g) * torch.ones(1, 16)  # rank 1
    low = float(sigreg(iso, 128, _gen(1)))
    high = float(sigreg(collapsed, 128, _gen(1)))
    assert low < 2.0 < 10 * low < high
    z = torch.randn(64, 8, generator=g, requires_grad=True)
    sigreg(z, 32, _gen(2)).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    # Same generator state, same directions: reproducible.
    assert float(sigreg(iso, 16, _gen(3))) == float(sigreg(iso, 16, _gen(3)))


def test_patches_of_follows_the_token_order():
    x = torch.arange(2 * 3 * 8.0).reshape(2, 3, 8)
    patches = patches_of(x, 4)
    assert patches.shape == (2, 6, 4)
    # token roi * W + t = frames t*p .. (t+1)*p - 1 of that ROI
    assert torch.equal(patches[1, 2 * 2 + 1], x[1, 2, 4:8])


def test_objective_validates_its_terms():
    for kwargs, match in [
        ({"loss": "l1"}, "loss must be one of"),
        ({"target_norm": "token"}, "target_norm must be one of"),
        ({"vicreg_weight": -1}, "vicreg_weight must be a finite number >= 0"),
        ({"sigreg_weight": float("nan")}, "sigreg_weight must be"),
        ({"reconstruction_weight": True}, "reconstruction_weight must be"),
        ({"sigreg_projections": 0}, "sigreg_projections must be a positive"),
    ]:
        with pytest.raises(ValueError, match=match):
            Objective(**kwargs)


# ------------------------------------------------------------ diagnostics
def test_position_share_known_values():
    g = _gen()
    same = torch.randn(1, 5, 4, generator=g).expand(8, 5, 4)
    assert position_share(same) == pytest.approx(1.0)
    centred = torch.randn(4000, 5, 4, generator=g)
    assert position_share(centred) < 0.01
    # Equal energy in position and content: a half.
    pos = torch.ones(1, 5, 4)
    mixed = pos + torch.randn(20000, 5, 4, generator=g)
    assert position_share(mixed) == pytest.approx(0.5, abs=0.01)
    assert math.isnan(position_share(torch.ones(1, 5, 4)))


def test_effective_rank_known_values():
    g = _gen()
    assert effective_rank(torch.randn(2000, 6, generator=g)) == pytest.approx(
        6, rel=0.02
    )
    one_direction = torch.randn(50, 1, generator=g) * torch.ones(1, 6)
    assert effective_rank(one_direction) == pytest.approx(1.0, abs=1e-4)
    # A constant offset shared by all samples is not a direction they differ in.
    assert effective_rank(one_direction + 100.0) == pytest.approx(1.0, abs=1e-4)
    assert effective_rank(torch.ones(5, 3)) == 1.0
    assert math.isnan(effective_rank(torch.ones(1, 3)))


def test_offset_ratio_tells_raw_from_scaled_input():
    g = _gen()
    x = torch.randn(4, 6, 100, generator=g)
    assert offset_ratio(x) < 0.3
    assert offset_ratio(x + 50.0) > 10


# ------------------------------------------------------------ recipes
def test_recipes_cover_every_parameter_and_explicit_values_win():
    for name, settings in RECIPES.items():
        assert set(settings) == set(RECIPE_PARAMS), name
    settings = resolve_recipe("paper", {"loss": "smooth_l1", "target_norm": None})
    assert settings["loss"] == "smooth_l1" and settings["target_norm"] == "layer"
    with pytest.raises(ValueError, match="recipe must be one of"):
        resolve_recipe("best", {})
    with pytest.raises(ValueError, match="'recipe' parameter .* must be a str among"):
        BrainJEPAPretrainer(recipe="best").fit(np.zeros((4, 3, 32)))


def test_official_ema_schedule_reaches_the_trainer():
    X = np.random.default_rng(0).normal(size=(8, 4, 48)).astype(np.float32)
    common = dict(
        model_params={"depth": 1, "predictor_depth": 1},
        n_timepoints=48,
        max_epochs=2,
        batch_size=2,
        accumulation_steps=2,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        official = BrainJEPAPretrainer(recipe="official", **common).fit(X)
        linear = BrainJEPAPretrainer(recipe="paper", **common).fit(X)
    # 4 mini-batches, 2 optimiser steps per epoch: the official generator is
    # sized in mini-batches (8 in all) but advanced per step (4): it stalls.
    expected = official_ema_momentum(
        4, iterations_per_epoch=8, epochs=1, start_value=0.996, final_value=1.0
    )
    assert official.history_[-1]["momentum"] == pytest.approx(expected)
    assert linear.history_[-1]["momentum"] == pytest.approx(1.0)
    assert official.objective_["ema_schedule"] == "official"
    assert official.objective_["loss"] == "smooth_l1"


def test_auto_content_gain_balances_content_and_position():
    X, _ = make_brain_dynamics(n_subjects=8, n_rois=6, n_timepoints=64, random_state=0)
    X = SubjectRobustScaling()(X)
    pre = BrainJEPAPretrainer(
        recipe="paper",
        content_gain="auto",
        n_timepoints=64,
        max_epochs=1,
        batch_size=4,
        random_state=0,
    ).fit(X)
    gain = pre.objective_["content_gain"]
    assert (
        pre.encoder_.config.patch_gain == gain == pre.target_encoder_.config.patch_gain
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
        ({"monitor": (X, [0, 0, 0, 1])}, r"classes with a single subject \(\[1\]\)"),
    ]:
        with pytest.raises(ValueError, match=match):
            BrainJEPAPretrainer(n_timepoints=32, **kwargs).fit(X)


# ------------------------------------------------ short fits: collapse or not
@pytest.fixture(scope="module")
def cohort():
    X, pheno = make_brain_dynamics(
        n_subjects=48, n_rois=8, n_timepoints=64, random_state=0
    )
    return SubjectRobustScaling()(X), pheno


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
    for p, q in zip(a.encoder_.parameters(), b.encoder_.parameters(), strict=True):
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
        untrained.encoder_.parameters(),
        untrained.target_encoder_.parameters(),
        strict=True,
    ):
        assert torch.equal(p, q)
    assert untrained.transform(X).shape == (8, 64)


def test_consistency_terms_known_values():
    g = _gen()
    z = torch.randn(4000, 6, generator=g) * 2.0
    invariance, variance, covariance = consistency_terms(z, z)
    assert float(invariance) == 0.0 and float(variance) == 0.0
    assert float(covariance) < 0.05
    shifted = consistency_terms(z, z + 1.0)[0]
    assert float(shifted) == pytest.approx(1.0)
    # Agreement by collapse is not free: every subject on one vector.
    same = torch.ones(16, 6)
    invariance, variance, _ = consistency_terms(same, same)
    assert float(invariance) == 0.0 and float(variance) > 0.98
    with pytest.raises(ValueError, match="same shape"):
        consistency_terms(z, z[:, :3])


def test_split_in_time_cuts_between_patches():
    x = torch.arange(2 * 3 * 80.0).reshape(2, 3, 80)
    first, second = split_in_time(x, 5)  # 5 patches of 16: 2 + 3
    assert first.shape[-1] == 32 and second.shape[-1] == 48
    assert torch.equal(torch.cat([first, second], dim=-1), x)
    with pytest.raises(ValueError, match="at least 2 time patches"):
        split_in_time(x[..., :16], 1)


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
