"""Attention each ROI and each functional network receives in a Brain-JEPA encoder.

The paper interprets the pretrained model through network-level attention
(Dong, Li et al., NeurIPS 2024, ablation section): the attention that the tokens
of each ROI receive, averaged over heads, layers and query tokens, then averaged
within functional networks. The encoder's attention runs through fused kernels
(SDPA, flash-attn) that never materialise the attention matrix, so we capture
the queries and keys with forward hooks on each ``attn.qkv`` projection and
recompute ``softmax(q k^T / sqrt(head_dim))`` ourselves, a chunk of queries at a
time, keeping only its column sums.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from sk_brainjepa._utils._deprecation import renamed_keywords
from sk_brainjepa._utils._docstrings import fill_doc
from sk_brainjepa._utils._validation import check_int, check_layout
from sk_brainjepa.estimators import resolve_device, resolve_model
from sk_brainjepa.nn import Attention, BrainJEPAEncoder
from sk_brainjepa.sources import WINDOWS, as_source, cut_windows

logger = logging.getLogger(__name__)

# Attention scores held at once per chunk of queries (batch x heads x queries x
# keys): 2**23 float32 scores are 32 MiB, about 300 queries per chunk at 4,500
# tokens and 6 heads. Chunks this size also ran faster on a CPU than 4x larger
# ones (cache), at the same result.
# Keywords renamed in 0.2 (old -> new), accepted with a FutureWarning until 0.3.
_RENAMED_KEYWORDS = {"n_timepoints": "window_length", "window": "window_position"}
_MAX_CHUNK_SCORES = 2**23


def _received_attention(
    encoder: BrainJEPAEncoder, x: torch.Tensor, query_chunk_size: int | None = None
) -> torch.Tensor:
    """Attention each token receives, per layer and head, averaged over queries.

    Runs ``encoder(x)`` once with a forward hook on every ``Attention.qkv``
    projection. Each hook splits the projection into queries and keys exactly as
    :class:`sk_brainjepa.nn.Attention` does and accumulates the column sums of
    ``softmax(q k^T / sqrt(head_dim))`` over chunks of queries, so memory stays
    bounded by the chunk, not by ``n_tokens ** 2``.

    Parameters
    ----------
    encoder : BrainJEPAEncoder
    x : Tensor of shape (batch, n_rois, n_timepoints)
        On the encoder's device.
    query_chunk_size : int or None, default=None
        Queries per chunk; None picks the largest chunk that keeps one chunk of
        scores under 2**23 values.

    Returns
    -------
    received : Tensor of shape (batch, n_layers, n_heads, n_tokens), float64, CPU
        ``received[b, l, h, n]`` is the mean over query tokens of the
        probability that a query attends to token ``n = roi * W + t``; it sums
        to 1 over ``n``.
    """
    modules = [m for m in encoder.modules() if isinstance(m, Attention)]
    if not modules:
        raise ValueError("The encoder has no sk_brainjepa.nn.Attention modules.")
    per_layer: list[torch.Tensor | None] = [None] * len(modules)

    def make_hook(index: int, attn: Attention):
        def hook(_module, _inputs, qkv: torch.Tensor) -> None:
            batch, n_tokens, width = qkv.shape
            n_heads = attn.n_heads
            head_dim = width // (3 * n_heads)
            # Same split as Attention.forward: (B, N, 3, H, hd), q first, then k.
            parts = qkv.reshape(batch, n_tokens, 3, n_heads, head_dim)
            q = parts[:, :, 0].transpose(1, 2).float()  # (B, H, N, hd)
            # Scaling the keys once costs N*hd, not N*N, per head.
            keys_t = parts[:, :, 1].transpose(1, 2).float().transpose(-2, -1)
            keys_t = keys_t * head_dim**-0.5  # (B, H, hd, N)
            chunk = query_chunk_size or max(
                1, _MAX_CHUNK_SCORES // max(1, batch * n_heads * n_tokens)
            )
            received = torch.zeros(
                batch, n_heads, n_tokens, dtype=torch.float64, device=q.device
            )
            for start in range(0, n_tokens, chunk):
                scores = q[:, :, start : start + chunk] @ keys_t  # (B, H, c, N)
                # Softmax in place (one buffer per chunk): exp(s - row max) ...
                scores.sub_(scores.amax(dim=-1, keepdim=True)).exp_()
                inv_norm = scores.sum(dim=-1, keepdim=True).reciprocal_()  # (B,H,c,1)
                # ... whose column sums, weighted by each row's 1 / sum, are the
                # attention each key receives from this chunk (one mat-vec).
                from_chunk = inv_norm.transpose(-2, -1) @ scores  # (B, H, 1, N)
                received += from_chunk.squeeze(-2).double()
            per_layer[index] = (received / n_tokens).cpu()

        return hook

    handles = [
        attn.qkv.register_forward_hook(make_hook(i, attn))
        for i, attn in enumerate(modules)
    ]
    try:
        with torch.no_grad():
            encoder(x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [i for i, value in enumerate(per_layer) if value is None]
    if missing:
        raise RuntimeError(
            f"Attention layers {missing} did not run during the encoder's forward "
            "pass; cannot compute their attention."
        )
    return torch.stack(per_layer, dim=1)  # (B, L, H, N)


def _window_batches(X, length: int, window: str, batch_size: int):
    """Yield ``(owners, windows)``: subject indices (B,) and float32 (B, R, T)."""
    owners, windows = [], []
    for i, x in enumerate(X):
        for w in cut_windows(x, length, window):
            owners.append(i)
            windows.append(w)
            if len(windows) == batch_size:
                yield np.asarray(owners), np.stack(windows).astype(np.float32)
                owners, windows = [], []
    if windows:
        yield np.asarray(owners), np.stack(windows).astype(np.float32)


def _resolve_embedder(
    model,
    gradients,
    window_length,
    window_position,
    layout,
    batch_size,
    query_chunk_size,
):
    """Check the options :func:`roi_attention` and :func:`network_attention`
    share, then resolve ``model`` to an embedder (see ``resolve_model``)."""
    if window_position is not None and window_position not in WINDOWS:
        raise ValueError(
            f"window_position must be one of {WINDOWS} or None; got "
            f"{window_position!r}."
        )
    if layout is not None:
        check_layout(layout)
    check_int(batch_size, "batch_size")
    check_int(query_chunk_size, "query_chunk_size", allow_none=True)
    check_int(window_length, "window_length", allow_none=True)
    return resolve_model(
        model,
        gradients=gradients,
        window_length=window_length,
        window_position=window_position,
        layout=layout,
    )


@fill_doc
@renamed_keywords(_RENAMED_KEYWORDS)
def roi_attention(
    model,
    X,
    *,
    per_subject=False,
    gradients=None,
    window_length=None,
    window_position=None,
    layout=None,
    batch_size=4,
    query_chunk_size=None,
    device="auto",
):
    """Share of the encoder's attention that each ROI receives.

    For every window of every subject, the target encoder runs once; in every
    layer and head, the attention probability each token receives is averaged
    over the query tokens, then over heads and layers. A ROI's value is the sum
    over its time-patch tokens, i.e. ``W`` times their mean (``W`` time
    patches per window), so that the ROI values of one window sum to 1. Values
    are averaged over the windows of a subject, then over subjects.

    Parameters
    ----------
    model : BrainJEPAPretrainer, BrainJEPAEmbedder, str or os.PathLike
        A fitted pretrainer (its EMA target encoder, the one ``transform``
        uses), an embedder (its ``encoder``; fitted, or holding a fitted
        pretrainer or a checkpoint path), or a checkpoint path (ours, or the
        official one with ``gradients``). It is never modified.
    X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
        Preprocessed series (scaled as for training), at least the model window
        long, in ``layout``.
    per_subject : bool, default=False
        Return one row per subject instead of the mean over subjects.
    gradients : None, array-like or path, default=None
        Gradients of an official checkpoint (ignored otherwise).
    window_length : int or None, default=None
        Model window in frames; None takes the model's.
    window_position : {"center", "start", "average"} or None, default=None
        Which window of a longer run is used (``"average"``: every
        non-overlapping window, averaged); None takes the embedder's or the
        pretrainer's ``window_position`` (``"center"`` for a checkpoint).
        ``window_length`` and ``window_position`` were called ``n_timepoints``
        and ``window`` before 0.2 (those keywords still work, with a
        ``FutureWarning``, until 0.3).
    layout : {"rois_x_time", "time_x_rois"} or None, default=None
        How each subject of ``X`` is ordered: (n_rois, n_timepoints), or
        (n_timepoints, n_rois) as nilearn returns it. None takes the model's
        ``layout`` (``"rois_x_time"`` for a checkpoint path).
    batch_size : int, default=4
        Windows per forward pass.
    query_chunk_size : int or None, default=None
        Queries whose attention scores are computed at once; None keeps one
        chunk under 2**23 scores (32 MiB in float32).
    %(device)s

    Returns
    -------
    attention : ndarray of shape (n_rois,) or (n_subjects, n_rois), float64
        Non-negative; each row sums to 1.

    See Also
    --------
    network_attention : The same, averaged within functional networks.

    Notes
    -----
    Every query's attention sums to 1 over the keys, so the mean over queries
    is a distribution over tokens. Uniform attention gives ``1 / n_rois`` to
    every ROI.

    Examples
    --------
    >>> from sk_brainjepa import (BrainJEPAPretrainer, make_brain_dynamics,
    ...                           roi_attention)
    >>> X, _ = make_brain_dynamics(n_subjects=4, n_rois=6, n_timepoints=32,
    ...                            random_state=0)
    >>> pre = BrainJEPAPretrainer(window_length=32, max_epochs=1, batch_size=4,
    ...                           random_state=0).fit(X)
    >>> a = roi_attention(pre, X)
    >>> a.shape, round(float(a.sum()), 6)
    ((6,), 1.0)
    """
    embedder = _resolve_embedder(
        model,
        gradients,
        window_length,
        window_position,
        layout,
        batch_size,
        query_chunk_size,
    )
    # Validated once; memory-mapped data stays on disk.
    X = as_source(X, layout=embedder.layout)
    # The embedder's own encoder (shared when it was given fitted): it must be
    # left as found. The window position is the one the embedder uses, also
    # when a given embedder still sets the old name ``window``.
    encoder, length = embedder.encoder_, embedder.window_length_
    window = embedder._renamed_params()["window_position"]
    n_rois = encoder.config.n_rois
    X.check_n_rois(n_rois, "the model")
    X.check_lengths(length)
    n_time_patches = encoder.n_time_patches(length)

    device = resolve_device(device)
    was_training = encoder.training
    encoder.eval()
    sums = np.zeros((len(X), n_rois))
    counts = np.zeros(len(X))
    n_windows = 0
    try:
        encoder.to(device)
        # Windows are cut batch by batch, so memory holds one batch of them.
        for owner, batch in _window_batches(X, length, window, batch_size):
            received = _received_attention(
                encoder, torch.from_numpy(batch).to(device), query_chunk_size
            )
            tokens = received.mean(dim=(1, 2))  # (B, N): over layers and heads
            per_roi = tokens.reshape(len(batch), n_rois, n_time_patches).sum(dim=2)
            np.add.at(sums, owner, per_roi.numpy())
            np.add.at(counts, owner, 1)
            n_windows += len(batch)
    finally:
        # The embedder's encoder is shared: leave it where the embedder keeps it.
        encoder.cpu().train(was_training)
    per_subj = sums / counts[:, None]  # mean over each subject's windows
    logger.debug(
        "roi_attention: %d windows of %d tokens", n_windows, n_rois * n_time_patches
    )
    return per_subj if per_subject else per_subj.mean(axis=0)


def _check_network_labels(network_labels, n_rois: int) -> np.ndarray:
    labels = np.asarray(network_labels)
    if labels.ndim != 1:
        raise ValueError(
            "network_labels must be 1-D, one label per ROI; got an array of shape "
            f"{labels.shape}."
        )
    if len(labels) != n_rois:
        raise ValueError(
            f"network_labels has {len(labels)} labels but the model has {n_rois} "
            "ROIs; give one network label per ROI, in the ROI order of X."
        )
    if pd.isna(pd.Series(labels, dtype=object)).any():
        raise ValueError("network_labels contains missing values (None or NaN).")
    return labels


@renamed_keywords(_RENAMED_KEYWORDS)
def network_attention(
    model,
    X,
    network_labels,
    *,
    per_subject=False,
    gradients=None,
    window_length=None,
    window_position=None,
    layout=None,
    batch_size=4,
    query_chunk_size=None,
    device="auto",
):
    """Attention each functional network receives, as in the Brain-JEPA paper.

    The per-ROI attention of :func:`roi_attention` (averaged over heads,
    layers, query tokens and each ROI's time patches, then over subjects) is
    averaged over the ROIs of each network and normalised to sum to 1.

    Parameters
    ----------
    model : BrainJEPAPretrainer, BrainJEPAEmbedder, str or os.PathLike
        See :func:`roi_attention`.
    X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
        Preprocessed series.
    network_labels : array-like of shape (n_rois,)
        The network of each ROI, in the ROI order of ``X`` (e.g. the 7 Yeo
        network names of Schaefer-400, plus ``"Subcortical"`` for Tian-50).
        Any hashable labels (strings, integers).
    per_subject : bool, default=False
        Return a DataFrame with one row per subject (each normalised) instead
        of a Series for the group.
    gradients, window_length, window_position, layout, batch_size, \
query_chunk_size, device
        See :func:`roi_attention`.

    Returns
    -------
    attention : pandas.Series of shape (n_networks,)
        Named ``"attention"``, indexed by network label (index name
        ``"network"``) in order of first appearance in ``network_labels``;
        sums to 1. With ``per_subject=True``, a DataFrame of shape
        (n_subjects, n_networks) whose rows each sum to 1.

    See Also
    --------
    roi_attention : The per-ROI values this is built on.
    sk_brainjepa.plotting.plot_network_attention : Bar or radar chart.

    Notes
    -----
    Networks are compared by their *mean* ROI value, so a large network does
    not score higher merely by holding more ROIs; uniform attention gives
    every network ``1 / n_networks``.

    References
    ----------
    Dong, Li et al., "Brain-JEPA: Brain Dynamics Foundation Model with Gradient
    Positioning and Spatiotemporal Masking", NeurIPS 2024, arXiv:2409.19407.

    Examples
    --------
    >>> from sk_brainjepa import (BrainJEPAPretrainer, make_brain_dynamics,
    ...                           network_attention)
    >>> X, _, nets = make_brain_dynamics(n_subjects=4, n_rois=6, n_timepoints=32,
    ...                                  n_networks=2, random_state=0,
    ...                                  return_networks=True)
    >>> pre = BrainJEPAPretrainer(window_length=32, max_epochs=1, batch_size=4,
    ...                           random_state=0).fit(X)
    >>> att = network_attention(pre, X, [f"net{k}" for k in nets])
    >>> list(att.index), round(float(att.sum()), 6)
    (['net0', 'net1'], 1.0)
    """
    # Resolved once, so the labels are checked against the model's ROI count
    # before any attention is computed, whatever the model argument.
    embedder = _resolve_embedder(
        model,
        gradients,
        window_length,
        window_position,
        layout,
        batch_size,
        query_chunk_size,
    )
    labels = _check_network_labels(network_labels, embedder.n_rois_)
    per_roi = roi_attention(
        embedder,
        X,
        per_subject=True,
        batch_size=batch_size,
        query_chunk_size=query_chunk_size,
        device=device,
    )
    if not per_subject:
        # The paper's order: average the ROI values over subjects first.
        per_roi = per_roi.mean(axis=0, keepdims=True)
    frame = _network_shares(per_roi, labels)
    if per_subject:
        frame.index = pd.RangeIndex(len(frame), name="subject")
        return frame
    group = frame.iloc[0]
    group.name = "attention"
    return group


def _network_shares(per_roi: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Mean of each row's ROI values per network, normalised to sum to 1 per row.

    Columns are the networks in order of first appearance in ``labels``.
    """
    labels = pd.Series(labels, dtype=object)
    networks = list(pd.unique(labels))
    # groupby sorts its keys; reindex restores the order of first appearance.
    means = pd.DataFrame(per_roi.T).groupby(labels.to_numpy()).mean().T[networks]
    means = means.div(means.sum(axis=1), axis=0)
    means.columns = pd.Index(networks, name="network")
    return means
