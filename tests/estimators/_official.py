"""Small checkpoints in the official Brain-JEPA layout, built offline for tests.

The layout (docs/differences-from-official.md, "Checkpoint layout"): a dict
with ``encoder``, ``target_encoder``, ``predictor`` and training state; model
state dicts carry the DDP prefix ``module.`` and the frozen time sin-cos
tables ``pos_embed_proj.emb_h`` / ``predictor_2dpe_proj.emb_h``; the
gradients are in no state dict.
"""

import numpy as np
import torch

from sk_brainjepa import write_gradient_csv
from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAPredictor,
    EncoderConfig,
    PredictorConfig,
)

N_TIME_PATCHES = 10  # the official table is built for 160 frames of 16


def official_time_table(n_rois, n_time_patches, dim):
    """emb_h as the official code builds it: sin-cos of the time-patch index."""
    half = dim // 2
    omega = 1.0 / 10000 ** (np.arange(half // 2, dtype=np.float64) / (half / 2))
    t = np.tile(np.arange(n_time_patches, dtype=np.float64), n_rois)  # n = r*W + t
    angles = t[:, None] * omega[None, :]
    return torch.from_numpy(np.concatenate([np.sin(angles), np.cos(angles)], 1)).float()


def _official(module, table_key, width):
    """A module's state dict in the official layout: prefix, no gradients, emb_h."""
    state = {
        f"module.{k}": v for k, v in module.state_dict().items() if k != "gradients"
    }
    n_rois = module.config.n_rois
    state[f"module.{table_key}"] = official_time_table(n_rois, N_TIME_PATCHES, width)
    return state


def write_fake_official(folder, *, n_rois=12, dim=64, depth=1, n_heads=4,
                        predictor=True, seed=0):  # fmt: skip
    """Write ``jepa-ep300.pth.tar`` and ``gradient_mapping.csv`` into ``folder``.

    Returns
    -------
    checkpoint, csv : pathlib.Path
    modules : dict
        ``"encoder"``, ``"target_encoder"`` (and ``"predictor"``): our modules
        with the same weights, for comparisons.
    """
    gen = torch.Generator().manual_seed(seed)
    gradients = torch.randn(n_rois, 30, generator=gen)
    config = EncoderConfig(n_rois=n_rois, embed_dim=dim, depth=depth, n_heads=n_heads)
    modules = {
        name: BrainJEPAEncoder(config, gradients, generator=gen).eval()
        for name in ("encoder", "target_encoder")
    }
    payload = {
        name: _official(module, "pos_embed_proj.emb_h", dim)
        for name, module in modules.items()
    }
    payload["predictor"] = {}
    if predictor:
        pred_config = PredictorConfig(
            n_rois=n_rois, encoder_dim=dim, embed_dim=16, depth=1, n_heads=n_heads
        )
        modules["predictor"] = BrainJEPAPredictor(pred_config, gradients, generator=gen)
        payload["predictor"] = _official(
            modules["predictor"], "predictor_2dpe_proj.emb_h", 16
        )
    payload.update(
        {"opt": {}, "scaler": None, "epoch": 300, "loss": 0.1, "batch_size": 16,
         "world_size": 4, "lr": 1e-6}
    )  # fmt: skip
    checkpoint = folder / "jepa-ep300.pth.tar"
    torch.save(payload, checkpoint)
    csv = folder / "gradient_mapping.csv"
    write_gradient_csv(gradients.numpy().astype(np.float64), csv)
    return checkpoint, csv, modules
