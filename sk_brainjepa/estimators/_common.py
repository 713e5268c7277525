"""What the Brain-JEPA estimators share: devices, windows, embedding, parameters.

The ``gradients`` parameter is resolved in :mod:`sk_brainjepa.gradients._resolve`.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from sk_brainjepa.nn import read_out
from sk_brainjepa.sources import ArraySource, TimeSeriesSource, window_starts


def resolve_device(device) -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU; anything else is checked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available here."
        )
    return resolved


@torch.no_grad()
def embed(
    encoder: torch.nn.Module,
    X,
    *,
    n_timepoints: int,
    window: str,
    readout: str,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """Frozen features of an encoder, streaming the windows batch by batch.

    Windows are read from ``X`` one at a time into a reused batch buffer, so
    memory holds one batch of windows and the output, whatever the number of
    subjects; memory-mapped arrays and file sources are read lazily.

    Parameters
    ----------
    encoder : BrainJEPAEncoder
    X : list, ndarray or TimeSeriesSource
        Validated subjects of shape (n_rois, n_timepoints_i), or a source from
        :func:`sk_brainjepa.sources.as_source`.
    n_timepoints : int
        Model window in frames.
    window : {"center", "start", "average"}
        Which window of a longer run is embedded; ``"average"`` averages the
        features of all non-overlapping windows.
    readout : {"mean", "roi", "connectivity", "lagged", "tokens"}
        Mean over tokens (B, D); per-ROI mean over time patches flattened to
        (B, R * D); correlation between ROIs of their token trajectories
        (B, R * (R - 1) / 2); the same with the second ROI one time patch
        later, both directions (B, R * (R - 1)); or every token (B, R * W, D).
        See :func:`sk_brainjepa.nn.read_out`.
    batch_size : int
    device : torch.device

    Returns
    -------
    features : ndarray, float32
    """
    source = X if isinstance(X, TimeSeriesSource) else ArraySource(X)
    source.check_lengths(n_timepoints)
    n_subjects, n_rois = len(source), source.n_rois

    # Which frames each subject's windows hold: the rule of sources.window_starts.
    counts = np.array(
        [len(window_starts(n, n_timepoints, window)) for n in source.lengths]
    )
    one_each = bool(np.all(counts == 1))
    buffer = np.empty(
        (min(batch_size, int(counts.sum())), n_rois, n_timepoints), dtype=np.float32
    )
    owners = np.empty(len(buffer), dtype=np.int64)
    # float32 rows when each subject has one window; float64 sums to average.
    out = None

    def run(n_filled: int) -> None:
        nonlocal out
        tokens = encoder(torch.from_numpy(buffer[:n_filled]).to(device)).float()
        feats = read_out(tokens, n_rois, readout).cpu().numpy()
        if out is None:
            dtype = np.float32 if one_each else np.float64
            out = np.zeros((n_subjects,) + feats.shape[1:], dtype=dtype)
        if one_each:
            out[owners[:n_filled]] = feats
        else:
            np.add.at(out, owners[:n_filled], feats)

    was_training = encoder.training
    encoder.eval()
    try:
        filled = 0
        for i in range(n_subjects):
            for start in window_starts(source.lengths[i], n_timepoints, window):
                buffer[filled] = source.window(i, start, n_timepoints)
                owners[filled] = i
                filled += 1
                if filled == len(buffer):
                    run(filled)
                    filled = 0
        if filled:
            run(filled)
    finally:
        encoder.train(was_training)
    if one_each:
        return out
    # Average the windows of each subject.
    return (out / counts.reshape((-1,) + (1,) * (out.ndim - 1))).astype(np.float32)


def params_to_json(params: dict) -> str:
    """JSON record of estimator parameters; non-JSON values are stored as their repr.

    Checkpoints are read with ``weights_only=True``, so they may hold only
    tensors and plain values. Arrays and estimators among the parameters (e.g.
    ``gradients``) are replaced by a marker: their fitted result is saved as a
    tensor instead.
    """

    def encode(value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (np.integer, np.floating)):
            return value.item()
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        if isinstance(value, dict):
            return {str(k): encode(v) for k, v in value.items()}
        return {"__unserialisable__": repr(value)[:200]}

    return json.dumps({k: encode(v) for k, v in params.items()})


def params_from_json(text: str, signature_params: set[str]) -> dict:
    """Parameters back from :func:`params_to_json` (markers become None)."""
    raw = json.loads(text)
    out = {}
    for key, value in raw.items():
        if key not in signature_params:
            continue
        if isinstance(value, dict) and "__unserialisable__" in value:
            value = None
        out[key] = (
            tuple(value) if key in ("ema",) and isinstance(value, list) else value
        )
    return out
