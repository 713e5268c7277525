"""A pretrained encoder plus a prediction head, for fine-tuning and probing."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from sk_brainjepa._utils._validation import check_int
from sk_brainjepa.nn._deprecated import renamed_attribute
from sk_brainjepa.nn._encoder import BrainJEPAEncoder
from sk_brainjepa.nn._init import fresh_generator, init_weights_, materialize_
from sk_brainjepa.nn._readout import FEATURE_READOUTS, n_readout_features, read_out
from sk_brainjepa.sources import crop


class BrainJEPAFineTuneModel(nn.Module):
    """Mean readout of a Brain-JEPA encoder, then LayerNorm and a linear head.

    ``out = head(fc_norm(mean over tokens of encoder(x)))``: the official
    downstream model with global pooling (official repository file
    ``downstream_tasks/models_vit.py``), the network the fine-tuners train.
    Other readouts (:func:`sk_brainjepa.nn.read_out`) can replace the mean.
    Formerly ``BrainJEPAPredictionModel`` (easily confused with
    :class:`BrainJEPAPredictor`, the JEPA predictor); that name remains as a
    deprecated alias for one release.

    Parameters
    ----------
    encoder : BrainJEPAEncoder
        Pretrained encoder (its weights are used as given, not copied).
    n_outputs : int, default=2
        Classes, or 1 for a single regression target.
    freeze_encoder : bool, default=False
        Keep the encoder fixed (linear probing by gradient descent): its
        parameters get ``requires_grad=False`` and it runs without autograd.
    squeeze_output : bool, default=False
        Return (B,) instead of (B, 1) when ``n_outputs`` is 1 (regression).
    n_timepoints : int or None, default=None
        Window in frames; longer inputs are centre-cropped to it.
    readout : {"mean", "roi", "connectivity", "lagged"}, default="mean"
        Features the head reads: the mean of all tokens (D), per-ROI means
        (R * D), the correlation between ROIs of their token trajectories
        (R * (R - 1) / 2, needs at least 2 time patches) or their correlation
        at a lag of one time patch in both directions (R * (R - 1), needs at
        least 3 time patches); see :func:`sk_brainjepa.nn.read_out`.
    head_norm : {"layernorm", "batchnorm"}, default="layernorm"
        Normalisation before the linear head: the fine-tuning head's
        LayerNorm, or the official linear-probing head's BatchNorm without
        affine parameters, which standardises each feature over the batch
        (useful when the pooled features vary little between subjects
        compared with their common part, and for ``readout="connectivity"``
        or ``"lagged"``, where a LayerNorm over the ROI pairs would remove each
        subject's mean connectivity).
    generator : torch.Generator or None, default=None
        Source of the head's initial weights; None draws a fresh OS seed (the
        global torch RNG is never used or changed).

    Examples
    --------
    >>> import torch
    >>> from sk_brainjepa.nn import BrainJEPAEncoder, model_config
    >>> from sk_brainjepa.nn import BrainJEPAFineTuneModel
    >>> cfg, _ = model_config("tiny", n_rois=4, gradient_dim=2)
    >>> g = torch.Generator().manual_seed(0)
    >>> enc = BrainJEPAEncoder(cfg, torch.randn(4, 2, generator=g), generator=g)
    >>> model = BrainJEPAFineTuneModel(enc, n_outputs=3, generator=g)
    >>> model(torch.randn(5, 4, 32, generator=g)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        encoder: BrainJEPAEncoder,
        n_outputs: int = 2,
        *,
        freeze_encoder: bool = False,
        squeeze_output: bool = False,
        n_timepoints: int | None = None,
        readout: str = "mean",
        head_norm: str = "layernorm",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(encoder, BrainJEPAEncoder):
            raise ValueError(
                f"encoder must be a BrainJEPAEncoder; got {type(encoder).__name__}."
            )
        n_outputs = check_int(n_outputs, "n_outputs")
        self.encoder = encoder
        self.n_outputs = n_outputs
        self.freeze_encoder = freeze_encoder
        self.squeeze_output = squeeze_output
        self.n_timepoints = n_timepoints
        if readout not in FEATURE_READOUTS:
            raise ValueError(
                f"readout must be one of {FEATURE_READOUTS}; got {readout!r}."
            )
        self.readout = readout
        width = n_readout_features(
            readout, encoder.config.n_rois, encoder.config.embed_dim
        )
        if head_norm not in ("layernorm", "batchnorm"):
            raise ValueError(
                f"head_norm must be 'layernorm' or 'batchnorm'; got {head_norm!r}."
            )
        # The initialisation idiom (sk_brainjepa.nn._init), for the new head
        # only: the encoder arrives built and keeps its (pretrained) weights.
        with torch.device("meta"):
            self.fc_norm = (
                nn.LayerNorm(width, eps=encoder.config.norm_eps)
                if head_norm == "layernorm"
                else nn.BatchNorm1d(width, affine=False, eps=1e-6)
            )
            self.head = nn.Linear(width, n_outputs)
        materialize_(self.fc_norm)
        materialize_(self.head)
        self.reset_head(generator)
        # Set both ways: a pretrained target encoder arrives with gradients off.
        self.encoder.requires_grad_(not freeze_encoder)

    def reset_head(self, generator: torch.Generator | None = None) -> None:
        """Re-draw the head: ``fc_norm`` reset, ``head`` trunc-normal(0.02), bias 0.

        The encoder keeps its weights (see :func:`reset_top_blocks_` to re-draw
        its top blocks).

        Parameters
        ----------
        generator : torch.Generator or None, default=None
            Source of randomness; None draws a fresh OS seed.
        """
        generator = fresh_generator(generator)
        init_weights_(self.fc_norm, generator)
        init_weights_(self.head, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict from time series.

        Parameters
        ----------
        x : Tensor of shape (B, R, T)

        Returns
        -------
        out : Tensor of shape (B, n_outputs), or (B,) with ``squeeze_output``
        """
        out = self.head(self._normalise(self.features(x)))  # (B, n_outputs)
        return out[:, 0] if self.squeeze_output and self.n_outputs == 1 else out

    def _normalise(self, features: torch.Tensor) -> torch.Tensor:
        """``fc_norm(features)``; a one-sample training batch uses running statistics.

        A BatchNorm cannot take batch statistics of a single sample, and the
        last training batch holds one whenever the training part is one more
        than a multiple of the batch size. That batch is normalised with the
        running statistics (as in evaluation) and does not update them; every
        larger batch is normalised exactly as before.
        """
        if (
            self.training
            and features.shape[0] == 1
            and isinstance(self.fc_norm, nn.BatchNorm1d)
        ):
            norm = self.fc_norm
            return F.batch_norm(
                features,
                norm.running_mean,
                norm.running_var,
                training=False,
                eps=norm.eps,
            )
        return self.fc_norm(features)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The readout the head reads, before ``fc_norm``.

        Parameters
        ----------
        x : Tensor of shape (B, R, T)
            Longer than ``n_timepoints``: centre-cropped to it.

        Returns
        -------
        features : Tensor of shape (B, head.in_features)
        """
        x = x.to(self.head.weight.dtype)
        if self.n_timepoints is not None and x.shape[-1] > self.n_timepoints:
            x = crop(x, self.n_timepoints, "center")
        if self.freeze_encoder:
            with torch.no_grad():
                tokens = self.encoder(x)  # (B, N, D)
        else:
            tokens = self.encoder(x)
        return read_out(tokens, self.encoder.config.n_rois, self.readout)

    @torch.no_grad()
    def calibrate_fc_norm(self, features: torch.Tensor) -> None:
        """Set a BatchNorm ``fc_norm``'s running statistics to those of ``features``.

        In eval mode the head then sees ``features`` standardised over all of
        them, not over one batch: what a linear probe fitted on the same
        standardised features sees (``head_init="probe"`` of the fine-tuners).
        A LayerNorm normalises each row by itself and has nothing to set.

        Parameters
        ----------
        features : Tensor of shape (n_samples, head.in_features)
            Readout features, as :meth:`features` returns them.
        """
        if not isinstance(self.fc_norm, nn.BatchNorm1d):
            return
        features = features.to(self.fc_norm.running_mean)
        self.fc_norm.running_mean.copy_(features.mean(dim=0))
        # Unbiased, as BatchNorm1d accumulates its running variance.
        n = features.shape[0]
        variance = features.var(dim=0, unbiased=n > 1)
        self.fc_norm.running_var.copy_(variance)


def __getattr__(name: str):
    # Pickles that recorded the former class name still load, with a warning.
    return renamed_attribute(__name__, name)


def reset_top_blocks_(
    encoder: BrainJEPAEncoder, n_blocks: int, generator: torch.Generator | None = None
) -> None:
    """Re-draw the weights of the top ``n_blocks`` transformer blocks in place.

    The blocks get the encoder's own initialisation (:func:`init_weights_`,
    as :meth:`BrainJEPAEncoder.reset_parameters` draws them); the lower
    blocks, the embeddings and the final norm keep their (pretrained)
    weights. Re-initialising the top of a pretrained network before
    fine-tuning drops the layers most specialised to the pretraining task
    (Zhang et al., 2021).

    Parameters
    ----------
    encoder : BrainJEPAEncoder
    n_blocks : int
        Blocks to reset, from the top; 0 changes nothing.
    generator : torch.Generator or None, default=None
        Source of the new weights; None draws a fresh OS seed (the global torch
        RNG is never used).

    Raises
    ------
    ValueError
        If ``n_blocks`` is negative or exceeds the encoder's depth.

    References
    ----------
    Zhang, Wu, Katiyar, Weinberger and Artzi, "Revisiting Few-sample BERT
    Fine-tuning", ICLR 2021, arXiv:2006.05987.

    Examples
    --------
    >>> import torch
    >>> from sk_brainjepa.nn import BrainJEPAEncoder, model_config, reset_top_blocks_
    >>> cfg, _ = model_config("tiny", n_rois=4, gradient_dim=2)
    >>> g = torch.Generator().manual_seed(0)
    >>> enc = BrainJEPAEncoder(cfg, torch.randn(4, 2, generator=g), generator=g)
    >>> before = enc.blocks[0].attn.qkv.weight.clone()
    >>> reset_top_blocks_(enc, 1, torch.Generator().manual_seed(1))
    >>> torch.equal(enc.blocks[0].attn.qkv.weight, before)  # below the top: kept
    True
    """
    n_blocks = check_int(n_blocks, "n_blocks", minimum=0)
    depth = len(encoder.blocks)
    if n_blocks > depth:
        raise ValueError(f"n_blocks={n_blocks} exceeds the encoder's depth={depth}.")
    generator = fresh_generator(generator)
    for block in encoder.blocks[depth - n_blocks :]:
        init_weights_(block, generator)


def layer_id(name: str, depth: int) -> int:
    """Depth of a parameter for layer-wise learning-rate decay.

    Patch and positional embeddings are layer 0, block ``i`` is ``i + 1``, and
    the final norm and the head are ``depth + 1``. (The official code looks
    for names starting with ``blocks.`` while its parameters start with
    ``encoder.``, so every parameter lands in the last layer and its decay is
    a no-op; here the encoder prefix is handled.)
    """
    name = name.removeprefix("module.").removeprefix("encoder.")
    if name.startswith(("patch_embed", "pos_embed_proj", "gradients")):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return depth + 1


def layer_decay_groups(
    named_parameters, depth: int, *, lr: float, layer_decay: float, weight_decay: float
) -> list[dict]:
    """AdamW groups with ``lr * layer_decay ** (depth + 1 - layer_id)``.

    Parameters
    ----------
    named_parameters : iterable of (str, Parameter)
        Trainable parameters of a :class:`BrainJEPAFineTuneModel`.
    depth : int
        Encoder depth.
    lr : float
        Learning rate of the head (the top layer).
    layer_decay : float
        Factor per layer below the top; 1 gives every layer ``lr``.
    weight_decay : float
        For matrices; biases and norms get none.

    Returns
    -------
    groups : list of dict
        One group per (layer, decay) pair, with ``lr``, ``weight_decay`` and
        ``layer_id`` keys.
    """
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in named_parameters:
        lid = layer_id(name, depth)
        decay = param.ndim >= 2
        group = groups.setdefault(
            (lid, decay),
            {
                "params": [],
                "layer_id": lid,
                "lr": lr * layer_decay ** (depth + 1 - lid),
                "weight_decay": weight_decay if decay else 0.0,
            },
        )
        group["params"].append(param)
    return [groups[key] for key in sorted(groups)]
