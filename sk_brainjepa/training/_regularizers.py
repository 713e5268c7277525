"""Terms added to the JEPA objective against representation collapse.

Each function takes plain tensors and returns a scalar tensor with gradients;
which of them a run uses, and with what weight, is decided by
:class:`~sk_brainjepa.training.Objective`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

# Floor on a standard deviation before dividing by it (a feature that is
# constant over the batch becomes 0, not NaN).
_STD_EPS = 1e-4


def standardize_over_batch(
    targets: Tensor, sum_over_batch: Callable[[Tensor], Tensor] | None = None
) -> Tensor:
    """Standardise every (token, feature) of the targets across the batch.

    What all subjects share at a token position (its positional code, most of
    the energy of Brain-JEPA's layer-normalised targets at initialisation) is
    subtracted, and what is left is scaled to unit variance: the predictor is
    asked for how *this* subject differs from the batch at that position, so
    predicting the position alone no longer lowers the loss.

    Parameters
    ----------
    targets : Tensor of shape (B, N, D)
        Target features of the same N token positions for every sample.
    sum_over_batch : callable or None, default=None
        Completes a sum over this process's samples into one over the global
        batch (an all-reduce in data-parallel training, so every rank uses the
        statistics one process would); None when the batch is all here.

    Returns
    -------
    standardized : Tensor of shape (B, N, D)
        With a global batch of 1 there is no spread to standardise by: the
        input is returned unchanged.
    """
    moments = torch.stack(
        [
            torch.full_like(targets[0], float(targets.shape[0])),
            targets.sum(dim=0),
            targets.pow(2).sum(dim=0),
        ]
    )  # (3, N, D): count, sum, sum of squares
    if sum_over_batch is not None:
        moments = sum_over_batch(moments)
    count, total, squares = moments
    if float(count.flatten()[0]) < 2:
        return targets
    mean = total / count
    variance = (squares / count - mean.pow(2)).clamp_min(0.0)
    return (targets - mean) / (variance.sqrt() + _STD_EPS)


def variance_covariance_terms(embeddings: Tensor) -> tuple[Tensor, Tensor]:
    """VICReg's variance and covariance terms (Bardes, Ponce and LeCun, 2022).

    The variance term is a hinge that keeps the standard deviation of every
    feature across the batch at 1 or more; the covariance term pushes the
    off-diagonal covariances towards 0, so that features do not all carry the
    same direction.

    Parameters
    ----------
    embeddings : Tensor of shape (B, D)
        One vector per sample (here: the mean of a sample's context tokens).

    Returns
    -------
    variance : Tensor of shape ()
        ``mean_d relu(1 - sqrt(var_d + 1e-4))``; 0 when every feature spreads
        with a standard deviation of at least 1 (about 1 for a collapsed batch).
    covariance : Tensor of shape ()
        Sum of the squared off-diagonal covariances, divided by D.
    """
    if embeddings.ndim != 2:
        raise ValueError(
            f"embeddings must have shape (batch, dim); got {tuple(embeddings.shape)}."
        )
    z = embeddings.float()
    n, dim = z.shape
    if n < 2:
        zero = z.sum() * 0.0  # keeps the graph: a batch of 1 adds nothing
        return zero, zero
    centred = z - z.mean(dim=0)
    std = torch.sqrt(centred.var(dim=0) + 1e-4)
    variance = torch.relu(1.0 - std).mean()
    cov = centred.T @ centred / (n - 1)
    off_diagonal = cov - torch.diag(torch.diagonal(cov))
    covariance = off_diagonal.pow(2).sum() / dim
    return variance, covariance


def consistency_terms(first: Tensor, second: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Agreement of two views of each sample, with VICReg's anti-collapse terms.

    Parameters
    ----------
    first, second : Tensor of shape (B, D)
        One vector per sample and view (here: the mean token features of the
        first and of the second half of a subject's window).

    Returns
    -------
    invariance : Tensor of shape ()
        Mean squared difference between the two views, over samples and
        features (0 when they agree).
    variance, covariance : Tensor of shape ()
        :func:`variance_covariance_terms` of each view, averaged: agreement
        alone is reached by mapping every subject to one vector, which these
        forbid.
    """
    if first.shape != second.shape or first.ndim != 2:
        raise ValueError(
            "first and second must have the same shape (batch, dim); got "
            f"{tuple(first.shape)} and {tuple(second.shape)}."
        )
    invariance = (first.float() - second.float()).pow(2).mean()
    var_a, cov_a = variance_covariance_terms(first)
    var_b, cov_b = variance_covariance_terms(second)
    return invariance, (var_a + var_b) / 2, (cov_a + cov_b) / 2


def epps_pulley(projections: Tensor, n_knots: int = 17, t_max: float = 3.0) -> Tensor:
    """Epps-Pulley statistic of each column against the standard normal.

    ``n * integral |phi_n(t) - exp(-t^2 / 2)|^2 w(t) dt`` with the empirical
    characteristic function ``phi_n(t) = mean_i exp(i t x_i)`` and the Gaussian
    weight ``w(t) = exp(-t^2 / 2)``. The integrand is even in t, so the integral
    is twice the one over ``[0, t_max]``, taken by the trapezoidal rule on
    ``n_knots`` points. Beyond ``t_max = 3`` the weight is below 0.012 (and
    ``|phi_n - phi|^2 <= 4``), so the truncation changes little.

    Parameters
    ----------
    projections : Tensor of shape (n, M)
        ``n`` samples of ``M`` one-dimensional variables.
    n_knots : int, default=17
    t_max : float, default=3.0

    Returns
    -------
    statistic : Tensor of shape (M,)
        About 0 for standard normal samples, large for anything else (a
        constant, a wrong scale, a skewed or multimodal law).
    """
    n = projections.shape[0]
    t = torch.linspace(0.0, t_max, n_knots, device=projections.device)
    tx = projections.float().unsqueeze(-1) * t  # (n, M, K)
    real = torch.cos(tx).mean(dim=0) - torch.exp(-0.5 * t**2)  # (M, K)
    imag = torch.sin(tx).mean(dim=0)
    integrand = (real**2 + imag**2) * torch.exp(-0.5 * t**2)
    step = t_max / (n_knots - 1)
    trapezoid = step * (
        integrand.sum(dim=-1) - 0.5 * (integrand[:, 0] + integrand[:, -1])
    )
    return n * 2.0 * trapezoid


def sigreg(
    embeddings: Tensor, n_projections: int, generator: torch.Generator
) -> Tensor:
    """SIGReg: sketched isotropic Gaussian regularisation (LeJEPA).

    Balestriero and LeCun (2025, arXiv:2511.08544) show that an isotropic
    Gaussian is the embedding law that minimises downstream risk, and enforce
    it by projecting the embeddings on random unit directions and testing each
    projection for normality with the Epps-Pulley statistic; its mean over the
    directions is the penalty. New directions are drawn at every call.

    Parameters
    ----------
    embeddings : Tensor of shape (B, D)
    n_projections : int
        Random directions per call.
    generator : torch.Generator
        CPU generator the directions are drawn from (seeded by the estimator).

    Returns
    -------
    penalty : Tensor of shape ()
        0 at best; it grows when the embeddings collapse (a constant projection
        scores about ``n * 2 * integral (1 - phi)^2 w``).
    """
    if embeddings.ndim != 2:
        raise ValueError(
            f"embeddings must have shape (batch, dim); got {tuple(embeddings.shape)}."
        )
    dim = embeddings.shape[1]
    directions = torch.randn(dim, n_projections, generator=generator)
    directions = directions / directions.norm(dim=0, keepdim=True)
    directions = directions.to(embeddings.device)
    return epps_pulley(embeddings.float() @ directions).mean()


def expected_epps_pulley_under_null() -> float:
    """Expected Epps-Pulley statistic of standard normal samples, for any n.

    ``E[n |phi_n(t) - phi(t)|^2] = 1 - exp(-t^2)`` for every t, so the expected
    statistic is ``integral (1 - exp(-t^2)) exp(-t^2 / 2) dt`` over the real
    line, ``sqrt(2 pi) - sqrt(2 pi / 3)`` (about 1.06); the quadrature of
    :func:`epps_pulley`, truncated at ``t_max``, gives a little less.
    """
    return math.sqrt(2 * math.pi) - math.sqrt(2 * math.pi / 3)
