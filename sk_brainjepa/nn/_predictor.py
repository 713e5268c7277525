"""The Brain-JEPA predictor: context features + target positions -> target features."""

from __future__ import annotations

import torch
from torch import nn

from sk_brainjepa._utils._validation import check_int
from sk_brainjepa.masking import apply_masks
from sk_brainjepa.nn._config import PredictorConfig
from sk_brainjepa.nn._encoder import _GradientTransformer
from sk_brainjepa.nn._init import fresh_generator, init_weights_, trunc_normal_init_
from sk_brainjepa.nn._layers import BrainPositionalEmbedding, check_indices


class BrainJEPAPredictor(_GradientTransformer):
    """Narrow ViT that predicts target-token features from the context features.

    The context features are projected to the predictor width and given their
    positional embedding; one query per target token (the learnt ``mask_token``
    plus the target's positional embedding) is appended; all of them attend
    jointly (targets also see each other, as in the official single-pass
    predictor); the query outputs are projected back to the encoder width.

    Parameters
    ----------
    config : PredictorConfig
        Architecture.
    gradients : Tensor of shape (n_rois, gradient_dim) or None, default=None
        Brain gradients, stored as the persistent buffer ``gradients``. Required
        for ``roi_embedding="gradient"``; ignored for ``"sincos"``.
    generator : torch.Generator or None, default=None
        Source of the initial weights; None draws a fresh OS seed (the global
        torch RNG is never used or changed).

    Attributes
    ----------
    predictor_embed : nn.Linear
        ``encoder_dim -> embed_dim``.
    mask_token : nn.Parameter of shape (1, 1, embed_dim)
    predictor_2dpe_proj : BrainPositionalEmbedding
    predictor_blocks : nn.ModuleList of Block
    predictor_norm : nn.LayerNorm
    predictor_proj : nn.Linear
        ``embed_dim -> encoder_dim``.
    gradients : Tensor of shape (n_rois, gradient_dim) or None
        Buffer.

    Examples
    --------
    >>> import torch
    >>> from sk_brainjepa.nn import BrainJEPAPredictor, model_config
    >>> _, cfg = model_config("tiny", n_rois=5, gradient_dim=3)
    >>> g = torch.Generator().manual_seed(0)
    >>> pred = BrainJEPAPredictor(cfg, torch.randn(5, 3, generator=g), generator=g)
    >>> z = torch.randn(2, 4, 64, generator=g)
    >>> obs = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    >>> tgt = torch.tensor([[8, 9], [0, 1]])
    >>> pred(z, obs, tgt, n_time_patches=2).shape
    torch.Size([2, 2, 64])
    """

    _config_type = PredictorConfig

    def _build(self, config: PredictorConfig) -> None:
        dim = config.embed_dim
        self.predictor_embed = nn.Linear(config.encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.predictor_2dpe_proj = BrainPositionalEmbedding(
            dim, config.n_rois, config.gradient_dim, config.roi_embedding
        )
        self.predictor_blocks = self._blocks(dim)
        self.predictor_norm = nn.LayerNorm(dim, eps=config.norm_eps)
        self.predictor_proj = nn.Linear(dim, config.encoder_dim)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw all weights: Linear trunc-normal(0.02), biases 0, LayerNorm 1/0,
        ``mask_token`` trunc-normal(0.02).

        Parameters
        ----------
        generator : torch.Generator or None, default=None
            Source of randomness; None draws a fresh OS seed.
        """
        generator = fresh_generator(generator)
        init_weights_(self, generator)
        trunc_normal_init_(self.mask_token, std=0.02, generator=generator)

    def positional_embedding(self, n_time_patches: int) -> torch.Tensor:
        """Predictor positional embedding ``[time sin-cos | gradient code]``.

        Returns
        -------
        pos : Tensor of shape (n_rois * n_time_patches, embed_dim)
        """
        weight = self.predictor_embed.weight
        return self.predictor_2dpe_proj(
            self.gradients, n_time_patches, device=weight.device, dtype=weight.dtype
        )

    def forward(
        self,
        z: torch.Tensor,
        observation: torch.Tensor,
        target: torch.Tensor,
        n_time_patches: int,
    ) -> torch.Tensor:
        """Predict the encoder features of the target tokens.

        Parameters
        ----------
        z : Tensor of shape (batch, n_obs, encoder_dim)
            Encoder output for the observed (context) tokens.
        observation : LongTensor of shape (batch, n_obs)
            Flat indices ``roi * W + t`` of the rows of ``z``.
        target : LongTensor of shape (batch, n_target)
            Flat indices of the tokens to predict.
        n_time_patches : int
            Time patches per ROI ``W`` of the token grid (``T // patch_size``);
            needed to place the flat indices.

        Returns
        -------
        prediction : Tensor of shape (batch, n_target, encoder_dim)
            In the order of ``target``.
        """
        cfg = self.config
        if z.ndim != 3 or z.shape[2] != cfg.encoder_dim:
            raise ValueError(
                f"z must have shape (batch, n_obs, encoder_dim={cfg.encoder_dim}); "
                f"got {tuple(z.shape)}."
            )
        n_time_patches = check_int(n_time_patches, "n_time_patches")
        batch, n_obs, _ = z.shape
        n_tokens = cfg.n_rois * n_time_patches
        check_indices(observation, "observation", batch, n_tokens)
        check_indices(target, "target", batch, n_tokens)
        if observation.shape[1] != n_obs:
            raise ValueError(
                f"observation must index the {n_obs} rows of z; got shape "
                f"{tuple(observation.shape)}."
            )

        pos = self.positional_embedding(n_time_patches)  # (N, Dp)
        pos = pos.unsqueeze(0).expand(batch, -1, -1)  # (B, N, Dp)
        context = self.predictor_embed(z) + apply_masks(pos, observation)
        queries = self.mask_token + apply_masks(pos, target)  # (B, K_tgt, Dp)
        x = torch.cat([context, queries], dim=1)
        for block in self.predictor_blocks:
            x = block(x)
        x = self.predictor_norm(x)
        return self.predictor_proj(x[:, n_obs:])
