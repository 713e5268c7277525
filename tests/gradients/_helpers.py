"""Helpers shared by the gradients tests."""

import numpy as np

N_ROIS = 30


def make_fc(seed, n_rois=N_ROIS, n_timepoints=200, noise=1.0):
    """Correlation matrix of ROIs driven by two factors whose mix varies along an
    axis, so the leading gradients are well separated (as in real FC)."""
    rng = np.random.default_rng(seed)
    position = np.linspace(0, np.pi, n_rois)
    factors = rng.standard_normal((2, n_timepoints))
    loadings = np.stack([np.cos(position), np.sin(position)], axis=1)
    series = loadings @ factors + noise * rng.standard_normal((n_rois, n_timepoints))
    return np.corrcoef(series)
