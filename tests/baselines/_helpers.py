"""Helpers shared by the tests of the baseline torch modules."""

import torch

from sk_brainjepa.baselines._bnt import BrainNetworkTransformer
from sk_brainjepa.baselines._brainnetcnn import BrainNetCNN

# Small widths so every test runs in milliseconds on CPU.
SMALL_CNN = dict(e2e_channels=(4, 4), e2n_channels=8, n2g_channels=16, hidden=(8,))
SMALL_BNT = dict(n_heads=2, hidden_dim=16, n_clusters=4, head_hidden=(16,))


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _fc(n_subjects, n_rois, seed=0):
    """Symmetric random 'FC' batch of shape (n_subjects, n_rois, n_rois)."""
    a = torch.randn(n_subjects, n_rois, n_rois, generator=_gen(seed))
    return 0.3 * (a + a.mT) / 2


def _make(kind, n_rois, n_outputs=2, seed=0, **kwargs):
    if kind == "cnn":
        return BrainNetCNN(
            n_rois, n_outputs, generator=_gen(seed), **SMALL_CNN, **kwargs
        )
    return BrainNetworkTransformer(
        n_rois, n_outputs, generator=_gen(seed), **SMALL_BNT, **kwargs
    )
