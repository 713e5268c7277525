"""The objective: losses, target norms, EMA, spread."""

from __future__ import annotations

import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.training import (
    Objective,
    normalize_targets,
    prediction_loss,
    representation_spread,
    sample_spread,
    update_ema,
)


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
