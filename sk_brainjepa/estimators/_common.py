"""What the Brain-JEPA estimators share: devices, gradients, windows, embedding."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._validation import check_n_rois
from sk_brainjepa.datasets._sources import ArraySource, TimeSeriesSource
from sk_brainjepa.gradients import GradientPositioner, read_gradient_csv
from sk_brainjepa.nn import read_out
from sk_brainjepa.preprocessing import FunctionalConnectivity

WINDOWS = ("center", "start", "average")


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


def default_positioner(n_rois: int, random_state) -> GradientPositioner:
    """The paper's positioner (30 components, 90% sparsity), shrunk for few ROIs.

    Row-wise sparsification keeps ``int(n_rois * (1 - sparsity))`` entries per
    row; with few ROIs 0.9 would keep none, so at least 5 (or ``n_rois - 1``)
    are kept.
    """
    n_keep = max(int(n_rois * 0.1), min(5, n_rois - 1))
    # The +0.5 keeps int(n_rois * (1 - sparsity)) == n_keep despite rounding.
    sparsity = min(0.9, 1.0 - (n_keep + 0.5) / n_rois)
    return GradientPositioner(
        n_components=min(30, n_rois - 2), sparsity=sparsity, random_state=random_state
    )


def resolve_gradients(gradients, X, n_rois: int, random_state) -> np.ndarray:
    """Turn the ``gradients`` parameter into a (n_rois, m) float32 array.

    Parameters
    ----------
    gradients : None, array-like, str, os.PathLike or GradientPositioner
        None fits a ``GradientPositioner`` (30 components, or ``n_rois - 1``
        when there are fewer ROIs) on the FC of ``X``; a positioner that is not
        fitted yet is cloned and fitted the same way; a path is read as a
        gradient CSV in the official layout.
    X : list, ndarray or TimeSeriesSource
        Validated training time series (see
        :func:`sk_brainjepa.datasets.as_source`).
    n_rois : int
    random_state : int, RandomState or None

    Returns
    -------
    gradients : ndarray of shape (n_rois, n_components), float32
    """
    if gradients is None or isinstance(gradients, GradientPositioner):
        positioner = gradients
        try:
            if positioner is None:
                raise NotFittedError
            check_is_fitted(positioner)
            values = positioner.gradients_
        except NotFittedError:
            if positioner is None:
                positioner = default_positioner(n_rois, random_state)
            values = clone(positioner).fit(_training_fc(X, positioner)).gradients_
    elif isinstance(gradients, (str, os.PathLike)):
        values = read_gradient_csv(Path(gradients))
    else:
        values = np.asarray(gradients, dtype=np.float64)
    # C order: a Fortran-ordered copy (as eigensolvers return) would make the
    # projection round differently than the same values reloaded from a file.
    values = np.ascontiguousarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(
            f"gradients must have shape (n_rois, n_components) = ({n_rois}, m) "
            f"to match X; got shape {values.shape}."
        )
    # X is checked against the gradients' ROI count: a transposed X is named.
    check_n_rois(
        n_rois,
        values.shape[0],
        f"the gradients (shape {values.shape})",
        n_timepoints=getattr(X, "lengths", None),
    )
    if not np.all(np.isfinite(values)):
        raise ValueError("gradients contain NaN or infinite values.")
    return values


def _training_fc(X, positioner) -> np.ndarray:
    """The FC the positioner is fitted on: per-subject matrices, or their group
    average computed one subject at a time for data read lazily from disk."""
    from sk_brainjepa.datasets import TimeSeriesSource, group_fc

    if not isinstance(X, TimeSeriesSource):
        return FunctionalConnectivity().fit_transform(X)
    if X.in_memory:
        return FunctionalConnectivity().fit_transform(X.data)
    # The positioner averages a stack the same way (Fisher z for correlation
    # kernels, plain mean for precomputed ones), so the group matrix is what
    # it would have computed, without the (n_subjects, R, R) stack in memory.
    average = "mean" if positioner.kernel == "precomputed" else "fisher"
    return group_fc(X, average=average)


def embedding_windows(x: np.ndarray, n_timepoints: int, window: str) -> np.ndarray:
    """The windows of one subject that its embedding is computed from.

    Returns
    -------
    windows : ndarray of shape (n_windows, n_rois, n_timepoints)
        One window for ``"center"``/``"start"``; every non-overlapping window
        (from the start) for ``"average"``.
    """
    length = x.shape[1]
    if window == "start":
        starts = [0]
    elif window == "center":
        starts = [(length - n_timepoints) // 2]
    else:
        starts = range(0, length - n_timepoints + 1, n_timepoints)
    return np.stack([x[:, s : s + n_timepoints] for s in starts])


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
        :func:`sk_brainjepa.datasets.as_source`.
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

    def starts_of(length: int) -> range | list:
        # The windows of embedding_windows, as start frames.
        if window == "start":
            return [0]
        if window == "center":
            return [(length - n_timepoints) // 2]
        return range(0, length - n_timepoints + 1, n_timepoints)

    counts = np.array([len(starts_of(int(n))) for n in source.lengths])
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
            for start in starts_of(int(source.lengths[i])):
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
