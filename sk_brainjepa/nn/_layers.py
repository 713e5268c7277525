"""Building blocks: sin-cos codes, patch embedding, gradient positioning, blocks.

Attribute names follow the official Brain-JEPA state dict (official repository
file ``src/models/vision_transformer.py``), so that its checkpoints load key for
key: ``patch_embed.proj``, ``norm1``,
``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2`` and the
gradient projection ``predictor_pos_embed_proj`` (the official name, even inside
the encoder).

Seeded initialisation: the one idiom
------------------------------------
Every module of the package that owns weights (here, in ``baselines`` and in
any new module) is built the same way, so that the same ``torch.Generator``
seed gives the same weights and library code never reads or advances the
global torch RNG:

1. **Build shape-only.** Declare the submodules and parameters inside
   ``with torch.device("meta"):``. ``nn.Linear``, ``nn.LayerNorm``,
   ``nn.TransformerEncoderLayer`` & co. initialise themselves from the global
   RNG in their constructors; on the meta device they allocate nothing and
   draw nothing. (Not ``torch.random.fork_rng``, which still runs the wasted
   draws and reads and rewrites the global state.)
2. **Allocate.** :func:`materialize_` moves the meta tensors, uninitialised,
   to the current default device (honouring an outer ``with torch.device``).
3. **Draw.** ``self.reset_parameters(generator)`` fills every parameter and
   buffer: it resolves the generator once with :func:`fresh_generator`
   (``None`` gives a fresh OS seed, never the global RNG) and draws, in a fixed
   order, only through the helpers below, :func:`trunc_normal_init_`,
   :func:`glorot_uniform_` and :func:`init_weights_`, which all take the
   generator explicitly.

Constructors take ``generator=None`` as a keyword and pass it on to step 3.
A module built inside an outer ``with torch.device("meta")`` (a shape-only
model, e.g. to check a state dict's keys) stays on the meta device: the
helpers skip meta tensors, so nested modules draw nothing until the outermost
one allocates and resets them all. The helpers draw on the generator's device
in float32 and copy, so a seed gives the same weights on any device and dtype.
``torch.nn.init`` takes ``generator=`` too, but its functions draw on the
tensor's device and infer the fans from the shape, and ``xavier_uniform_``
rounds its bound differently from :func:`glorot_uniform_`, so it would not give
the same numbers.

``tests/nn/test_init_idiom.py`` checks, for every module family, that the same
seed gives the same weights and that construction leaves the global RNG alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from sk_brainjepa.nn._attention import attention

# --------------------------------------------------------------------------- init


def fresh_generator(generator: torch.Generator | None) -> torch.Generator:
    """``generator`` itself, or a new CPU generator seeded from OS entropy.

    Never falls back to the global torch RNG.
    """
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise ValueError(
                f"generator must be a torch.Generator or None; got "
                f"{type(generator).__name__}."
            )
        return generator
    fresh = torch.Generator()
    fresh.seed()
    return fresh


def default_device() -> torch.device:
    """Device new tensors go to here (honours ``with torch.device(...)``)."""
    return torch.empty(0).device


def materialize_(
    module: nn.Module, device: torch.device | str | None = None
) -> nn.Module:
    """Allocate a module built on the meta device, uninitialised, in place.

    Step 2 of the package's initialisation idiom (module docstring of
    ``sk_brainjepa.nn._layers``: build inside ``with torch.device("meta")``,
    ``materialize_``, then ``reset_parameters(generator)``): the values
    are garbage until ``reset_parameters(generator)`` draws them. Under an
    outer ``with torch.device("meta")`` the default device is meta and the
    module stays shape-only.

    Parameters
    ----------
    module : nn.Module
        Built inside ``with torch.device("meta")``.
    device : torch.device, str or None, default=None
        Where to allocate; None: the current default device.

    Returns
    -------
    module : nn.Module
        The same module.
    """
    return module.to_empty(device=default_device() if device is None else device)


def glorot_uniform_(
    tensor: torch.Tensor,
    fan_in: int,
    fan_out: int,
    generator: torch.Generator | None = None,
    gain: float = 1.0,
) -> torch.Tensor:
    """Fill ``tensor`` in place with Glorot-uniform values for the given fans.

    Draws U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))``: the
    Glorot/Xavier uniform rule with the fans given explicitly, because weights
    such as BrainNetCNN's ``(out, in, n_rois)`` filters or a packed q/k/v
    matrix do not encode their fans in their shape the way
    ``torch.nn.init.xavier_uniform_`` expects (which also rounds the bound
    differently). Values are drawn in float32 on the generator's device and
    copied in, so the same seed gives the same weights on any device. Meta
    tensors are left alone (shape-only models).

    Parameters
    ----------
    tensor : torch.Tensor
        Tensor to fill (any shape).
    fan_in, fan_out : int
        Inputs summed into one output, and outputs one input feeds.
    generator : torch.Generator or None, default=None
        Source of randomness; None draws a fresh OS seed (never the global
        torch RNG).
    gain : float, default=1.0
        Multiplier of the bound.

    Returns
    -------
    tensor : torch.Tensor
        The same tensor, filled.
    """
    if tensor.device.type == "meta":
        return tensor
    generator = fresh_generator(generator)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        values = torch.empty(tensor.shape, device=generator.device)
        values.uniform_(-bound, bound, generator=generator)
        tensor.copy_(values)
    return tensor


def trunc_normal_init_(
    tensor: torch.Tensor,
    std: float = 0.02,
    generator: torch.Generator | None = None,
    bound: float = 2.0,
) -> torch.Tensor:
    """Fill ``tensor`` with normal(0, std) draws; any outside +-bound are redrawn.

    At the std the models use, 0.02, the official absolute bounds of +-2 lie
    100 standard deviations out: no draw ever falls outside, nothing is
    redrawn, and the result is exactly ``normal_(0, std, generator=generator)``.
    The truncation only acts when ``bound`` is within a few ``std`` (e.g.
    ``std=1, bound=0.5``); the entries outside are then redrawn until none
    remain, which samples the truncated normal exactly.

    Not ``torch.nn.init.trunc_normal_(..., generator=)``: torch 2.13 draws the
    same values at these settings (it also starts with ``normal_``), but
    releases before its 2026 rewrite, which the package supports (torch >=
    2.1), use the inverse-CDF method (``uniform_`` then ``erfinv_``) and would
    give other weights from the same seed. The values are drawn on the
    generator's device (CPU by default) in float32 and copied in, so the same
    seed gives the same weights on any device, dtype and torch version. Meta
    tensors are left alone (shape-only models). ``generator=None`` draws a
    fresh OS seed (never the global torch RNG).
    """
    if tensor.device.type == "meta":
        return tensor
    generator = fresh_generator(generator)
    device = generator.device
    with torch.no_grad():
        # Draw straight into the tensor when it already lives where the draws
        # happen, in float32; else draw aside and copy.
        direct = tensor.device == device and tensor.dtype == torch.float32
        values = tensor if direct else torch.empty(tensor.shape, device=device)
        values.normal_(0.0, std, generator=generator)
        while True:
            lo, hi = torch.aminmax(values)
            if lo >= -bound and hi <= bound:
                break
            outside = values.abs() > bound
            redraw = torch.empty(int(outside.sum()), device=device)
            values[outside] = redraw.normal_(0.0, std, generator=generator)
        if not direct:
            tensor.copy_(values)
    return tensor


_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def init_weights_(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """Official effective init of every Linear, Conv2d and LayerNorm in ``module``.

    Linear and Conv2d weights get trunc-normal(std=0.02), biases 0; LayerNorm
    weight 1, bias 0. The official class init also divides ``attn.proj`` and
    ``mlp.fc2`` by sqrt(2 * layer), but its ``init_model`` (official repository
    file ``src/helper.py``) re-initialises all Linear layers afterwards, which
    undoes that, so we do not rescale. BatchNorm layers get their own reset
    (running mean 0, variance 1, affine weight 1 and bias 0), which draws
    nothing: after :func:`materialize_` their buffers hold garbage too.

    Parameters
    ----------
    module : nn.Module
        Initialised in place, submodules in :meth:`~torch.nn.Module.modules`
        order.
    generator : torch.Generator or None, default=None
        Source of randomness; None draws a fresh OS seed per tensor (never the
        global torch RNG).
    """
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, nn.Conv2d)):
            trunc_normal_init_(sub.weight, std=0.02, generator=generator)
            if sub.bias is not None:
                with torch.no_grad():
                    sub.bias.zero_()
        elif isinstance(sub, nn.LayerNorm):
            with torch.no_grad():
                if sub.weight is not None:
                    sub.weight.fill_(1.0)
                if sub.bias is not None:
                    sub.bias.zero_()
        elif isinstance(sub, _BATCH_NORMS):
            sub.reset_parameters()  # constants only: no draw


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
