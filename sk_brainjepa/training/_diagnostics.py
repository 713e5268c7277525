"""Collapse diagnostics: what pretraining keeps of the subjects, epoch by epoch.

A JEPA loss can fall while the representations stop carrying the input: every
token the same vector, or (the failure seen with Brain-JEPA at small scale)
every token its position's vector, the same for all subjects. These statistics
tell the two apart from the loss, and are recorded in
``BrainJEPAPretrainer.history_``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sk_brainjepa.training._objective import normalize_targets, sample_spread


def nan_mean(values) -> float:
    """Mean of the values that are not NaN; NaN, silently, when none is.

    A statistic undefined for a batch (the spread across samples of a batch
    of one) is NaN there; an epoch's mean skips those batches. numpy's
    ``nanmean`` would warn "Mean of empty slice" when every batch had one
    sample: the caller says why the statistic is missing instead.

    Parameters
    ----------
    values : iterable of float

    Returns
    -------
    mean : float
    """
    kept = [float(v) for v in values if not math.isnan(float(v))]
    return sum(kept) / len(kept) if kept else float("nan")


def position_share(features: Tensor) -> float:
    """Share of the features' energy that is the same for every sample.

    ``sum_{n,d} B * mean_b(F)[n, d]^2 / sum_{b,n,d} F[b, n, d]^2``: the part of
    the energy explained by the token position alone (its mean over the
    samples). 1 when every sample gives the same features at each token.

    Parameters
    ----------
    features : Tensor of shape (B, N, D)

    Returns
    -------
    share : float in [0, 1]; NaN for fewer than 2 samples or zero features
    """
    f = features.float()
    total = f.pow(2).sum()
    if f.shape[0] < 2 or total == 0:
        return float("nan")
    positional = f.mean(dim=0).pow(2).sum() * f.shape[0]
    return float(positional / total)


def effective_rank(embeddings: Tensor) -> float:
    """RankMe effective rank of a batch of embeddings (Garrido et al., 2023).

    ``exp(-sum_k p_k log p_k)`` with ``p_k = s_k / sum s`` the normalised
    singular values. The embeddings are centred over the samples first, so the
    rank counts directions in which subjects *differ* (a constant offset that
    all share would otherwise count as one direction).

    Parameters
    ----------
    embeddings : Tensor of shape (B, D)

    Returns
    -------
    rank : float in [1, min(B - 1, D)]; NaN for fewer than 2 samples, 1 for
        identical ones
    """
    z = embeddings.float()
    if z.shape[0] < 2:
        return float("nan")
    centred = z - z.mean(dim=0)
    singular = torch.linalg.svdvals(centred)
    total = singular.sum()
    if total <= 1e-12 * max(1.0, float(z.abs().max())):
        return 1.0
    p = singular / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def offset_ratio(x: Tensor) -> float:
    """How large each ROI's constant offset is against its fluctuations.

    The median over samples and ROIs of ``|mean_t x| / std_t x``. Per-subject
    scaled input gives about 0; raw BOLD, or data scaled with statistics pooled
    over subjects, gives values well above 1: the encoder then sees mostly a
    constant per ROI, a different problem from a positional collapse.

    Parameters
    ----------
    x : Tensor of shape (B, R, T)

    Returns
    -------
    ratio : float >= 0
    """
    x = x.float()
    std = x.std(dim=-1).clamp_min(1e-12)
    return float((x.mean(dim=-1).abs() / std).median())


@torch.no_grad()
def collapse_diagnostics(
    encoder: nn.Module, target_encoder: nn.Module, x: Tensor
) -> dict[str, float]:
    """Between-sample statistics of both encoders on one fixed batch.

    Parameters
    ----------
    encoder, target_encoder : nn.Module
        The online (context) encoder and the EMA target encoder; both are put
        in eval mode for the measurement and returned to their previous mode.
    x : Tensor of shape (B, R, T)
        The same windows at every call (so epochs compare).

    Returns
    -------
    diagnostics : dict
        ``online_sample_spread`` and ``target_sample_spread``: standard
        deviation over the samples of each (token, feature) of the
        layer-normalised features, averaged; ``position_share``: share of the
        target features' energy explained by token position
        (:func:`position_share`); ``rankme``: effective rank of the target
        encoder's mean token features over the samples
        (:func:`effective_rank`).
    """
    stats = {}
    for name, module in (("online", encoder), ("target", target_encoder)):
        was_training = module.training
        module.eval()
        try:
            features = normalize_targets(module(x).float())
        finally:
            module.train(was_training)
        stats[f"{name}_sample_spread"] = float(sample_spread(features))
        if name == "target":
            stats["position_share"] = position_share(features)
            stats["rankme"] = effective_rank(features.mean(dim=1))
    return stats
