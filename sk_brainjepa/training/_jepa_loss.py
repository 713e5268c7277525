"""The Brain-JEPA loss of one batch: encode, predict, and assemble the terms.

:func:`jepa_loss` runs the target encoder, the online encoder and the
predictor on one batch with its masks and returns the weighted objective with
each of its terms (the terms themselves are in :mod:`._objective` and
:mod:`._regularizers`); :func:`patches_of` and :func:`split_in_time` cut the
raw windows that the reconstruction and consistency terms compare against.
It holds no optimiser state: :class:`~sk_brainjepa.training.JEPATrainer`
calls it once per mini-batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sk_brainjepa.masking import MaskBatch, apply_masks
from sk_brainjepa.nn import read_out
from sk_brainjepa.training._distributed import (
    DistributedContext,
    gather_across_ranks,
    sum_across_ranks_,
    unwrap,
)
from sk_brainjepa.training._objective import (
    Objective,
    context_loss,
    normalize_targets,
    prediction_loss,
    representation_spread,
    sample_spread,
    supervised_layers,
)
from sk_brainjepa.training._regularizers import (
    consistency_terms,
    sigreg,
    standardize_over_batch,
    variance_covariance_terms,
)


def patches_of(x: Tensor, patch_size: int) -> Tensor:
    """Raw frames of every token, in the encoder's token order.

    Parameters
    ----------
    x : Tensor of shape (B, R, T)
    patch_size : int
        Frames per token ``p``; divides T.

    Returns
    -------
    patches : Tensor of shape (B, R * T // p, p)
        Row ``roi * W + t`` holds frames ``t * p`` to ``(t + 1) * p - 1``.
    """
    batch, n_rois, n_timepoints = x.shape
    return x.reshape(batch, n_rois * (n_timepoints // patch_size), patch_size)


def split_in_time(x: Tensor, n_time_patches: int) -> tuple[Tensor, Tensor]:
    """The first and second half of each window, cut between time patches.

    Parameters
    ----------
    x : Tensor of shape (B, R, T)
    n_time_patches : int
        ``W = T // patch_size``; at least 2.

    Returns
    -------
    first, second : Tensor of shape (B, R, T1) and (B, R, T - T1)
        ``T1 = (W // 2) * patch_size``.
    """
    if n_time_patches < 2:
        raise ValueError(
            "consistency_weight > 0 needs at least 2 time patches per window "
            f"(n_timepoints // patch_size); got {n_time_patches}."
        )
    cut = (n_time_patches // 2) * (x.shape[-1] // n_time_patches)
    return x[..., :cut], x[..., cut:]


def _encode(
    encoder: nn.Module, x: Tensor, observation: Tensor | None, layers
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Features and, when ``layers`` is given, the hidden states it lists.

    Parameters
    ----------
    encoder : nn.Module
        A :class:`~sk_brainjepa.nn.BrainJEPAEncoder`, possibly wrapped.
    x : Tensor of shape (B, R, T)
    observation : LongTensor of shape (B, K) or None
    layers : tuple of int or None
        Intermediate blocks (see :func:`supervised_layers`); None asks for
        the features alone, with the call the objective always made.

    Returns
    -------
    features : Tensor of shape (B, K or N, D)
    hidden : tuple of Tensor of shape (B, K or N, D)
        The hidden state of each of ``layers``, then ``features``; empty when
        ``layers`` is None.
    """
    if layers is None:
        args = (x,) if observation is None else (x, observation)
        return encoder(*args), ()
    # One call of the (possibly DDP-wrapped) module yields the output and
    # the intermediate states, so the gradient reduction is prepared once.
    features, hidden = encoder(x, observation, return_layers=layers)
    return features, (*hidden, features)


def jepa_loss(
    encoder: nn.Module,
    predictor: nn.Module,
    target_encoder: nn.Module,
    x: Tensor,
    masks: MaskBatch,
    objective: Objective | None = None,
    *,
    reconstruction_head: nn.Module | None = None,
    generator: torch.Generator | None = None,
    context: DistributedContext | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The Brain-JEPA objective for one batch, with the terms it asks for.

    Parameters
    ----------
    encoder, predictor, target_encoder : nn.Module
    x : Tensor of shape (B, R, T)
        ROI time series.
    masks : MaskBatch
        Observation and target token indices.
    objective : Objective or None, default=None
        The terms and their weights; None is the paper's objective
        (``Objective()``: L2 on layer-normalised targets).
    reconstruction_head : nn.Module or None, default=None
        Maps predicted features (..., D) to raw patches (..., patch_size);
        required when ``objective.reconstruction_weight > 0``.
    generator : torch.Generator or None, default=None
        Source of SIGReg's random directions; required when
        ``objective.sigreg_weight > 0``.
    context : DistributedContext or None, default=None
        In data-parallel training, the batch-level parts (target
        standardisation, VICReg, SIGReg) use the global batch of all ranks.

    Returns
    -------
    loss : Tensor of shape ()
        The weighted total.
    terms : dict of Tensor
        Each term (``prediction_loss``, and ``variance_loss`` and
        ``covariance_loss``, ``sigreg_loss``, ``reconstruction_loss``,
        ``consistency_loss`` with ``consistency_variance_loss`` and
        ``consistency_covariance_loss``, ``context_loss`` when their weight is
        positive),
        detached, and the collapse statistics of the layer-normalised targets,
        ``spread`` (across tokens) and ``sample_spread`` (across samples).
    """
    objective = Objective() if objective is None else objective
    context = DistributedContext() if context is None else context
    layers = None
    if objective.context_loss_weight > 0:
        layers = supervised_layers(unwrap(encoder).config.depth)
    with torch.no_grad():
        full, target_hidden = _encode(target_encoder, x, None, layers)
        # The context tokens as they are with the whole window in view,
        # (B, K_obs, D) per supervised layer.
        context_targets = [apply_masks(h, masks.observation) for h in target_hidden]
        targets = normalize_targets(full.float())  # (B, N, D)
        stats = {
            "spread": representation_spread(targets),
            "sample_spread": sample_spread(targets).to(targets.device),
        }
        if objective.target_norm == "batch":
            targets = standardize_over_batch(
                targets, lambda t: sum_across_ranks_(t, context)
            )
        targets = apply_masks(targets, masks.target)  # (B, K_tgt, D)
    # (B, K_obs, D), and the same at each supervised layer
    observed, online_hidden = _encode(encoder, x, masks.observation, layers)
    n_time_patches = unwrap(encoder).n_time_patches(x.shape[-1])
    predicted = predictor(observed, masks.observation, masks.target, n_time_patches)
    terms = {
        "prediction_loss": prediction_loss(predicted.float(), targets, objective.loss)
    }
    if objective.regularizes_context:
        # (B_global, D): one vector per sample of the global batch
        pooled = gather_across_ranks(observed.float().mean(dim=1), context)
    if objective.vicreg_weight > 0:
        terms["variance_loss"], terms["covariance_loss"] = variance_covariance_terms(
            pooled
        )
    if objective.sigreg_weight > 0:
        if generator is None:
            raise ValueError("sigreg_weight > 0 needs a generator for the directions.")
        terms["sigreg_loss"] = sigreg(pooled, objective.sigreg_projections, generator)
    if objective.reconstruction_weight > 0:
        if reconstruction_head is None:
            raise ValueError("reconstruction_weight > 0 needs a reconstruction_head.")
        patch_size = x.shape[-1] // n_time_patches
        raw = apply_masks(patches_of(x.float(), patch_size), masks.target)
        reconstructed = reconstruction_head(predicted).float()  # (B, K_tgt, p)
        terms["reconstruction_loss"] = F.mse_loss(reconstructed, raw)
    if objective.consistency_weight > 0:
        halves = split_in_time(x, n_time_patches)
        # The bare module: DistributedDataParallel prepares its gradient
        # reduction once per forward; the halves' gradients reach the same
        # parameters within this backward and are reduced with the rest.
        plain = unwrap(encoder)
        pooled_halves = [
            gather_across_ranks(
                read_out(
                    plain(half).float(),
                    plain.config.n_rois,
                    objective.consistency_readout,
                ),
                context,
            )
            for half in halves
        ]
        (
            terms["consistency_loss"],
            terms["consistency_variance_loss"],
            terms["consistency_covariance_loss"],
        ) = consistency_terms(*pooled_halves)
    if layers is not None:
        terms["context_loss"] = context_loss(online_hidden, context_targets)
    loss = objective.total(terms)
    stats.update({name: value.detach() for name, value in terms.items()})
    return loss, stats
