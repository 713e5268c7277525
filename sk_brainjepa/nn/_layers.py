"""Building blocks: sin-cos codes, patch embedding, gradient positioning, blocks.

Attribute names follow the official Brain-JEPA state dict (official repository
file ``src/models/vision_transformer.py``), so that its checkpoints load key for
key: ``patch_embed.proj``, ``norm1``,
``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2`` and the
gradient projection ``predictor_pos_embed_proj`` (the official name, even inside
the encoder).

Their weights are drawn by the owning model with the seeded-initialisation
idiom documented in ``sk_brainjepa.nn._init``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from sk_brainjepa.nn._attention import attention

# ------------------------------------------------------------------ sin-cos codes


def sincos_embedding_1d(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sin-cos code of integer positions, computed in float64.

    For ``k < dim / 2``: ``out[n, k] = sin(p_n * 10000 ** (-k / (dim / 2)))`` and
    ``out[n, dim / 2 + k] = cos(p_n * 10000 ** (-k / (dim / 2)))`` (the official
    Brain-JEPA / I-JEPA / MAE formula).

    Parameters
    ----------
    positions : Tensor of shape (n_positions,)
        Positions (any numeric dtype).
    dim : int
        Even code width.

    Returns
    -------
    code : Tensor of shape (n_positions, dim), float64
    """
    if dim % 2 != 0 or dim < 2:
        raise ValueError(f"dim must be a positive even integer; got {dim}.")
    half = dim // 2
    freqs = 1.0 / 10000.0 ** (torch.arange(half, dtype=torch.float64) / half)
    angles = positions.to(dtype=torch.float64, device="cpu").reshape(-1, 1) * freqs
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def time_sincos_embedding(n_rois: int, n_time_patches: int, dim: int) -> torch.Tensor:
    """Frozen time half of the positional embedding (official ``emb_h``).

    Row ``n = r * n_time_patches + t`` holds the sin-cos code of the time-patch
    index ``t`` (despite the official name ``emb_h``, it encodes time).

    Returns
    -------
    code : Tensor of shape (n_rois * n_time_patches, dim), float32
        Computed in float64, then cast, as the official numpy code.
    """
    per_time = sincos_embedding_1d(torch.arange(n_time_patches), dim)  # (W, dim)
    return per_time.repeat(n_rois, 1).to(torch.float32)  # row r*W + t -> code[t]


def roi_sincos_embedding(n_rois: int, n_time_patches: int, dim: int) -> torch.Tensor:
    """Frozen sin-cos code of the ROI index (official ``add_w='origin'``).

    Returns
    -------
    code : Tensor of shape (n_rois * n_time_patches, dim), float32
        Row ``n = r * n_time_patches + t`` holds the code of ``r``.
    """
    per_roi = sincos_embedding_1d(torch.arange(n_rois), dim)  # (R, dim)
    return per_roi.repeat_interleave(n_time_patches, dim=0).to(torch.float32)


# ------------------------------------------------------------------------ modules


class PatchEmbed(nn.Module):
    """Cut each ROI series into patches of ``patch_size`` frames and embed them.

    ``proj`` is a ``Conv2d(1, D, (1, p), stride=(1, p))``, equivalent to one Linear
    on every patch; kept as a convolution for state-dict parity with the official
    ``patch_embed.proj.weight`` of shape (D, 1, 1, p).

    Parameters
    ----------
    patch_size : int
        Frames per patch ``p``.
    embed_dim : int
        Token width ``D``.
    """

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(
            1, embed_dim, kernel_size=(1, patch_size), stride=(1, patch_size)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed patches.

        Parameters
        ----------
        x : Tensor of shape (batch, n_rois, n_timepoints)
            ``n_timepoints`` must be a multiple of ``patch_size``.

        Returns
        -------
        tokens : Tensor of shape (batch, n_rois * n_time_patches, embed_dim)
            Token ``n = roi * n_time_patches + t``.
        """
        _, _, n_timepoints = x.shape
        if n_timepoints % self.patch_size != 0:
            raise ValueError(
                f"The number of time points T={n_timepoints} must be a multiple of "
                f"patch_size={self.patch_size}; crop or resample the series."
            )
        x = self.proj(x.unsqueeze(1))  # (B, D, R, W)
        return x.flatten(2).transpose(1, 2)  # (B, R*W, D), ROI-major


class BrainPositionalEmbedding(nn.Module):
    """Positional embedding ``[time sin-cos | spatial code]`` of shape (R*W, D).

    The first ``D/2`` channels are the frozen sin-cos code of the time-patch index.
    The last ``D/2`` are, for ``roi_embedding="gradient"`` (Brain-JEPA's brain
    gradient positioning), the gradients ``G`` (R, m) through the trainable
    ``predictor_pos_embed_proj = Linear(m, D/2)``, repeated for each time patch
    and min-max scaled to [-1, 1] with one global min and max (differentiable);
    for ``roi_embedding="sincos"``, a frozen sin-cos code of the ROI index.

    Parameters
    ----------
    embed_dim : int
        Width ``D`` (divisible by 4).
    n_rois : int
        Number of ROIs ``R``.
    gradient_dim : int
        Gradient components ``m``.
    roi_embedding : {"gradient", "sincos"}
        Spatial code.
    """

    def __init__(
        self, embed_dim: int, n_rois: int, gradient_dim: int, roi_embedding: str
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.n_rois = n_rois
        self.roi_embedding = roi_embedding
        if roi_embedding == "gradient":
            # Official attribute name, kept for key parity (also in the encoder).
            self.predictor_pos_embed_proj = nn.Linear(gradient_dim, embed_dim // 2)
        # Frozen sin-cos parts depend only on (W, device); recomputing them in
        # float64 on the CPU and copying every step would be wasteful.
        self._frozen_cache: dict[tuple, torch.Tensor] = {}

    def __getstate__(self) -> dict:
        # The cache is derived data: keep it out of pickles and deep copies.
        state = self.__dict__.copy()
        state["_frozen_cache"] = {}
        return state

    def _frozen(self, kind: str, n_time_patches: int, device: torch.device):
        key = (kind, n_time_patches, str(device))
        if key not in self._frozen_cache:
            make = time_sincos_embedding if kind == "time" else roi_sincos_embedding
            code = make(self.n_rois, n_time_patches, self.embed_dim // 2)
            self._frozen_cache[key] = code.to(device)
        return self._frozen_cache[key]

    def gradient_code(self, gradients: torch.Tensor) -> torch.Tensor:
        """Min-max scaled projected gradients, one row per ROI.

        Parameters
        ----------
        gradients : Tensor of shape (n_rois, gradient_dim)

        Returns
        -------
        code : Tensor of shape (n_rois, embed_dim / 2), values in [-1, 1]
            Repeating rows does not change the global min and max, so scaling
            per ROI equals the official scaling of the repeated (R*W, D/2) matrix.
        """
        proj = self.predictor_pos_embed_proj(gradients)
        lo, hi = proj.min(), proj.max()
        # Official formula; the floor only avoids 0/0 for a constant projection
        # (e.g. all-zero gradients) and changes nothing otherwise.
        span = (hi - lo).clamp_min(torch.finfo(proj.dtype).tiny)
        return 2.0 * (proj - lo) / span - 1.0

    def forward(
        self,
        gradients: torch.Tensor | None,
        n_time_patches: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """Positional embedding for a grid of ``n_rois`` x ``n_time_patches``.

        Parameters
        ----------
        gradients : Tensor of shape (n_rois, gradient_dim) or None
            Required for ``roi_embedding="gradient"``, ignored otherwise.
        n_time_patches : int
            Time patches per ROI ``W``.
        device : torch.device, default=None
            Device of the output; default: that of ``gradients`` (gradient mode)
            or CPU (sincos mode).
        dtype : torch.dtype, default=None
            Dtype of the output; default: that of the projection weight (gradient
            mode) or float32. Pass the model's parameter dtype: under autocast the
            result then stays float32 like the official code's (its float32
            ``emb_h`` promotes the concatenation), which keeps the residual
            stream in float32.

        Returns
        -------
        pos : Tensor of shape (n_rois * n_time_patches, embed_dim)
            Row ``n = r * W + t``; first half time, second half spatial.
        """
        if self.roi_embedding == "gradient":
            if gradients is None:
                raise ValueError("gradients are required for roi_embedding='gradient'.")
            if dtype is None:
                dtype = self.predictor_pos_embed_proj.weight.dtype
            spatial = self.gradient_code(gradients)  # (R, D/2)
            spatial = spatial.repeat_interleave(n_time_patches, dim=0)  # (R*W, D/2)
            device = spatial.device
        else:
            device = torch.device("cpu") if device is None else torch.device(device)
            dtype = torch.float32 if dtype is None else dtype
            spatial = self._frozen("roi", n_time_patches, device)
        time = self._frozen("time", n_time_patches, device)
        return torch.cat([time.to(dtype), spatial.to(dtype)], dim=1)


class MLP(nn.Module):
    """``fc1 -> GELU (exact erf) -> fc2``."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection.

    Parameters
    ----------
    dim : int
        Token width.
    n_heads : int
        Heads; ``dim`` must be divisible by it.
    qkv_bias : bool, default=True
        Bias in ``qkv``.
    backend : {"auto", "flash", "sdpa", "math"}, default="auto"
        Passed to :func:`sk_brainjepa.nn.attention`.
    """

    def __init__(
        self, dim: int, n_heads: int, qkv_bias: bool = True, backend: str = "auto"
    ) -> None:
        super().__init__()
        if dim % n_heads != 0:
            raise ValueError(f"dim={dim} must be divisible by n_heads={n_heads}.")
        self.n_heads = n_heads
        self.backend = backend
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n_tokens, dim = x.shape
        head_dim = dim // self.n_heads
        qkv = self.qkv(x).reshape(batch, n_tokens, 3, self.n_heads, head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, N, hd)
        out = attention(q, k, v, backend=self.backend)  # (B, H, N, hd)
        out = out.transpose(1, 2).reshape(batch, n_tokens, dim)
        return self.proj(out)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``.

    Parameters
    ----------
    dim : int
        Token width.
    n_heads : int
        Attention heads.
    mlp_ratio : float, default=4.0
        MLP hidden width ``int(dim * mlp_ratio)``.
    qkv_bias : bool, default=True
        Bias in ``attn.qkv``.
    norm_eps : float, default=1e-6
        LayerNorm epsilon.
    attention_backend : str, default="auto"
        See :func:`sk_brainjepa.nn.attention`.
    activation_checkpointing : bool, default=False
        Recompute this block's activations during backward instead of storing
        them; active only in training mode with gradients enabled.
    """

    def __init__(
        self,
        dim: int,
        n_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        attention_backend: str = "auto",
        activation_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        self.activation_checkpointing = activation_checkpointing
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(
            dim, n_heads, qkv_bias=qkv_bias, backend=attention_backend
        )
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


def check_indices(
    indices: torch.Tensor, name: str, batch_size: int, n_tokens: int
) -> None:
    """Validate a (batch, K) LongTensor of flat token indices in [0, n_tokens)."""
    if not isinstance(indices, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.LongTensor of shape (batch, n_keep); got "
            f"{type(indices).__name__}."
        )
    if indices.dtype != torch.long:
        raise ValueError(f"{name} must have dtype torch.int64; got {indices.dtype}.")
    if indices.ndim != 2 or indices.shape[0] != batch_size:
        raise ValueError(
            f"{name} must have shape (batch={batch_size}, n_keep); got "
            f"{tuple(indices.shape)}."
        )
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= n_tokens):
        raise ValueError(
            f"{name} holds token indices outside [0, {n_tokens}): min "
            f"{int(indices.min())}, max {int(indices.max())}."
        )
