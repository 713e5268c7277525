"""Former nn names: they warn, point at the one home, and give the same result."""

import pytest
import torch

from sk_brainjepa.masking import apply_masks
from sk_brainjepa.nn import gather_tokens


def test_gather_tokens_warns_and_is_apply_masks():
    x = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))
    idx = torch.tensor([[0, 2], [1, 4]])
    with pytest.warns(FutureWarning, match="use sk_brainjepa.masking.apply_masks"):
        out = gather_tokens(x, idx)
    assert torch.equal(out, apply_masks(x, idx))
