"""The JEPA objective: targets, loss, EMA update and the collapse statistic."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sk_brainjepa._utils._validation import check_int

LOSSES = ("smooth_l1", "l2")
TARGET_NORMS = ("layer", "batch")
CONSISTENCY_READOUTS = ("mean", "connectivity")
# VICReg weighs variance and covariance 25 : 1 (Bardes et al., 2022, mu and nu).
_COVARIANCE_PER_VARIANCE = 1.0 / 25.0


@dataclass(frozen=True, kw_only=True)
class Objective:
    """What the JEPA loss is made of: the prediction term and its additions.

    Parameters
    ----------
    loss : {"l2", "smooth_l1"}, default="l2"
        Distance between predicted and target features (see
        :func:`prediction_loss`).
    target_norm : {"layer", "batch"}, default="layer"
        ``"layer"``: targets layer-normalised over features, as in the paper.
        ``"batch"``: then standardised per (token, feature) across the batch
        (:func:`~sk_brainjepa.training.standardize_over_batch`), which removes
        what all subjects share at a token position.
    vicreg_weight : float, default=0.0
        Weight of VICReg's ``variance + covariance / 25`` on the mean context
        feature of each sample.
    sigreg_weight : float, default=0.0
        Weight of SIGReg (LeJEPA) on the mean context feature of each sample.
    sigreg_projections : int, default=256
        Random directions per SIGReg evaluation.
    reconstruction_weight : float, default=0.0
        Weight of the squared error of raw target patches reconstructed from
        the predictor's output by a linear head (needs that head).
    consistency_weight : float, default=0.0
        Weight of a subject-consistency term across time: the first and the
        second half of each window are encoded separately, and their mean
        token features are pulled together (squared distance) while VICReg's
        variance and covariance terms keep subjects apart
        (:func:`~sk_brainjepa.training.consistency_terms`). What stays the
        same between two stretches of one subject's run, and differs between
        subjects, is what a subject-level phenotype is made of.
    consistency_readout : {"mean", "connectivity"}, default="mean"
        Which summary of each half is compared: the mean token features, or
        the token connectivity (:func:`~sk_brainjepa.nn.token_connectivity`,
        second order, so it can carry what a sign-symmetric signal keeps).
    context_loss_weight : float, default=0.0
        Weight of a dense loss on the context tokens with deep supervision
        (after V-JEPA 2.1, arXiv:2603.14482): at the middle block and at the
        output, the online encoder's features of the observed tokens are
        pulled towards the target encoder's features of the same tokens seen
        with the whole window (:func:`~sk_brainjepa.training.context_loss`).
        The context tokens then have to carry what the full input would give
        them, instead of collapsing into global aggregators.
    """

    loss: str = "l2"
    target_norm: str = "layer"
    vicreg_weight: float = 0.0
    sigreg_weight: float = 0.0
    sigreg_projections: int = 256
    reconstruction_weight: float = 0.0
    consistency_weight: float = 0.0
    consistency_readout: str = "mean"
    context_loss_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}; got {self.loss!r}.")
        if self.target_norm not in TARGET_NORMS:
            raise ValueError(
                f"target_norm must be one of {TARGET_NORMS}; got {self.target_norm!r}."
            )
        for name in (
            "vicreg_weight",
            "sigreg_weight",
            "reconstruction_weight",
            "consistency_weight",
            "context_loss_weight",
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, Real)
                or not value >= 0
                or value == float("inf")
            ):
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")
        if self.consistency_readout not in CONSISTENCY_READOUTS:
            raise ValueError(
                f"consistency_readout must be one of {CONSISTENCY_READOUTS}; got "
                f"{self.consistency_readout!r}."
            )
        check_int(self.sigreg_projections, "sigreg_projections")

    @property
    def regularizes_context(self) -> bool:
        """Whether a term reads the context encoder's pooled features."""
        return self.vicreg_weight > 0 or self.sigreg_weight > 0

    def total(self, terms: dict[str, Tensor]) -> Tensor:
        """The weighted sum of the terms that :func:`jepa_loss` computed."""
        loss = terms["prediction_loss"]
        if "variance_loss" in terms:
            loss = loss + self.vicreg_weight * (
                terms["variance_loss"]
                + _COVARIANCE_PER_VARIANCE * terms["covariance_loss"]
            )
        if "sigreg_loss" in terms:
            loss = loss + self.sigreg_weight * terms["sigreg_loss"]
        if "reconstruction_loss" in terms:
            loss = loss + self.reconstruction_weight * terms["reconstruction_loss"]
        if "consistency_loss" in terms:
            loss = loss + self.consistency_weight * (
                terms["consistency_loss"]
                + terms["consistency_variance_loss"]
                + _COVARIANCE_PER_VARIANCE * terms["consistency_covariance_loss"]
            )
        if "context_loss" in terms:
            loss = loss + self.context_loss_weight * terms["context_loss"]
        return loss


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


def supervised_layers(depth: int) -> tuple[int, ...]:
    """Blocks whose hidden states the context loss reads besides the output.

    Deep supervision at two depths: the middle block and the last one. The
    last block is supervised through the encoder's usual output (after its
    final norm), so only the middle block is listed; a one-block encoder has
    no separate middle and lists nothing.

    Parameters
    ----------
    depth : int
        Number of encoder blocks (at least 1).

    Returns
    -------
    layers : tuple of int
        ``(max(1, depth // 2),)``, or ``()`` when that is ``depth`` itself.

    Examples
    --------
    >>> from sk_brainjepa.training import supervised_layers
    >>> supervised_layers(12), supervised_layers(3), supervised_layers(1)
    ((6,), (1,), ())
    """
    middle = max(1, depth // 2)
    return (middle,) if middle < depth else ()


def context_loss(online, target) -> Tensor:
    """Dense loss on the context tokens, averaged over the supervised layers.

    At each layer both sides are layer-normalised over features (no affine,
    :func:`normalize_targets`) and compared by their mean squared error.

    Parameters
    ----------
    online : sequence of Tensor of shape (B, K, D)
        The online encoder's hidden states of the ``K`` observed tokens, one
        per supervised layer (it saw the context only).
    target : sequence of Tensor of shape (B, K, D)
        The target encoder's hidden states of the same tokens at the same
        layers (it saw the whole window); not differentiated through.

    Returns
    -------
    loss : Tensor of shape ()
        0 exactly when every pair matches.

    Examples
    --------
    >>> import torch
    >>> from sk_brainjepa.training import context_loss
    >>> h = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(0))
    >>> float(context_loss([h, h], [h, h]))
    0.0
    """
    online, target = list(online), list(target)
    if not online or len(online) != len(target):
        raise ValueError(
            "context_loss needs one target per online hidden state (at least "
            f"one); got {len(online)} online and {len(target)} target."
        )
    losses = [
        F.mse_loss(normalize_targets(o.float()), normalize_targets(t.detach().float()))
        for o, t in zip(online, target, strict=True)
    ]
    return torch.stack(losses).mean()


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
