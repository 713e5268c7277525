"""Patch and positional embeddings, weight initialisation."""

import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAPredictor,
    PatchEmbed,
    model_config,
    sincos_embedding_1d,
)
from sk_brainjepa.nn._init import trunc_normal_init_

from ._helpers import PATCH, _encoder, _gen, _grads, _official_time_table, _x


def test_patch_embed_is_a_linear_map_of_each_roi_patch():
    embed = PatchEmbed(PATCH, 8)
    x = _x(2, 3, 48)
    weight = embed.proj.weight[:, 0, 0, :]  # (D, p)
    # token n = r * W + t holds frames t*p .. (t+1)*p - 1 of ROI r
    expected = x.reshape(2, 3 * 3, PATCH) @ weight.T + embed.proj.bias
    assert_allclose(embed(x).detach(), expected.detach(), atol=1e-6)


def test_patch_embed_rejects_bad_length():
    with pytest.raises(ValueError, match="T=40 must be a multiple of patch_size=16"):
        PatchEmbed(PATCH, 8)(_x(1, 2, 40))


# --------------------------------------------------------- positional embedding


@pytest.mark.parametrize(("n_rois", "n_time_patches"), [(3, 4), (7, 2), (5, 10)])
def test_positional_time_half_matches_official_formula(n_rois, n_time_patches):
    enc = _encoder(n_rois=n_rois, depth=0)
    pos = enc.positional_embedding(n_time_patches).detach()
    assert pos.shape == (n_rois * n_time_patches, 64)
    expected = _official_time_table(n_rois, n_time_patches, 64)
    assert_allclose(pos[:, :32].numpy(), expected, atol=1e-6)


def test_positional_gradient_half_is_scaled_projection():
    n_rois, n_time_patches = 6, 3
    enc = _encoder(n_rois=n_rois, depth=0)
    pos = enc.positional_embedding(n_time_patches)
    spatial = pos[:, 32:].detach()
    lin = enc.pos_embed_proj.predictor_pos_embed_proj
    proj = (enc.gradients @ lin.weight.T + lin.bias).detach()
    scaled = 2 * (proj - proj.min()) / (proj.max() - proj.min()) - 1
    expected = scaled.repeat_interleave(n_time_patches, dim=0)  # row r*W+t -> r
    assert_allclose(spatial, expected, atol=1e-6)
    assert float(spatial.min()) == pytest.approx(-1.0, abs=1e-6)
    assert float(spatial.max()) == pytest.approx(1.0, abs=1e-6)
    # The scaling is differentiable: the projection receives gradients.
    pos.sum().backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_positional_embedding_constant_gradients_do_not_give_nan():
    cfg, _ = model_config("tiny", n_rois=3, gradient_dim=2, depth=0)
    enc = BrainJEPAEncoder(cfg, torch.zeros(3, 2), generator=_gen())
    pos = enc.positional_embedding(2)
    assert torch.isfinite(pos).all()


def test_positional_embedding_roi_sincos_ablation():
    cfg, _ = model_config("tiny", n_rois=4, roi_embedding="sincos", depth=1)
    enc = BrainJEPAEncoder(cfg, None, generator=_gen())
    keys = set(enc.state_dict())
    assert "gradients" not in keys
    assert not any("predictor_pos_embed_proj" in k for k in keys)
    pos = enc.positional_embedding(3).detach()
    rois = torch.arange(4).repeat_interleave(3)
    expected_roi = sincos_embedding_1d(rois, 32).float()
    assert_allclose(pos[:, 32:], expected_roi, atol=1e-6)
    assert_allclose(pos[:, :32].numpy(), _official_time_table(4, 3, 64), atol=1e-6)
    assert enc(_x(2, 4, 48)).shape == (2, 12, 64)


# ------------------------------------------------------------- initialisation
def test_seeded_init_is_reproducible_and_leaves_global_rng_alone():
    cfg, pcfg = model_config("tiny", n_rois=4, gradient_dim=3)
    grads = _grads(4)
    state = torch.random.get_rng_state()
    a = BrainJEPAEncoder(cfg, grads, generator=_gen(7))
    b = BrainJEPAEncoder(cfg, grads, generator=_gen(7))
    c = BrainJEPAEncoder(cfg, grads, generator=_gen(8))
    BrainJEPAEncoder(cfg, grads)  # generator=None: fresh OS seed
    BrainJEPAPredictor(pcfg, grads, generator=_gen(7))
    assert torch.equal(torch.random.get_rng_state(), state)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert not torch.equal(a.blocks[0].attn.qkv.weight, c.blocks[0].attn.qkv.weight)


def test_init_statistics():
    cfg, pcfg = model_config("tiny", n_rois=4, gradient_dim=3, embed_dim=256, depth=1)
    enc = BrainJEPAEncoder(cfg, _grads(4), generator=_gen())
    pred = BrainJEPAPredictor(pcfg, _grads(4), generator=_gen())
    w = enc.blocks[0].attn.qkv.weight.detach()
    assert float(w.std()) == pytest.approx(0.02, rel=0.02)
    assert float(enc.patch_embed.proj.weight.detach().std()) == pytest.approx(
        0.02, rel=0.1
    )
    assert float(enc.blocks[0].mlp.fc2.bias.detach().abs().max()) == 0.0
    assert torch.equal(enc.norm.weight, torch.ones(256))
    assert torch.equal(enc.blocks[0].norm1.bias, torch.zeros(256))
    assert float(pred.mask_token.detach().abs().max()) > 0
    assert float(pred.mask_token.detach().std()) == pytest.approx(0.02, rel=0.5)


def test_trunc_normal_respects_bounds():
    values = torch.empty(10_000)
    trunc_normal_init_(values, std=1.0, bound=0.5, generator=_gen())
    assert float(values.abs().max()) <= 0.5
    assert float(values.std()) > 0.2  # not collapsed onto the bounds or zero


def test_trunc_normal_at_the_models_std_is_a_plain_normal_draw():
    # Bounds of +-2 at std 0.02 are 100 sd away: nothing is ever redrawn, so the
    # weights are exactly normal_(0, 0.02) from the same generator (what the
    # docstring says, and why it keeps its own sampler: see there).
    values = torch.empty(256, 384)
    trunc_normal_init_(values, std=0.02, generator=_gen())
    reference = torch.empty(256, 384).normal_(0.0, 0.02, generator=_gen())
    assert torch.equal(values, reference)
    # Drawn in float32 on the generator's device whatever the tensor's dtype.
    half = torch.empty(256, 384, dtype=torch.bfloat16)
    trunc_normal_init_(half, std=0.02, generator=_gen())
    assert torch.equal(half, reference.to(torch.bfloat16))
