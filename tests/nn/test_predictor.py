"""BrainJEPAPredictor: output shapes, dependence on the targets, input checks."""

import pytest
import torch
from numpy.testing import assert_allclose

from ._helpers import _gen, _predictor


# ------------------------------------------------------------------- predictor
def test_predictor_output_shape_and_target_dependence():
    pred = _predictor(n_rois=5).eval()
    z = torch.randn(2, 6, 64, generator=_gen(3))
    obs = torch.tensor([[0, 1, 2, 3, 4, 5], [9, 8, 7, 6, 5, 4]])
    tgt = torch.tensor([[10, 11, 12], [0, 1, 2]])
    with torch.no_grad():
        out = pred(z, obs, tgt, n_time_patches=3)
        other = pred(z, obs, tgt + 1, n_time_patches=3)
        perm = torch.tensor([2, 0, 1])
        permuted = pred(z, obs, tgt[:, perm], n_time_patches=3)
    assert out.shape == (2, 3, 64)
    # Different target positions give different predictions ...
    assert (out - other).abs().amax() > 1e-3
    # ... and reordering the targets reorders the predictions (one joint pass).
    assert_allclose(permuted, out[:, perm], atol=1e-5)


@pytest.mark.parametrize(
    ("obs", "tgt", "match"),
    [
        (torch.tensor([[0, 1], [2, 3]]), torch.tensor([[4], [5]]), "index the 3 rows"),
        (
            torch.tensor([[0, 1, 2], [2, 3, 4]]),
            torch.tensor([[4], [15]]),
            "target holds",
        ),
    ],
)
def test_predictor_input_errors(obs, tgt, match):
    pred = _predictor(n_rois=5)
    z = torch.randn(2, 3, 64, generator=_gen())
    with pytest.raises(ValueError, match=match):
        pred(z, obs, tgt, n_time_patches=3)
