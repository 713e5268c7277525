"""The fine-tuning model: a head on an encoder readout."""

import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAPredictionModel,
    model_config,
    read_out,
)


def test_prediction_model_heads_on_each_readout():
    cfg, _ = model_config("tiny", n_rois=5, gradient_dim=2)
    gen = torch.Generator().manual_seed(4)
    encoder = BrainJEPAEncoder(cfg, torch.randn(5, 2, generator=gen), generator=gen)
    x = torch.randn(3, 5, 48, generator=gen)
    # 48 frames are 3 time patches of 16: the fewest the lagged readout takes.
    for readout, width in (
        ("mean", 64),
        ("roi", 320),
        ("connectivity", 10),
        ("lagged", 20),
    ):
        model = BrainJEPAPredictionModel(
            encoder, n_outputs=2, readout=readout, head_norm="batchnorm", generator=gen
        ).eval()
        assert model.head.in_features == width
        tokens = encoder(x)
        expected = model.head(model.fc_norm(read_out(tokens, 5, readout)))
        assert_allclose(model(x).detach().numpy(), expected.detach().numpy())
    with pytest.raises(ValueError, match="readout must be one of"):
        BrainJEPAPredictionModel(encoder, readout="tokens")
