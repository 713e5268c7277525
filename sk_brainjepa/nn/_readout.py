"""Subject-level readouts of an encoder's output tokens."""

from __future__ import annotations

import torch

from sk_brainjepa._utils._validation import check_int

# Readouts that give one feature vector per subject (what a linear model or a
# head reads); "tokens" keeps them all, a 3-D array.
FEATURE_READOUTS = ("mean", "roi", "connectivity", "lagged")
READOUTS = (*FEATURE_READOUTS, "tokens")

# Floor on a ROI's token-trajectory norm, so a ROI whose tokens do not change
# over time (a constant input) correlates 0 with the others instead of NaN.
_NORM_FLOOR = 1e-12


def _check_trajectories(
    tokens: torch.Tensor, n_rois: int, min_patches: int, what: str
) -> torch.Tensor:
    """Tokens as per-ROI trajectories, after checking there are enough patches.

    Parameters
    ----------
    tokens : Tensor of shape (B, n_rois * W, D)
    n_rois : int
    min_patches : int
        Fewest time patches W the readout can use.
    what : str
        The readout, as the error message names it (e.g. ``"readout='lagged'"``).

    Returns
    -------
    trajectories : Tensor of shape (B, n_rois, W, D)
    """
    batch, n_tokens, dim = tokens.shape
    if n_tokens % n_rois:
        raise ValueError(
            f"tokens has {n_tokens} tokens, not a multiple of n_rois={n_rois}."
        )
    n_patches = n_tokens // n_rois
    if n_patches < min_patches:
        raise ValueError(
            f"{what} needs at least {min_patches} time patches per ROI; "
            f"the model window holds {n_patches} (n_timepoints // patch_size)."
        )
    return tokens.reshape(batch, n_rois, n_patches, dim)


def _unit_trajectories(trajectories: torch.Tensor) -> torch.Tensor:
    """Centre each feature over the patches, flatten, scale to unit norm.

    Parameters
    ----------
    trajectories : Tensor of shape (B, R, W, D)

    Returns
    -------
    unit : Tensor of shape (B, R, W * D)
        Zero for a ROI whose tokens do not change over the patches.
    """
    batch, n_rois = trajectories.shape[:2]
    centred = trajectories - trajectories.mean(dim=2, keepdim=True)
    flat = centred.reshape(batch, n_rois, -1)
    return flat / flat.norm(dim=-1, keepdim=True).clamp_min(_NORM_FLOOR)


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
    unit = _unit_trajectories(
        _check_trajectories(tokens, n_rois, 2, "readout='connectivity'")
    )
    similarity = unit @ unit.transpose(1, 2)  # (B, R, R)
    rows, cols = torch.triu_indices(n_rois, n_rois, offset=1, device=tokens.device)
    return similarity[:, rows, cols]


def token_lagged_connectivity(
    tokens: torch.Tensor, n_rois: int, lag: int = 1
) -> torch.Tensor:
    """Lagged correlation between ROIs of their token trajectories, both directions.

    Entry ``(i, j)`` correlates ROI ``i``'s tokens at patches ``t`` with ROI
    ``j``'s at patches ``t + lag``, for ``t = 0 .. W - 1 - lag``: large when
    what ``i`` represents now, ``j`` represents ``lag`` patches later, i.e.
    when ``i`` leads ``j``. Unlike :func:`token_connectivity`, which is
    symmetric, ``(i, j)`` and ``(j, i)`` differ, so the direction of a lead is
    kept.

    Each of the two segments (the leading one, patches ``0 .. W - 1 - lag``,
    and the following one, patches ``lag .. W - 1``) is centred feature by
    feature over its own ``W - lag`` patches (which removes what the ROI's
    tokens share at every time, its positional embedding included), flattened
    and scaled to unit norm, so every entry is a Pearson-like correlation in
    [-1, 1].

    Parameters
    ----------
    tokens : Tensor of shape (B, n_rois * W, D)
        Encoder output in the encoder's ROI-major token order.
    n_rois : int
    lag : int, default=1
        Lag in time patches. ``read_out(..., "lagged")`` uses 1 and offers no
        other: a patch spans ``patch_size`` frames (16 in the presets, 11.5 s
        at the HCP TR of 0.72 s), already longer than the lags of a few
        seconds measured between regions, and each further patch of lag leaves
        one patch fewer to correlate over in the short windows the model sees
        (10 patches for the official one). Call this function for longer lags.

    Returns
    -------
    lagged : Tensor of shape (B, n_rois * (n_rois - 1))
        The off-diagonal entries of the (n_rois, n_rois) lagged matrix in
        row-major order: ``(0, 1), (0, 2), ..., (0, R-1), (1, 0), (1, 2), ...,
        (R-1, R-2)``; entry ``(i, j)`` is at index ``i * (R - 1) + j - (j > i)``.
        The diagonal (each ROI's own lagged autocorrelation) is left out.

    Raises
    ------
    ValueError
        If ``lag`` is not a positive integer, the token count is not a multiple
        of ``n_rois``, or there are fewer than ``lag + 2`` time patches (each
        segment needs two patches to vary over).
    """
    lag = check_int(lag, "lag")
    what = "readout='lagged'" if lag == 1 else f"readout='lagged' with lag={lag}"
    trajectories = _check_trajectories(tokens, n_rois, lag + 2, what)
    leading = _unit_trajectories(trajectories[:, :, :-lag])
    following = _unit_trajectories(trajectories[:, :, lag:])
    lagged = leading @ following.transpose(1, 2)  # (B, R, R): row leads column
    off_diagonal = ~torch.eye(n_rois, dtype=torch.bool, device=tokens.device)
    # Boolean indexing walks the mask in row-major order.
    return lagged[:, off_diagonal]


def read_out(tokens: torch.Tensor, n_rois: int, readout: str) -> torch.Tensor:
    """Subject features from the encoder's output tokens.

    Parameters
    ----------
    tokens : Tensor of shape (B, n_rois * W, D)
        Encoder output (ROI-major token order).
    n_rois : int
    readout : {"mean", "roi", "connectivity", "lagged", "tokens"}
        ``"mean"``: mean over all tokens, (B, D), the paper's readout.
        ``"roi"``: per-ROI mean over time patches, flattened to (B, n_rois * D).
        ``"connectivity"``: :func:`token_connectivity`,
        (B, n_rois * (n_rois - 1) // 2), needs 2 time patches.
        ``"lagged"``: :func:`token_lagged_connectivity` at a lag of one time
        patch, both directions, (B, n_rois * (n_rois - 1)), needs 3 time
        patches. ``"tokens"``: the input unchanged.

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
    if readout == "lagged":
        return token_lagged_connectivity(tokens, n_rois)
    if readout == "tokens":
        return tokens
    raise ValueError(f"readout must be one of {READOUTS}; got {readout!r}.")


def n_readout_features(readout: str, n_rois: int, embed_dim: int) -> int:
    """Width of a 2-D readout (``"tokens"`` has none)."""
    widths = {
        "mean": embed_dim,
        "roi": n_rois * embed_dim,
        "connectivity": n_rois * (n_rois - 1) // 2,
        "lagged": n_rois * (n_rois - 1),
    }
    if readout not in widths:
        raise ValueError(f"readout={readout!r} has no fixed feature width.")
    return widths[readout]
