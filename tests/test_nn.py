"""Tests for sk_brainjepa.nn: layers, encoder, predictor, attention, official keys."""

import copy
import pickle
import sys
import types

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.nn import (
    MODEL_PRESETS,
    BrainJEPAEncoder,
    BrainJEPAPredictor,
    EncoderConfig,
    PatchEmbed,
    PredictorConfig,
    _attention,
    _layers,
    attention,
    convert_official_encoder_state_dict,
    flash_attn_available,
    infer_encoder_config_from_state_dict,
    math_attention,
    model_config,
    select_attention_backend,
    sincos_embedding_1d,
)
from sk_brainjepa.nn._layers import trunc_normal_init_

PATCH = 16


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _grads(n_rois, m=3, seed=0):
    return torch.randn(n_rois, m, generator=_gen(seed + 1000))


def _encoder(n_rois=5, seed=0, **overrides):
    overrides.setdefault("gradient_dim", 3)
    cfg, _ = model_config("tiny", n_rois=n_rois, **overrides)
    grads = _grads(n_rois, cfg.gradient_dim)
    return BrainJEPAEncoder(cfg, grads, generator=_gen(seed))


def _predictor(n_rois=5, seed=0, **overrides):
    overrides.setdefault("gradient_dim", 3)
    _, cfg = model_config("tiny", n_rois=n_rois, **overrides)
    grads = _grads(n_rois, cfg.gradient_dim)
    return BrainJEPAPredictor(cfg, grads, generator=_gen(seed))


def _x(batch, n_rois, n_timepoints, seed=0):
    return torch.randn(batch, n_rois, n_timepoints, generator=_gen(seed + 2000))


def _official_time_table(n_rois, n_time_patches, dim):
    """emb_h as the reference describes it, in numpy: row r*W+t codes t."""
    half = dim // 2
    omega = 1.0 / 10000 ** (np.arange(half // 2, dtype=np.float64) / (half / 2))
    t = np.tile(np.arange(n_time_patches, dtype=np.float64), n_rois)
    angles = np.outer(t, omega)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)


# ----------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"embed_dim": 60, "n_heads": 8},
            "embed_dim=60 must be divisible by n_heads=8",
        ),
        ({"embed_dim": 18, "n_heads": 2}, "embed_dim=18 must be divisible by 4"),
        ({"roi_embedding": "coords"}, "roi_embedding must be one of"),
        ({"attention_backend": "xformers"}, "attention_backend must be one of"),
        ({"patch_size": 0}, "patch_size must be a positive integer"),
        ({"depth": -1}, "depth must be a non-negative integer"),
        ({"n_rois": 0}, "n_rois must be a positive integer"),
        ({"mlp_ratio": 0.0}, "mlp_ratio must be > 0"),
    ],
)
def test_encoder_config_validation(kwargs, match):
    params = {"n_rois": 4, "embed_dim": 64, "n_heads": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        EncoderConfig(**params)


def test_predictor_config_validation():
    with pytest.raises(ValueError, match="encoder_dim must be a positive integer"):
        PredictorConfig(n_rois=4, encoder_dim=0, embed_dim=32, n_heads=4)
    with pytest.raises(ValueError, match="embed_dim=30 must be divisible by n_heads"):
        PredictorConfig(n_rois=4, encoder_dim=64, embed_dim=30, n_heads=4)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("small", (384, 12, 6, 192, 6, 6)),
        ("base", (768, 12, 12, 384, 6, 12)),
        ("large", (1024, 24, 16, 384, 12, 16)),
        ("tiny", (64, 2, 4, 32, 2, 4)),
    ],
)
def test_model_config_presets(preset, expected):
    enc, pred = model_config(preset, n_rois=450)
    got = (enc.embed_dim, enc.depth, enc.n_heads, pred.embed_dim, pred.depth)
    assert got + (pred.n_heads,) == expected
    assert pred.encoder_dim == enc.embed_dim
    assert (enc.patch_size, enc.gradient_dim, enc.mlp_ratio) == (16, 30, 4.0)


def test_model_config_overrides():
    enc, pred = model_config(
        "base",
        n_rois=10,
        n_heads=8,
        depth=3,
        predictor_depth=1,
        attention_backend="math",
        predictor_attention_backend="sdpa",
        gradient_dim=5,
    )
    assert (enc.n_heads, enc.depth, pred.depth) == (8, 3, 1)
    # The predictor follows an overridden encoder head count (official rule).
    assert pred.n_heads == 8
    assert (enc.attention_backend, pred.attention_backend) == ("math", "sdpa")
    assert enc.gradient_dim == pred.gradient_dim == 5
    _, pred = model_config("base", n_rois=10, n_heads=8, predictor_n_heads=4)
    assert pred.n_heads == 4


def test_model_config_errors():
    with pytest.raises(ValueError, match=r"Unknown preset 'huge'.*'base'"):
        model_config("huge", n_rois=4)
    with pytest.raises(ValueError, match=r"Unknown model_config override\(s\) \['widt"):
        model_config("tiny", n_rois=4, width=3)
    assert set(MODEL_PRESETS) == {"tiny", "small", "base", "large"}


# ------------------------------------------------------------- patch embedding


@pytest.mark.parametrize("n_rois", [7, 10, 33])
@pytest.mark.parametrize("n_timepoints", [32, 48, 64])
def test_encoder_output_shapes(n_rois, n_timepoints):
    enc = _encoder(n_rois=n_rois, depth=1).eval()
    x = _x(2, n_rois, n_timepoints)
    n_tokens = n_rois * n_timepoints // PATCH
    with torch.no_grad():
        assert enc(x).shape == (2, n_tokens, 64)
        keep = torch.stack(
            [torch.randperm(n_tokens, generator=_gen(b))[:5] for b in (0, 1)]
        )
        assert enc(x, keep).shape == (2, 5, 64)


def test_patch_embed_is_a_linear_map_of_each_roi_patch():
    embed = PatchEmbed(PATCH, 8)
    x = _x(2, 3, 48)
    weight = embed.proj.weight[:, 0, 0, :]  # (D, p)
    # token n = r * W + t holds frames t*p .. (t+1)*p - 1 of ROI r
    expected = x.reshape(2, 3 * 3, PATCH) @ weight.T + embed.proj.bias
    assert_allclose(embed(x).detach(), expected.detach(), atol=1e-6)


@pytest.mark.parametrize(("roi", "t"), [(0, 0), (2, 1), (4, 2), (1, 2)])
def test_encoder_token_index_is_roi_major(roi, t):
    """Perturbing frames of (roi, t) changes exactly output token roi * W + t."""
    n_rois, n_timepoints = 5, 48
    n_time_patches = n_timepoints // PATCH
    enc = _encoder(n_rois=n_rois, depth=0).eval()  # per-token path: patch, pos, norm
    x = _x(1, n_rois, n_timepoints)
    x2 = x.clone()
    x2[0, roi, t * PATCH : (t + 1) * PATCH] += 1.0
    with torch.no_grad():
        changed = (enc(x2) - enc(x)).abs().amax(dim=-1)[0] > 1e-6
    assert torch.nonzero(changed).flatten().tolist() == [roi * n_time_patches + t]


def test_encoder_observation_gathers_tokens():
    enc = _encoder(n_rois=4, depth=0).eval()
    x = _x(2, 4, 32)
    obs = torch.tensor([[7, 0, 3], [1, 1, 6]])
    with torch.no_grad():
        full, kept = enc(x), enc(x, obs)
    for b in range(2):
        assert_allclose(kept[b], full[b, obs[b]], atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "observation", "match"),
    [
        ((2, 5, 50), None, "T=50 must be a positive multiple of patch_size=16"),
        ((2, 4, 32), None, r"n_rois=5; got \(2, 4, 32\)"),
        ((2, 5, 32), torch.tensor([[0, 10], [0, 1]]), r"outside \[0, 10\)"),
        ((2, 5, 32), torch.tensor([[0, 1]]), r"shape \(batch=2, n_keep\)"),
        ((2, 5, 32), torch.tensor([[0.0], [1.0]]), "dtype torch.int64"),
    ],
)
def test_encoder_input_errors(shape, observation, match):
    enc = _encoder(n_rois=5, depth=0)
    with pytest.raises(ValueError, match=match):
        enc(_x(*shape), observation)


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


def test_gradients_are_validated_and_stored():
    cfg, _ = model_config("tiny", n_rois=4, gradient_dim=3)
    with pytest.raises(ValueError, match=r"shape \(n_rois, gradient_dim\) = \(4, 3\)"):
        BrainJEPAEncoder(cfg, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="are required"):
        BrainJEPAEncoder(cfg, None)
    bad = torch.zeros(4, 3)
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        BrainJEPAEncoder(cfg, bad)
    grads = _grads(4)
    enc = BrainJEPAEncoder(cfg, grads, generator=_gen())
    assert torch.equal(enc.state_dict()["gradients"], grads)


# ------------------------------------------------------------------- predictor


def test_predictor_output_shape_and_target_dependence():
    pred = _predictor(n_rois=5).eval()
    z = torch.randn(2, 6, 64, generator=_gen(3))
    obs = torch.tensor([[0, 1, 2, 3, 4, 5], [9, 8, 7, 6, 5, 4]])
    tgt = torch.tensor([[10, 11, 12], [0, 1, 2]])
    with torch.no_grad():
        out = pred(z, obs, tgt, n_time_patches=3)
        other = pred(z, obs, tgt + 1, n_time_patches=3)
        perm = torch.tensor([2, 0, 1])
        permuted = pred(z, obs, tgt[:, perm], n_time_patches=3)
    assert out.shape == (2, 3, 64)
    # Different target positions give different predictions ...
    assert (out - other).abs().amax() > 1e-3
    # ... and reordering the targets reorders the predictions (one joint pass).
    assert_allclose(permuted, out[:, perm], atol=1e-5)


@pytest.mark.parametrize(
    ("obs", "tgt", "match"),
    [
        (torch.tensor([[0, 1], [2, 3]]), torch.tensor([[4], [5]]), "index the 3 rows"),
        (
            torch.tensor([[0, 1, 2], [2, 3, 4]]),
            torch.tensor([[4], [15]]),
            "target holds",
        ),
    ],
)
def test_predictor_input_errors(obs, tgt, match):
    pred = _predictor(n_rois=5)
    z = torch.randn(2, 3, 64, generator=_gen())
    with pytest.raises(ValueError, match=match):
        pred(z, obs, tgt, n_time_patches=3)


# ------------------------------------------------------------------- attention


@pytest.mark.parametrize("n_keys", [7, 12])
def test_attention_backends_agree(n_keys):
    g = _gen(5)
    q = torch.randn(2, 3, 7, 8, generator=g)
    k = torch.randn(2, 3, n_keys, 8, generator=g)
    v = torch.randn(2, 3, n_keys, 8, generator=g)
    ref = math_attention(q, k, v)
    assert_allclose(attention(q, k, v, backend="sdpa"), ref, atol=1e-5)
    assert_allclose(attention(q, k, v, backend="auto"), ref, atol=1e-5)
    assert_allclose(attention(q, k, v, backend="math"), ref, atol=0)


@pytest.mark.parametrize(
    ("backend", "device", "dtype", "available", "expected"),
    [
        ("auto", "cuda", torch.bfloat16, True, "flash"),
        ("auto", "cuda", torch.float16, True, "flash"),
        ("auto", "cuda", torch.float32, True, "sdpa"),
        ("auto", "cpu", torch.bfloat16, True, "sdpa"),
        ("auto", "cuda", torch.bfloat16, False, "sdpa"),
        ("flash", "cuda", torch.bfloat16, True, "flash"),
        ("sdpa", "cuda", torch.bfloat16, True, "sdpa"),
        ("math", "cpu", torch.float32, False, "math"),
    ],
)
def test_select_attention_backend(backend, device, dtype, available, expected):
    assert select_attention_backend(backend, device, dtype, available) == expected


@pytest.mark.parametrize(
    ("device", "dtype", "available", "head_dim", "error", "match"),
    [
        ("cuda", torch.bfloat16, False, 64, ImportError, "not installed"),
        ("cpu", torch.bfloat16, True, 64, ValueError, "needs CUDA tensors"),
        ("cuda", torch.float32, True, 64, ValueError, "float16 or bfloat16"),
        ("cuda", torch.float16, True, 512, ValueError, "head_dim <= 256"),
    ],
)
def test_select_attention_backend_flash_errors(
    device, dtype, available, head_dim, error, match
):
    with pytest.raises(error, match=match):
        select_attention_backend("flash", device, dtype, available, head_dim)


def test_select_attention_backend_unknown():
    with pytest.raises(ValueError, match="backend must be one of"):
        attention(*[torch.zeros(1, 1, 2, 4)] * 3, backend="fast")


@pytest.fixture
def fake_flash(monkeypatch):
    """Install a fake flash_attn whose kernel is the math formula in (B, N, H, hd)."""
    calls = []

    def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False):
        calls.append((tuple(q.shape), causal))
        out = math_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return out.transpose(1, 2)

    module = types.ModuleType("flash_attn")
    module.flash_attn_func = flash_attn_func
    monkeypatch.setitem(sys.modules, "flash_attn", module)
    _attention._import_flash_attn_func.cache_clear()
    yield calls
    _attention._import_flash_attn_func.cache_clear()


def test_attention_flash_dispatch_with_fake_module(fake_flash, monkeypatch):
    assert flash_attn_available()
    q = torch.randn(2, 3, 5, 8, generator=_gen(1))
    # Found, but CPU float32 is not a flash case: auto falls back, flash refuses.
    assert_allclose(
        attention(q, q, q, backend="auto"), math_attention(q, q, q), atol=1e-5
    )
    assert fake_flash == []
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        attention(q, q, q, backend="flash")
    # When the rules choose flash, the kernel gets (B, N, H, hd) and non-causal.
    monkeypatch.setattr(_attention, "select_attention_backend", lambda *a: "flash")
    out = attention(q, q, q, backend="flash")
    assert fake_flash == [((2, 5, 3, 8), False)]
    assert_allclose(out, math_attention(q, q, q), atol=1e-6)


def test_attention_flash_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "flash_attn", None)  # makes the import fail
    _attention._import_flash_attn_func.cache_clear()
    try:
        assert not flash_attn_available()
        q = torch.zeros(1, 1, 2, 4)
        with pytest.raises(ImportError, match="flash_attn package is not installed"):
            attention(q, q, q, backend="flash")
    finally:
        _attention._import_flash_attn_func.cache_clear()


# --------------------------------------------------- activation checkpointing


def test_activation_checkpointing_same_outputs_and_gradients(monkeypatch):
    plain = _encoder(n_rois=4, depth=2)
    ckpt = _encoder(n_rois=4, depth=2, activation_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    n_calls = []
    real_checkpoint = _layers.checkpoint

    def counting_checkpoint(*args, **kwargs):
        n_calls.append(kwargs.get("use_reentrant"))
        return real_checkpoint(*args, **kwargs)

    monkeypatch.setattr(_layers, "checkpoint", counting_checkpoint)
    x = _x(2, 4, 32)
    outs = []
    for model in (plain, ckpt):
        model.train()
        out = model(x)
        out.square().mean().backward()
        outs.append(out.detach())
    assert n_calls == [False, False]  # one non-reentrant checkpoint per block
    assert_allclose(outs[1], outs[0], atol=1e-6)
    grads = dict(ckpt.named_parameters())
    for name, param in plain.named_parameters():
        assert_allclose(grads[name].grad, param.grad, atol=1e-6, err_msg=name)
    ckpt.eval()
    ckpt(x)
    with torch.no_grad():
        ckpt.train()(x)
    assert len(n_calls) == 2  # not used in eval mode nor without grad


# ------------------------------------------------------- official key parity


def _official_encoder_shapes():
    """Reference section 7, ViT-B encoder (without the frozen emb_h)."""
    shapes = {
        "patch_embed.proj.weight": (768, 1, 1, 16),
        "patch_embed.proj.bias": (768,),
        "pos_embed_proj.predictor_pos_embed_proj.weight": (384, 30),
        "pos_embed_proj.predictor_pos_embed_proj.bias": (384,),
        "norm.weight": (768,),
        "norm.bias": (768,),
    }
    for i in range(12):
        shapes.update(_official_block_shapes(f"blocks.{i}", 768))
    return shapes


def _official_block_shapes(prefix, dim):
    return {
        f"{prefix}.norm1.weight": (dim,),
        f"{prefix}.norm1.bias": (dim,),
        f"{prefix}.attn.qkv.weight": (3 * dim, dim),
        f"{prefix}.attn.qkv.bias": (3 * dim,),
        f"{prefix}.attn.proj.weight": (dim, dim),
        f"{prefix}.attn.proj.bias": (dim,),
        f"{prefix}.norm2.weight": (dim,),
        f"{prefix}.norm2.bias": (dim,),
        f"{prefix}.mlp.fc1.weight": (4 * dim, dim),
        f"{prefix}.mlp.fc1.bias": (4 * dim,),
        f"{prefix}.mlp.fc2.weight": (dim, 4 * dim),
        f"{prefix}.mlp.fc2.bias": (dim,),
    }


def _official_predictor_shapes():
    shapes = {
        "predictor_embed.weight": (384, 768),
        "predictor_embed.bias": (384,),
        "mask_token": (1, 1, 384),
        "predictor_2dpe_proj.predictor_pos_embed_proj.weight": (192, 30),
        "predictor_2dpe_proj.predictor_pos_embed_proj.bias": (192,),
        "predictor_norm.weight": (384,),
        "predictor_norm.bias": (384,),
        "predictor_proj.weight": (768, 384),
        "predictor_proj.bias": (768,),
    }
    for i in range(6):
        shapes.update(_official_block_shapes(f"predictor_blocks.{i}", 384))
    return shapes


def _n_trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_base_preset_matches_official_state_dict():
    enc_cfg, pred_cfg = model_config("base", n_rois=450)
    with torch.device("meta"):  # shapes only: no memory, no init
        grads = torch.empty(450, 30)
        enc = BrainJEPAEncoder(enc_cfg, grads)
        pred = BrainJEPAPredictor(pred_cfg, grads)
    enc_shapes = {k: tuple(v.shape) for k, v in enc.state_dict().items()}
    pred_shapes = {k: tuple(v.shape) for k, v in pred.state_dict().items()}
    # 151 official tensors minus emb_h, plus our gradients buffer.
    assert enc_shapes == {**_official_encoder_shapes(), "gradients": (450, 30)}
    assert len(enc_shapes) == 151
    assert pred_shapes == {**_official_predictor_shapes(), "gradients": (450, 30)}
    assert len(pred_shapes) == 82
    assert _n_trainable(enc) == 85_080_960
    assert _n_trainable(pred) == 11_244_864


# --------------------------------------------------------- official conversion


def _to_official(module, emb_key, n_time_patches):
    """Our state dict in the official layout: `module.` prefix, emb_h, no G."""
    sd = module.state_dict()
    half = module.config.embed_dim // 2
    table = _official_time_table(module.config.n_rois, n_time_patches, 2 * half)
    out = {f"module.{k}": v.clone() for k, v in sd.items() if k != "gradients"}
    out[f"module.{emb_key}"] = torch.from_numpy(table)
    return out


def test_official_encoder_round_trip_loads_strictly():
    n_rois, n_timepoints = 5, 48
    enc = _encoder(n_rois=n_rois, seed=1).eval()
    official = _to_official(enc, "pos_embed_proj.emb_h", n_timepoints // PATCH)
    assert len(official) == len(enc.state_dict())  # emb_h replaces gradients
    converted = convert_official_encoder_state_dict(
        official, gradients=enc.gradients, n_time_patches=3
    )
    fresh = _encoder(n_rois=n_rois, seed=2).eval()
    fresh.load_state_dict(converted, strict=True)
    x = _x(2, n_rois, n_timepoints)
    with torch.no_grad():
        assert torch.equal(fresh(x), enc(x))


def test_convert_official_infers_config_and_rejects_a_whole_checkpoint():
    enc = _encoder(n_rois=5, seed=1)
    ckpt = {
        "encoder": _to_official(enc, "pos_embed_proj.emb_h", 3),
        "target_encoder": _to_official(enc, "pos_embed_proj.emb_h", 3),
        "epoch": 299,
    }
    with pytest.raises(ValueError, match="whole checkpoint"):
        convert_official_encoder_state_dict(ckpt)
    inferred = infer_encoder_config_from_state_dict(
        ckpt["target_encoder"], n_time_patches=3
    )
    assert inferred == enc.config
    converted = convert_official_encoder_state_dict(
        ckpt["target_encoder"], gradients=enc.gradients, n_time_patches=3
    )
    BrainJEPAEncoder(enc.config, enc.gradients).load_state_dict(converted)


def test_convert_official_rejects_wrong_shapes_and_tables():
    enc = _encoder(n_rois=5, seed=1)
    official = _to_official(enc, "pos_embed_proj.emb_h", 3)
    cfg = enc.config

    bad = dict(official)
    bad["module.blocks.1.mlp.fc1.weight"] = torch.zeros(128, 64)
    with pytest.raises(
        ValueError,
        match=r"'blocks.1.mlp.fc1.weight': expected shape \(256, 64\), got \(128, 64\)",
    ):
        convert_official_encoder_state_dict(bad, config=cfg, n_time_patches=3)

    bad = dict(official)
    del bad["module.norm.bias"]
    with pytest.raises(ValueError, match=r"missing keys \['norm.bias'\]"):
        convert_official_encoder_state_dict(bad, config=cfg, n_time_patches=3)

    # A table coding the ROI index instead of the time index is refused.
    bad = dict(official)
    rois = torch.arange(5).repeat_interleave(3)
    bad["module.pos_embed_proj.emb_h"] = sincos_embedding_1d(rois, 32).float()
    with pytest.raises(ValueError, match="differs from the sin-cos table"):
        convert_official_encoder_state_dict(bad, config=cfg, n_time_patches=3)

    with pytest.raises(ValueError, match=r"emb_h: expected shape \(25, 32\)"):
        convert_official_encoder_state_dict(official, config=cfg, n_time_patches=5)

    with pytest.raises(ValueError, match=r"gradients must have shape .* \(5, 3\)"):
        convert_official_encoder_state_dict(
            official, gradients=torch.zeros(5, 4), n_time_patches=3
        )


def test_infer_encoder_config_heads():
    enc = _encoder(n_rois=5, embed_dim=40, n_heads=5, predictor_n_heads=4)
    sd = enc.state_dict()
    with pytest.raises(ValueError, match="width 40.*pass n_heads"):
        infer_encoder_config_from_state_dict(sd)
    assert infer_encoder_config_from_state_dict(sd, n_heads=5) == enc.config


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


# ----------------------------------------------------------------- plumbing


def test_copy_pickle_and_bfloat16():
    enc = _encoder(n_rois=3, depth=1).eval()
    x = _x(1, 3, 32)
    with torch.no_grad():
        ref = enc(x)  # fills the sin-cos cache
        clone = pickle.loads(pickle.dumps(enc))
        assert clone.pos_embed_proj._frozen_cache == {}
        assert torch.equal(clone(x), ref)
        assert torch.equal(copy.deepcopy(enc)(x), ref)
        half = copy.deepcopy(enc).to(torch.bfloat16)
        out = half(x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    assert_allclose(out.float(), ref, atol=0.1)


def test_cuda_sdpa_excludes_cudnn_attention_and_cpu_leaves_sdpa_alone(monkeypatch):
    """cuDNN attention re-plans per sequence length (measured slow on an H200)."""
    from torch.nn.attention import SDPBackend

    from sk_brainjepa.nn import _attention

    assert SDPBackend.CUDNN_ATTENTION not in _attention._CUDA_SDPA_KERNELS
    assert SDPBackend.FLASH_ATTENTION in _attention._CUDA_SDPA_KERNELS
    assert SDPBackend.MATH in _attention._CUDA_SDPA_KERNELS  # always a fallback

    def no_restriction_on_cpu(*args, **kwargs):
        raise AssertionError("sdpa_kernel entered for CPU tensors")

    monkeypatch.setattr(_attention, "sdpa_kernel", no_restriction_on_cpu)
    q = torch.randn(1, 2, 5, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        _attention.attention(q, q, q, backend="sdpa"),
        _attention.math_attention(q, q, q),
    )
