"""Official state-dict parity and conversion."""

import pytest
import torch

from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAPredictor,
    convert_official_encoder_state_dict,
    infer_encoder_config_from_state_dict,
    model_config,
    sincos_embedding_1d,
)

from ._helpers import PATCH, _encoder, _official_time_table, _x


# ------------------------------------------------------- official key parity
def _official_encoder_shapes():
    """Official ViT-B encoder key shapes (docs/differences-from-official.md,
    "Checkpoint layout"), without the frozen emb_h."""
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
