"""The Brain-JEPA context / target encoder (a ViT over ROI x time-patch tokens)."""

from __future__ import annotations

import logging
from numbers import Integral

import torch
from torch import nn

from sk_brainjepa.masking import apply_masks
from sk_brainjepa.nn._config import EncoderConfig, PredictorConfig
from sk_brainjepa.nn._init import (
    default_device,
    fresh_generator,
    init_weights_,
    materialize_,
)
from sk_brainjepa.nn._layers import (
    Block,
    BrainPositionalEmbedding,
    PatchEmbed,
    check_indices,
)

logger = logging.getLogger(__name__)


def check_gradients(
    gradients, config: EncoderConfig | PredictorConfig
) -> torch.Tensor | None:
    """Validate the gradient matrix against ``config``; float32 tensor or None.

    ``roi_embedding="sincos"`` ignores gradients (returns None).
    """
    if config.roi_embedding != "gradient":
        if gradients is not None:
            logger.debug(
                "roi_embedding=%r: ignoring the gradients.", config.roi_embedding
            )
        return None
    if gradients is None:
        raise ValueError(
            "gradients of shape (n_rois, gradient_dim) = "
            f"({config.n_rois}, {config.gradient_dim}) are required for "
            "roi_embedding='gradient'."
        )
    grads = torch.as_tensor(gradients)
    expected = (config.n_rois, config.gradient_dim)
    if tuple(grads.shape) != expected:
        raise ValueError(
            f"gradients must have shape (n_rois, gradient_dim) = {expected}; got "
            f"{tuple(grads.shape)}."
        )
    if not grads.is_floating_point():
        grads = grads.to(torch.float32)
    if grads.device.type != "meta" and not bool(torch.isfinite(grads).all()):
        raise ValueError("gradients contain NaN or infinite values.")
    return grads.detach().to(torch.float32).clone()


class _GradientTransformer(nn.Module):
    """The build the encoder and the predictor share.

    Checks ``config`` against ``_config_type``, validates the gradients, then
    follows the package's initialisation idiom (module docstring of
    ``sk_brainjepa.nn._init``): builds the layers of ``_build`` shape-only on
    the meta device, allocates them on the current default device, stores the
    gradients as the persistent buffer ``gradients`` and draws the weights
    with ``reset_parameters(generator)``.
    """

    _config_type: type = EncoderConfig

    def __init__(
        self,
        config: EncoderConfig | PredictorConfig,
        gradients: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(config, self._config_type):
            name = self._config_type.__name__
            article = "an" if name[0] in "AEIOU" else "a"
            raise ValueError(
                f"config must be {article} {name}; got {type(config).__name__}."
            )
        self.config = config
        grads = check_gradients(gradients, config)
        # The initialisation idiom: shape-only build, allocate, draw.
        with torch.device("meta"):
            self._build(config)
        materialize_(self)
        if grads is not None:
            grads = grads.to(default_device())
        self.register_buffer("gradients", grads, persistent=True)
        self.reset_parameters(generator)

    def _build(self, config) -> None:
        raise NotImplementedError

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        raise NotImplementedError

    def _blocks(self, dim: int) -> nn.ModuleList:
        """``config.depth`` transformer blocks of width ``dim``."""
        config = self.config
        return nn.ModuleList(
            Block(
                dim,
                config.n_heads,
                mlp_ratio=config.mlp_ratio,
                qkv_bias=config.qkv_bias,
                norm_eps=config.norm_eps,
                attention_backend=config.attention_backend,
                activation_checkpointing=config.activation_checkpointing,
            )
            for _ in range(config.depth)
        )


class BrainJEPAEncoder(_GradientTransformer):
    """Brain-JEPA encoder: patch embedding, gradient positioning, ViT blocks, norm.

    Parameters
    ----------
    config : EncoderConfig
        Architecture.
    gradients : Tensor of shape (n_rois, gradient_dim) or None, default=None
        Brain gradients ``G`` (group-level, shared by all subjects). Stored as the
        persistent buffer ``gradients`` (so our checkpoints carry it). Required
        for ``roi_embedding="gradient"``; ignored for ``"sincos"``.
    generator : torch.Generator or None, default=None
        Source of the initial weights; None draws a fresh seed from the OS (the
        global torch RNG is never used or changed).

    Attributes
    ----------
    patch_embed : PatchEmbed
    pos_embed_proj : BrainPositionalEmbedding
        Holds ``predictor_pos_embed_proj = Linear(gradient_dim, embed_dim / 2)``.
    blocks : nn.ModuleList of Block
    norm : nn.LayerNorm
    gradients : Tensor of shape (n_rois, gradient_dim) or None
        Buffer.

    Notes
    -----
    Token ``n = roi * W + t`` covers frames ``t * p`` to ``(t + 1) * p - 1`` of one
    ROI, with ``W = T // p`` time patches. Any ``T`` that is a multiple of ``p`` is
    accepted at forward time.

    References
    ----------
    Dong, Li et al., "Brain-JEPA: Brain Dynamics Foundation Model with Gradient
    Positioning and Spatiotemporal Masking", NeurIPS 2024, arXiv:2409.19407.

    Examples
    --------
    >>> import torch
    >>> from sk_brainjepa.nn import BrainJEPAEncoder, model_config
    >>> cfg, _ = model_config("tiny", n_rois=5, gradient_dim=3)
    >>> g = torch.Generator().manual_seed(0)
    >>> enc = BrainJEPAEncoder(cfg, torch.randn(5, 3, generator=g), generator=g)
    >>> enc(torch.randn(2, 5, 32, generator=g)).shape
    torch.Size([2, 10, 64])
    """

    _config_type = EncoderConfig

    def _build(self, config: EncoderConfig) -> None:
        self.patch_embed = PatchEmbed(config.patch_size, config.embed_dim)
        self.pos_embed_proj = BrainPositionalEmbedding(
            config.embed_dim,
            config.n_rois,
            config.gradient_dim,
            config.roi_embedding,
        )
        self.blocks = self._blocks(config.embed_dim)
        self.norm = nn.LayerNorm(config.embed_dim, eps=config.norm_eps)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw all weights (official effective init, see :func:`init_weights_`).

        Parameters
        ----------
        generator : torch.Generator or None, default=None
            Source of randomness; None draws a fresh OS seed.
        """
        init_weights_(self, fresh_generator(generator))

    @property
    def embed_dim(self) -> int:
        """Token width ``D``."""
        return self.config.embed_dim

    def n_time_patches(self, n_timepoints: int) -> int:
        """Time patches ``W = n_timepoints // patch_size`` (must divide exactly)."""
        p = self.config.patch_size
        if n_timepoints % p != 0 or n_timepoints < p:
            raise ValueError(
                f"The number of time points T={n_timepoints} must be a positive "
                f"multiple of patch_size={p}."
            )
        return n_timepoints // p

    def positional_embedding(self, n_time_patches: int) -> torch.Tensor:
        """Positional embedding ``[time sin-cos | gradient code]``.

        Returns
        -------
        pos : Tensor of shape (n_rois * n_time_patches, embed_dim)
        """
        weight = self.patch_embed.proj.weight
        return self.pos_embed_proj(
            self.gradients, n_time_patches, device=weight.device, dtype=weight.dtype
        )

    def embed_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Input tokens before the blocks: ``patch_gain * patches + positions``.

        Parameters
        ----------
        x : Tensor of shape (batch, n_rois, n_timepoints)

        Returns
        -------
        tokens : Tensor of shape (batch, n_rois * W, embed_dim)
        """
        n_time_patches = self.n_time_patches(x.shape[2])
        tokens = self.patch_embed(x)
        if self.config.patch_gain != 1.0:
            tokens = tokens * self.config.patch_gain
        return tokens + self.positional_embedding(n_time_patches)

    def forward(
        self,
        x: torch.Tensor,
        observation: torch.Tensor | None = None,
        *,
        return_layers: tuple[int, ...] | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Encode fMRI time series.

        Parameters
        ----------
        x : Tensor of shape (batch, n_rois, n_timepoints)
            ``n_timepoints`` a multiple of ``patch_size``.
        observation : LongTensor of shape (batch, n_keep) or None, default=None
            Flat indices ``roi * W + t`` of the tokens to encode (the context);
            None encodes all ``n_rois * W`` tokens.
        return_layers : tuple of int or None, default=None
            Also return the hidden states after these blocks: ``l`` in
            ``[1, depth]`` is the output of the ``l``-th block, before the
            final norm. Taken from the same pass as ``features`` (under
            ``DistributedDataParallel`` a second call in one step would
            prepare a second gradient reduction).

        Returns
        -------
        features : Tensor of shape (batch, n_keep or n_rois * W, embed_dim)
            In the order of ``observation``.
        hidden : tuple of Tensor of shape (batch, n_keep or n_rois * W, embed_dim)
            One per entry of ``return_layers``, in its order; returned, as
            ``(features, hidden)``, only when ``return_layers`` is given.
        """
        if x.ndim != 3 or x.shape[1] != self.config.n_rois:
            raise ValueError(
                "x must have shape (batch, n_rois, n_timepoints) with n_rois="
                f"{self.config.n_rois}; got {tuple(x.shape)}."
            )
        layers = () if return_layers is None else self._check_layers(return_layers)
        tokens = self.embed_tokens(x)  # (B, R*W, D)
        if observation is not None:
            check_indices(observation, "observation", x.shape[0], tokens.shape[1])
            tokens = apply_masks(tokens, observation)  # (B, K, D)
        hidden = {}
        for depth, block in enumerate(self.blocks, start=1):
            tokens = block(tokens)
            if depth in layers:
                hidden[depth] = tokens
        features = self.norm(tokens)
        if return_layers is None:
            return features
        return features, tuple(hidden[layer] for layer in layers)

    def _check_layers(self, return_layers) -> tuple[int, ...]:
        """``return_layers`` as a tuple of block numbers in ``[1, depth]``."""
        depth = self.config.depth
        layers = tuple(return_layers)
        for layer in layers:
            if isinstance(layer, bool) or not isinstance(layer, Integral):
                raise ValueError(
                    "return_layers must hold block numbers (int); got "
                    f"{return_layers!r}."
                )
            if not 1 <= layer <= depth:
                raise ValueError(
                    f"return_layers must lie in [1, depth={depth}]; got "
                    f"{return_layers!r}."
                )
        return tuple(int(layer) for layer in layers)
