"""Helpers shared by the nn tests."""

import numpy as np
import torch

from sk_brainjepa.nn import BrainJEPAEncoder, BrainJEPAPredictor, model_config

PATCH = 16


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _grads(n_rois, m=3, seed=0):
    return torch.randn(n_rois, m, generator=_gen(seed + 1000))


def _encoder(n_rois=5, seed=0, **overrides):
    overrides.setdefault("gradient_dim", 3)
    cfg, _ = model_config("tiny", n_rois=n_rois, **overrides)
    grads = _grads(n_rois, cfg.gradient_dim)
    return BrainJEPAEncoder(cfg, grads, generator=_gen(seed))


def _predictor(n_rois=5, seed=0, **overrides):
    overrides.setdefault("gradient_dim", 3)
    _, cfg = model_config("tiny", n_rois=n_rois, **overrides)
    grads = _grads(n_rois, cfg.gradient_dim)
    return BrainJEPAPredictor(cfg, grads, generator=_gen(seed))


def _x(batch, n_rois, n_timepoints, seed=0):
    return torch.randn(batch, n_rois, n_timepoints, generator=_gen(seed + 2000))


def _official_time_table(n_rois, n_time_patches, dim):
    """emb_h as the reference describes it, in numpy: row r*W+t codes t."""
    half = dim // 2
    omega = 1.0 / 10000 ** (np.arange(half // 2, dtype=np.float64) / (half / 2))
    t = np.tile(np.arange(n_time_patches, dtype=np.float64), n_rois)
    angles = np.outer(t, omega)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)
