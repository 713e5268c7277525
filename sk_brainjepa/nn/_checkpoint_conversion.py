"""Convert encoder state dicts of the official Brain-JEPA checkpoint layout.

The official ``jepa-ep300.pth.tar`` is a dict with entries ``encoder``,
``predictor``, ``target_encoder``, ``opt``, ... whose model state dicts carry the
DDP prefix ``module.`` and the frozen time sin-cos table ``pos_embed_proj.emb_h``
(docs/differences-from-official.md, "Checkpoint layout"). Our encoder uses the
same key names but recomputes the sin-cos tables and stores the gradient matrix
as a ``gradients`` buffer, so conversion is: strip the prefix, verify and drop the
sin-cos tables, check every key and shape against our encoder, add the gradients.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from sk_brainjepa.nn._config import MODEL_PRESETS, EncoderConfig
from sk_brainjepa.nn._encoder import BrainJEPAEncoder, check_gradients
from sk_brainjepa.nn._layers import roi_sincos_embedding, time_sincos_embedding

OFFICIAL_N_TIME_PATCHES = 10  # 160 frames / patch 16 in the released model
_CHECKPOINT_KEYS = {"encoder", "predictor", "target_encoder"}
# Head counts cannot be read from shapes: take the official variant's.
_ENCODER_HEADS = {p["embed_dim"]: p["n_heads"] for p in MODEL_PRESETS.values()}


def _strip_prefix(state_dict: Mapping, what: str) -> dict[str, torch.Tensor]:
    """Copy of ``state_dict`` without a DDP ``module.`` prefix, with type checks."""
    if not isinstance(state_dict, Mapping):
        raise ValueError(
            f"The {what} state dict must be a mapping; got {type(state_dict).__name__}."
        )
    if _CHECKPOINT_KEYS & set(state_dict):
        raise ValueError(
            f"Got a whole checkpoint (keys {sorted(map(str, state_dict))[:8]}...), "
            f"not a {what} state dict: pass checkpoint['target_encoder'] (or "
            "checkpoint['encoder'])."
        )
    out = {}
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{what} state dict entry {key!r} must be a tensor; got "
                f"{type(value).__name__}."
            )
        out[key.removeprefix("module.")] = value
    return out


def _require(sd: Mapping[str, torch.Tensor], key: str, ndim: int, what: str):
    if key not in sd:
        raise ValueError(
            f"Key {key!r} is missing: this does not look like a Brain-JEPA {what} "
            f"state dict (first keys: {list(sd)[:5]})."
        )
    value = sd[key]
    if value.ndim != ndim:
        raise ValueError(
            f"{key}: expected a {ndim}-D tensor; got shape {tuple(value.shape)}."
        )
    return value


def _block_depth(sd: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    ids = {int(m.group(1)) for key in sd if (m := pattern.match(key))}
    if ids != set(range(len(ids))):
        raise ValueError(f"{prefix} indices must run 0..depth-1; got {sorted(ids)}.")
    return len(ids)


def _infer_n_rois(
    sd: Mapping[str, torch.Tensor],
    emb_key: str,
    n_rois: int | None,
    n_time_patches: int,
) -> int:
    if n_rois is not None:
        return n_rois
    if emb_key in sd:
        n_rows = sd[emb_key].shape[0]
        if n_rows % n_time_patches != 0:
            raise ValueError(
                f"{emb_key} has {n_rows} rows, not a multiple of n_time_patches="
                f"{n_time_patches}; pass the right n_time_patches."
            )
        return n_rows // n_time_patches
    if "gradients" in sd:
        return int(sd["gradients"].shape[0])
    raise ValueError(
        f"Cannot infer n_rois: no {emb_key!r} or 'gradients' entry; pass n_rois."
    )


def _heads(width: int, n_heads: int | None, table: dict[int, int], what: str) -> int:
    if n_heads is not None:
        return n_heads
    if width not in table:
        raise ValueError(
            f"Cannot infer the {what} head count for width {width} (known widths: "
            f"{sorted(table)}); pass n_heads."
        )
    return table[width]


def _spatial(sd, proj_key: str) -> tuple[str, dict]:
    """roi_embedding and gradient_dim from the presence of the gradient Linear."""
    if proj_key in sd:
        return "gradient", {"gradient_dim": int(sd[proj_key].shape[1])}
    if "gradients" in sd:
        return "sincos", {"gradient_dim": int(sd["gradients"].shape[1])}
    return "sincos", {}


def infer_encoder_config_from_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    *,
    n_heads: int | None = None,
    n_rois: int | None = None,
    n_time_patches: int = OFFICIAL_N_TIME_PATCHES,
    **config_kwargs,
) -> EncoderConfig:
    """Encoder architecture read from the tensor shapes of a state dict.

    Works on the official layout (with or without ``module.``) and on ours.

    Parameters
    ----------
    state_dict : mapping of str to Tensor
        Encoder state dict.
    n_heads : int or None, default=None
        Attention heads (not visible in shapes). None: the official variant of
        that width (384 -> 6, 768 -> 12, 1024 -> 16; ours: 64 -> 4).
    n_rois : int or None, default=None
        None: rows of ``pos_embed_proj.emb_h`` divided by ``n_time_patches``, or
        rows of our ``gradients`` buffer.
    n_time_patches : int, default=10
        Time patches of the grid ``emb_h`` was built for (official: 160 / 16).
    **config_kwargs
        Non-shape fields of :class:`EncoderConfig` (``attention_backend``,
        ``activation_checkpointing``, ``norm_eps``).

    Returns
    -------
    config : EncoderConfig
    """
    sd = _strip_prefix(state_dict, "encoder")
    patch = _require(sd, "patch_embed.proj.weight", 4, "encoder")
    embed_dim, _, _, patch_size = patch.shape
    depth = _block_depth(sd, "blocks")
    extra = {}
    if depth:
        fc1 = _require(sd, "blocks.0.mlp.fc1.weight", 2, "encoder")
        extra["mlp_ratio"] = fc1.shape[0] / embed_dim
        extra["qkv_bias"] = "blocks.0.attn.qkv.bias" in sd
    roi_embedding, spatial = _spatial(
        sd, "pos_embed_proj.predictor_pos_embed_proj.weight"
    )
    kwargs = {
        "n_rois": _infer_n_rois(sd, "pos_embed_proj.emb_h", n_rois, n_time_patches),
        "patch_size": int(patch_size),
        "embed_dim": int(embed_dim),
        "depth": depth,
        "n_heads": _heads(int(embed_dim), n_heads, _ENCODER_HEADS, "encoder"),
        "roi_embedding": roi_embedding,
        **spatial,
        **extra,
        **config_kwargs,
    }
    return EncoderConfig(**kwargs)


def _check_frozen_table(
    sd: dict[str, torch.Tensor],
    key: str,
    expected: torch.Tensor,
    n_time_patches: int,
    atol: float,
) -> None:
    """Verify an official frozen sin-cos table against ours, then drop it."""
    if key not in sd:
        return
    got = sd.pop(key)
    if tuple(got.shape) != tuple(expected.shape):
        raise ValueError(
            f"{key}: expected shape {tuple(expected.shape)} (n_rois * n_time_patches, "
            f"embed_dim / 2) for n_time_patches={n_time_patches}; got "
            f"{tuple(got.shape)}."
        )
    err = float((got.detach().float().cpu() - expected).abs().max())
    if err > atol:
        raise ValueError(
            f"{key} differs from the sin-cos table we compute for n_time_patches="
            f"{n_time_patches} (max abs difference {err:.3g} > atol={atol}); wrong "
            "n_time_patches, or not a Brain-JEPA checkpoint."
        )


def _check_against(
    sd: Mapping[str, torch.Tensor], reference: torch.nn.Module, what: str
) -> None:
    """Same keys (bar ``gradients``) and shapes as ``reference``, else ValueError."""
    expected = {
        k: tuple(v.shape) for k, v in reference.state_dict().items() if k != "gradients"
    }
    got = {k: tuple(v.shape) for k, v in sd.items() if k != "gradients"}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{what} state dict does not fit our model: missing keys {missing[:10]}"
            f"{' ...' if len(missing) > 10 else ''}, unexpected keys "
            f"{unexpected[:10]}{' ...' if len(unexpected) > 10 else ''}."
        )
    for key, shape in expected.items():
        if got[key] != shape:
            raise ValueError(
                f"{what} state dict entry {key!r}: expected shape {shape}, got "
                f"{got[key]}."
            )


def _finish(
    sd: dict[str, torch.Tensor], config: EncoderConfig, gradients
) -> dict[str, torch.Tensor]:
    # A shape-only model on the meta device: no memory, no init cost.
    meta_grads = None
    if config.roi_embedding == "gradient":
        meta_grads = torch.empty(config.n_rois, config.gradient_dim, device="meta")
    with torch.device("meta"):
        reference = BrainJEPAEncoder(config, meta_grads)
    _check_against(sd, reference, "encoder")
    if gradients is not None:
        grads = check_gradients(gradients, config)
        if grads is not None:
            sd["gradients"] = grads
    elif "gradients" in sd and config.roi_embedding == "gradient":
        check_gradients(sd["gradients"], config)
    return sd


def convert_official_encoder_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    *,
    gradients: torch.Tensor | None = None,
    config: EncoderConfig | None = None,
    n_time_patches: int = OFFICIAL_N_TIME_PATCHES,
    n_heads: int | None = None,
    atol: float = 1e-5,
) -> dict[str, torch.Tensor]:
    """Convert an official encoder state dict to a :class:`BrainJEPAEncoder` one.

    Strips the DDP prefix ``module.``, checks that ``pos_embed_proj.emb_h``
    equals our time sin-cos table for ``n_time_patches`` and drops it (likewise
    ``pos_embed_proj.emb_w`` of the ``add_w='origin'`` variant), checks every key
    and shape against our encoder and adds the ``gradients`` buffer.

    Parameters
    ----------
    state_dict : mapping of str to Tensor
        ``checkpoint["target_encoder"]`` (the weights used downstream) or
        ``checkpoint["encoder"]``.
    gradients : Tensor of shape (n_rois, gradient_dim) or None, default=None
        The gradient matrix (official: ``gradient_mapping_450.csv``, 450 x 30),
        which the official checkpoint does not contain. When given, it is added
        as ``"gradients"`` so that ``load_state_dict(..., strict=True)`` works on
        an encoder built with the same gradients.
    config : EncoderConfig or None, default=None
        Our target architecture; None infers it with
        :func:`infer_encoder_config_from_state_dict`.
    n_time_patches : int, default=10
        Time patches of the official grid (160 frames / 16).
    n_heads : int or None, default=None
        Used only when ``config`` is None.
    atol : float, default=1e-5
        Tolerance of the ``emb_h`` check.

    Returns
    -------
    state_dict : dict of str to Tensor
        Our keys (values are the input tensors, not copies).

    Raises
    ------
    ValueError
        On a missing or unexpected key (named), a shape mismatch (key, expected
        and received shape) or an ``emb_h`` that is not our sin-cos table.
    """
    sd = _strip_prefix(state_dict, "encoder")
    if config is None:
        n_rois = None if gradients is None else int(torch.as_tensor(gradients).shape[0])
        config = infer_encoder_config_from_state_dict(
            sd, n_heads=n_heads, n_rois=n_rois, n_time_patches=n_time_patches
        )
    half = config.embed_dim // 2
    _check_frozen_table(
        sd,
        "pos_embed_proj.emb_h",
        time_sincos_embedding(config.n_rois, n_time_patches, half),
        n_time_patches,
        atol,
    )
    _check_frozen_table(
        sd,
        "pos_embed_proj.emb_w",
        roi_sincos_embedding(config.n_rois, n_time_patches, half),
        n_time_patches,
        atol,
    )
    return _finish(sd, config, gradients)
