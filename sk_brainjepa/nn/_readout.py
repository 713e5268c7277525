"""Subject-level readouts of an encoder's output tokens."""

from __future__ import annotations

import torch

# Readouts that give one feature vector per subject (what a linear model or a
# head reads); "tokens" keeps them all, a 3-D array.
FEATURE_READOUTS = ("mean", "roi", "connectivity")
READOUTS = (*FEATURE_READOUTS, "tokens")

# Floor on a ROI's token-trajectory norm, so a ROI whose tokens do not change
# over time (a constant input) correlates 0 with the others instead of NaN.
_NORM_FLOOR = 1e-12


def token_connectivity(tokens: torch.Tensor, n_rois: int) -> torch.Tensor:
    """Correlation between ROIs of their token trajectories, upper triangle.

    Each ROI's tokens over the W time patches form a trajectory of shape
    (W, D). Each feature is centred over the patches (which removes what the
    ROI's tokens share at every time, its positional embedding included); the
    centred trajectory is flattened to W * D values and scaled to unit norm;
    the readout is the inner product of every pair of ROIs, i.e. a Pearson-like
    correlation in representation space.

    The mean readout averages features that are, for the most part, odd
    functions of the input; for sign-symmetric signals such as z-scored BOLD
    their average keeps little of the covariance structure that connectivity
    differences live in. This readout is second order by construction.

    Parameters
    ----------
    tokens : Tensor of shape (B, n_rois * W, D)
        Encoder output in the encoder's ROI-major token order.
    n_rois : int

    Returns
    -------
    connectivity : Tensor of shape (B, n_rois * (n_rois - 1) // 2)
        Entries ``(i, j)`` with ``i < j`` in row-major order, in [-1, 1].

    Raises
    ------
    ValueError
        If the token count is not a multiple of ``n_rois`` or there is a
        single time patch (no trajectory to correlate).
    """
    batch, n_tokens, dim = tokens.shape
    if n_tokens % n_rois:
        raise ValueError(
            f"tokens has {n_tokens} tokens, not a multiple of n_rois={n_rois}."
        )
    n_patches = n_tokens // n_rois
    if n_patches < 2:
        raise ValueError(
            "readout='connectivity' needs at least 2 time patches per ROI; the "
            f"model window holds {n_patches} (n_timepoints // patch_size)."
        )
    trajectories = tokens.reshape(batch, n_rois, n_patches, dim)
    centred = trajectories - trajectories.mean(dim=2, keepdim=True)
    flat = centred.reshape(batch, n_rois, n_patches * dim)
    unit = flat / flat.norm(dim=-1, keepdim=True).clamp_min(_NORM_FLOOR)
    similarity = unit @ unit.transpose(1, 2)  # (B, R, R)
    rows, cols = torch.triu_indices(n_rois, n_rois, offset=1, device=tokens.device)
    return similarity[:, rows, cols]


def read_out(tokens: torch.Tensor, n_rois: int, readout: str) -> torch.Tensor:
    """Subject features from the encoder's output tokens.

    Parameters
    ----------
    tokens : Tensor of shape (B, n_rois * W, D)
        Encoder output (ROI-major token order).
    n_rois : int
    readout : {"mean", "roi", "connectivity", "tokens"}
        ``"mean"``: mean over all tokens, (B, D), the paper's readout.
        ``"roi"``: per-ROI mean over time patches, flattened to (B, n_rois * D).
        ``"connectivity"``: :func:`token_connectivity`,
        (B, n_rois * (n_rois - 1) // 2). ``"tokens"``: the input unchanged.

    Returns
    -------
    features : Tensor
    """
    if readout == "mean":
        return tokens.mean(dim=1)
    if readout == "roi":
        batch, _, dim = tokens.shape
        return tokens.reshape(batch, n_rois, -1, dim).mean(dim=2).flatten(1)
    if readout == "connectivity":
        return token_connectivity(tokens, n_rois)
    if readout == "tokens":
        return tokens
    raise ValueError(f"readout must be one of {READOUTS}; got {readout!r}.")


def n_readout_features(readout: str, n_rois: int, embed_dim: int) -> int:
    """Width of a 2-D readout (``"tokens"`` has none)."""
    widths = {
        "mean": embed_dim,
        "roi": n_rois * embed_dim,
        "connectivity": n_rois * (n_rois - 1) // 2,
    }
    if readout not in widths:
        raise ValueError(f"readout={readout!r} has no fixed feature width.")
    return widths[readout]
