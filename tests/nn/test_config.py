"""Encoder and predictor configurations, the model presets."""

import pytest

from sk_brainjepa.nn import MODEL_PRESETS, EncoderConfig, PredictorConfig, model_config


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
