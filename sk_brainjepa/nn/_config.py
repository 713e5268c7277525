"""Frozen configuration dataclasses and size presets for the encoder and predictor.

A config fixes every parameter shape of a module, so that ``asdict(config)`` is all
a checkpoint needs (besides the state dict) to rebuild the module. The token grid's
time axis is *not* part of the config: the number of time patches ``W`` is read from
the input at forward time, so one model serves any ``T`` that is a multiple of
``patch_size``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sk_brainjepa._utils._validation import check_int

ROI_EMBEDDINGS = ("gradient", "sincos")
ATTENTION_BACKENDS = ("auto", "flash", "sdpa", "math")


def _check_common(cfg: EncoderConfig | PredictorConfig) -> None:
    """Checks shared by both configs (width, heads, options)."""
    owner = type(cfg).__name__  # says which module a preset combination broke
    check_int(cfg.n_rois, "n_rois", 1, owner=f"{owner}: ")
    check_int(cfg.gradient_dim, "gradient_dim", 1, owner=f"{owner}: ")
    check_int(cfg.embed_dim, "embed_dim", 1, owner=f"{owner}: ")
    check_int(cfg.depth, "depth", 0, owner=f"{owner}: ")
    check_int(cfg.n_heads, "n_heads", 1, owner=f"{owner}: ")
    if cfg.embed_dim % cfg.n_heads != 0:
        raise ValueError(
            f"{owner}: embed_dim={cfg.embed_dim} must be divisible by "
            f"n_heads={cfg.n_heads}."
        )
    # Half of the width is the time sin-cos code, whose own halves are sin and cos.
    if cfg.embed_dim % 4 != 0:
        raise ValueError(
            f"{owner}: embed_dim={cfg.embed_dim} must be divisible by 4 (the sin-cos "
            "time embedding uses embed_dim / 2 channels split into sin and cos)."
        )
    if not cfg.mlp_ratio > 0:
        raise ValueError(f"{owner}: mlp_ratio must be > 0; got {cfg.mlp_ratio!r}.")
    if int(cfg.embed_dim * cfg.mlp_ratio) < 1:
        raise ValueError(
            f"{owner}: embed_dim * mlp_ratio = {cfg.embed_dim} * {cfg.mlp_ratio} "
            "gives an empty MLP hidden layer."
        )
    if not cfg.norm_eps > 0:
        raise ValueError(f"{owner}: norm_eps must be > 0; got {cfg.norm_eps!r}.")
    if cfg.roi_embedding not in ROI_EMBEDDINGS:
        raise ValueError(
            f"{owner}: roi_embedding must be one of {ROI_EMBEDDINGS}; got "
            f"{cfg.roi_embedding!r}."
        )
    if cfg.attention_backend not in ATTENTION_BACKENDS:
        raise ValueError(
            f"{owner}: attention_backend must be one of {ATTENTION_BACKENDS}; "
            f"got {cfg.attention_backend!r}."
        )


@dataclass(frozen=True, kw_only=True)
class EncoderConfig:
    """Architecture of a :class:`BrainJEPAEncoder`.

    Parameters
    ----------
    n_rois : int
        Number of ROIs ``R`` (rows of the input and of the gradient matrix).
    gradient_dim : int, default=30
        Number of gradient components ``m`` (columns of the gradient matrix).
    patch_size : int, default=16
        Time points per token. Inputs must have ``T`` a multiple of it.
    embed_dim : int, default=768
        Token width ``D``; divisible by ``n_heads`` and by 4.
    depth : int, default=12
        Number of transformer blocks.
    n_heads : int, default=12
        Attention heads.
    mlp_ratio : float, default=4.0
        MLP hidden width is ``int(embed_dim * mlp_ratio)``.
    qkv_bias : bool, default=True
        Bias in the fused query/key/value projection.
    norm_eps : float, default=1e-6
        LayerNorm epsilon.
    roi_embedding : {"gradient", "sincos"}, default="gradient"
        Spatial half of the positional embedding: brain-gradient positioning
        (Brain-JEPA) or a frozen sin-cos code of the ROI index (ablation; the
        official ``add_w='origin'``).
    attention_backend : {"auto", "flash", "sdpa", "math"}, default="auto"
        See :func:`sk_brainjepa.nn.attention`.
    activation_checkpointing : bool, default=False
        Recompute block activations in the backward pass (saves memory; used only
        in training mode with gradients enabled).
    patch_gain : float, default=1.0
        Factor on the patch embedding before the positional code is added.
        With the official init the content of a unit-variance patch has an RMS
        about 9x below the positional code's, so the tokens (and the targets)
        are mostly position; a gain rebalances content against position.
        1.0 is the paper's model.
    """

    n_rois: int
    gradient_dim: int = 30
    patch_size: int = 16
    embed_dim: int = 768
    depth: int = 12
    n_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    norm_eps: float = 1e-6
    roi_embedding: str = "gradient"
    attention_backend: str = "auto"
    activation_checkpointing: bool = False
    patch_gain: float = 1.0

    def __post_init__(self) -> None:
        _check_common(self)
        check_int(self.patch_size, "patch_size", 1, owner="EncoderConfig: ")
        gain = self.patch_gain
        if (
            isinstance(gain, bool)
            or not isinstance(gain, (int, float))
            or not 0 < gain < float("inf")
        ):
            raise ValueError(
                f"EncoderConfig: patch_gain must be a finite number > 0; got {gain!r}."
            )


@dataclass(frozen=True, kw_only=True)
class PredictorConfig:
    """Architecture of a :class:`BrainJEPAPredictor`.

    Parameters
    ----------
    n_rois : int
        Number of ROIs ``R``.
    encoder_dim : int
        Width of the encoder features the predictor reads and predicts.
    gradient_dim : int, default=30
        Number of gradient components ``m``.
    embed_dim : int, default=384
        Predictor width; divisible by ``n_heads`` and by 4.
    depth : int, default=6
        Number of transformer blocks.
    n_heads : int, default=12
        Attention heads (the official code reuses the encoder's head count).
    mlp_ratio, qkv_bias, norm_eps, roi_embedding, attention_backend, \
activation_checkpointing
        As in :class:`EncoderConfig`.
    """

    n_rois: int
    encoder_dim: int
    gradient_dim: int = 30
    embed_dim: int = 384
    depth: int = 6
    n_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    norm_eps: float = 1e-6
    roi_embedding: str = "gradient"
    attention_backend: str = "auto"
    activation_checkpointing: bool = False

    def __post_init__(self) -> None:
        _check_common(self)
        check_int(self.encoder_dim, "encoder_dim", 1, owner="PredictorConfig: ")


# Widths, depths and heads of the official ViT variants (official repository file
# src/models/vision_transformer.py; docs/differences-from-official.md); the
# predictor reuses the encoder's head count there. "tiny" is ours, for tests and
# CPU demos.
MODEL_PRESETS: dict[str, dict[str, int]] = {
    "tiny": {
        "embed_dim": 64,
        "depth": 2,
        "n_heads": 4,
        "predictor_embed_dim": 32,
        "predictor_depth": 2,
        "predictor_n_heads": 4,
    },
    "small": {
        "embed_dim": 384,
        "depth": 12,
        "n_heads": 6,
        "predictor_embed_dim": 192,
        "predictor_depth": 6,
        "predictor_n_heads": 6,
    },
    "base": {
        "embed_dim": 768,
        "depth": 12,
        "n_heads": 12,
        "predictor_embed_dim": 384,
        "predictor_depth": 6,
        "predictor_n_heads": 12,
    },
    "large": {
        "embed_dim": 1024,
        "depth": 24,
        "n_heads": 16,
        "predictor_embed_dim": 384,
        "predictor_depth": 12,
        "predictor_n_heads": 16,
    },
}

# Options that both modules share; `model_config` applies them to both unless a
# `predictor_`-prefixed override says otherwise.
_SHARED = (
    "gradient_dim",
    "mlp_ratio",
    "qkv_bias",
    "norm_eps",
    "roi_embedding",
    "attention_backend",
    "activation_checkpointing",
)


def model_config(
    preset: str = "base", *, n_rois: int, **overrides: Any
) -> tuple[EncoderConfig, PredictorConfig]:
    """Encoder and predictor configs for a named size, with any field overridden.

    Parameters
    ----------
    preset : {"tiny", "small", "base", "large"}, default="base"
        Size preset, see ``MODEL_PRESETS``.
    n_rois : int
        Number of ROIs.
    **overrides
        Encoder fields by name (``embed_dim``, ``depth``, ``n_heads``,
        ``patch_size``, ``mlp_ratio``, ``qkv_bias``, ``norm_eps``,
        ``gradient_dim``, ``roi_embedding``, ``attention_backend``,
        ``activation_checkpointing``) and predictor fields with the prefix
        ``predictor_`` (``predictor_embed_dim``, ``predictor_depth``,
        ``predictor_n_heads``, ``predictor_mlp_ratio``, ...). Shared options
        (everything but width, depth and heads) apply to both modules unless
        the ``predictor_`` form is given. ``predictor_n_heads=None`` (the
        default unless the preset or an override sets it) means "same as the
        encoder", as in the official code.

    Returns
    -------
    encoder_config : EncoderConfig
    predictor_config : PredictorConfig

    Examples
    --------
    >>> enc, pred = model_config("tiny", n_rois=10, depth=1)
    >>> enc.embed_dim, enc.depth, pred.encoder_dim, pred.n_heads
    (64, 1, 64, 4)
    """
    if preset not in MODEL_PRESETS:
        raise ValueError(
            f"Unknown preset {preset!r}; expected one of {sorted(MODEL_PRESETS)}."
        )
    enc_fields = {f.name for f in fields(EncoderConfig)} - {"n_rois"}
    pred_fields = {f.name for f in fields(PredictorConfig)} - {"n_rois", "encoder_dim"}
    allowed = enc_fields | {f"predictor_{name}" for name in pred_fields}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(
            f"Unknown model_config override(s) {unknown}; allowed: {sorted(allowed)}."
        )
    values = {**MODEL_PRESETS[preset], **overrides}
    # An explicit encoder head count without a predictor one: follow the encoder.
    if "n_heads" in overrides and "predictor_n_heads" not in overrides:
        values["predictor_n_heads"] = None

    enc_kwargs = {k: values[k] for k in enc_fields if k in values}
    encoder = EncoderConfig(n_rois=n_rois, **enc_kwargs)

    pred_kwargs = {k: values[k] for k in _SHARED if k in values}
    for name in pred_fields:
        if f"predictor_{name}" in values:
            pred_kwargs[name] = values[f"predictor_{name}"]
    if pred_kwargs.get("n_heads") is None:
        pred_kwargs["n_heads"] = encoder.n_heads
    predictor = PredictorConfig(
        n_rois=n_rois, encoder_dim=encoder.embed_dim, **pred_kwargs
    )
    return encoder, predictor
