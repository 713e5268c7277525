"""The JEPA objective: targets, loss, EMA update and the collapse statistic."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOSSES = ("smooth_l1", "l2")


def normalize_targets(features: Tensor) -> Tensor:
    """Layer-normalise target features over their last axis (no affine, eps 1e-5).

    Parameters
    ----------
    features : Tensor of shape (B, N, D)

    Returns
    -------
    Tensor of shape (B, N, D)
    """
    return F.layer_norm(features, features.shape[-1:])


def prediction_loss(
    predicted: Tensor, target: Tensor, kind: str = "smooth_l1"
) -> Tensor:
    """Distance between predicted and target representations, averaged over all entries.

    Parameters
    ----------
    predicted, target : Tensor of shape (B, K, D)
    kind : {"smooth_l1", "l2"}, default="smooth_l1"
        ``"smooth_l1"`` (beta 1) is what the official code optimises; ``"l2"``
        (mean squared error) is the objective the paper writes.

    Returns
    -------
    loss : Tensor of shape ()
    """
    if kind == "smooth_l1":
        return F.smooth_l1_loss(predicted, target, beta=1.0)
    if kind == "l2":
        return F.mse_loss(predicted, target)
    raise ValueError(f"loss must be one of {LOSSES}; got {kind!r}.")


def representation_spread(features: Tensor) -> Tensor:
    """Spread of representations across tokens: the collapse statistic.

    The standard deviation of each feature across all tokens of the batch,
    averaged over features. Layer-normalised features of a healthy model spread
    close to 1; when every token maps to the same vector (the collapse reported
    in the official issue tracker, loss near 0) the spread falls towards 0.

    Parameters
    ----------
    features : Tensor of shape (B, N, D)

    Returns
    -------
    spread : Tensor of shape ()
    """
    flat = features.reshape(-1, features.shape[-1]).float()
    return flat.std(dim=0).mean()


def sample_spread(features: Tensor) -> Tensor:
    """Spread of representations across samples at each token: a second collapse check.

    The standard deviation over the batch of each (token, feature), averaged.
    Representations that encode only where a token is (its ROI and time
    patch) and not what the subject's signal does there keep a healthy spread
    across tokens but vary little between samples; this statistic then falls
    towards 0 while the loss looks excellent.

    Parameters
    ----------
    features : Tensor of shape (B, N, D)

    Returns
    -------
    spread : Tensor of shape (); NaN for a batch of one sample
    """
    if features.shape[0] < 2:
        return torch.tensor(float("nan"))
    return features.float().std(dim=0).mean()


@torch.no_grad()
def update_ema(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """In place ``theta_target <- m * theta_target + (1 - m) * theta_online``.

    Parameters
    ----------
    target, online : nn.Module
        Modules with identical parameter lists (the target is a copy of the online).
    momentum : float
        ``m`` in [0, 1]; 1 leaves the target unchanged, 0 copies the online weights.
    """
    for theta_target, theta_online in zip(
        target.parameters(), online.parameters(), strict=True
    ):
        # lerp_ is exact at both ends: weight 0 keeps, weight 1 copies.
        theta_target.lerp_(theta_online.detach(), 1.0 - momentum)
