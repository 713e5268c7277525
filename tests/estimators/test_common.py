"""Embedding a source window by window."""

import tracemalloc

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from sk_brainjepa.estimators._common import embed
from sk_brainjepa.nn import BrainJEPAEncoder, EncoderConfig, read_out
from sk_brainjepa.sources import as_source, cut_windows

from ._helpers import _memmap


# ------------------------------------------------------------------- embed
def _embed_in_memory(encoder, X, *, n_timepoints, window, readout, batch_size):
    """The former embed(): every window concatenated first, then batched."""
    windows, owner = [], []
    for i, x in enumerate(X):
        w = cut_windows(x, n_timepoints, window)
        windows.append(w)
        owner.extend([i] * len(w))
    windows = np.concatenate(windows).astype(np.float32, copy=False)
    owner = np.asarray(owner)
    n_rois, feats = windows.shape[1], []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            tokens = encoder(torch.from_numpy(windows[start : start + batch_size]))
            feats.append(read_out(tokens, n_rois, readout).numpy())
    feats = np.concatenate(feats)
    if len(owner) == len(X):
        return feats
    summed = np.zeros((len(X),) + feats.shape[1:], dtype=np.float64)
    np.add.at(summed, owner, feats)
    counts = np.bincount(owner, minlength=len(X))
    return (summed / counts.reshape((-1,) + (1,) * (feats.ndim - 1))).astype("f4")


@pytest.fixture(scope="module")
def encoder():
    config = EncoderConfig(n_rois=4, gradient_dim=3, embed_dim=16, depth=1, n_heads=2)
    gen = torch.Generator().manual_seed(0)
    grads = torch.randn(4, 3, generator=gen)
    return BrainJEPAEncoder(config, grads, generator=gen).eval()


@pytest.mark.parametrize("window", ["center", "start", "average"])
@pytest.mark.parametrize("readout", ["mean", "roi", "connectivity", "tokens"])
def test_streaming_embed_equals_in_memory_embed(encoder, tmp_path, window, readout):
    rng = np.random.default_rng(1)
    ragged = [rng.standard_normal((4, n)) for n in (32, 70, 49, 96, 64)]
    stack = rng.standard_normal((5, 4, 80)).astype(np.float32)
    mapped = _memmap(tmp_path / "X.npy", stack)
    inputs = [
        (ragged, ragged),
        (as_source(mapped) if window == "start" else mapped, stack),
    ]
    for X, data in inputs:
        kwargs = dict(n_timepoints=32, window=window, readout=readout, batch_size=3)
        got = embed(encoder, X, device=torch.device("cpu"), **kwargs)
        assert got.dtype == np.float32
        assert_array_equal(got, _embed_in_memory(encoder, data, **kwargs))


def test_streaming_embed_memory_does_not_grow_with_subjects(tmp_path):
    config = EncoderConfig(n_rois=32, gradient_dim=3, embed_dim=16, depth=1, n_heads=2)
    wide = BrainJEPAEncoder(config, torch.zeros(32, 3)).eval()
    data = np.random.default_rng(2).standard_normal((100, 32, 64), dtype="f4")
    mapped = _memmap(tmp_path / "X.npy", data)
    kwargs = dict(n_timepoints=32, window="center", readout="mean", batch_size=8)
    peaks = []
    for run in (embed, _embed_in_memory):
        tracemalloc.start()
        try:
            run(wide, mapped, **kwargs, **({"device": "cpu"} if run is embed else {}))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    windows = 100 * 32 * 32 * 4  # 410 kB: what the former embed held at once
    assert peaks[1] > windows > 2 * peaks[0]
