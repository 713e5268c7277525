"""Former nn names: they warn, point at the one home, and give the same result."""

import pickle
import warnings

import pytest
import torch

import sk_brainjepa.nn as sknn
from sk_brainjepa.masking import apply_masks
from sk_brainjepa.nn import BrainJEPAFineTuneModel, gather_tokens


def test_gather_tokens_warns_and_is_apply_masks():
    x = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))
    idx = torch.tensor([[0, 2], [1, 4]])
    with pytest.warns(FutureWarning, match="use sk_brainjepa.masking.apply_masks"):
        out = gather_tokens(x, idx)
    assert torch.equal(out, apply_masks(x, idx))


def test_prediction_model_warns_and_is_the_finetune_model():
    with pytest.warns(
        FutureWarning, match="use sk_brainjepa.nn.BrainJEPAFineTuneModel"
    ):
        old = sknn.BrainJEPAPredictionModel
    assert old is BrainJEPAFineTuneModel
    with pytest.warns(FutureWarning, match="BrainJEPAPredictionModel is deprecated"):
        from sk_brainjepa.nn import BrainJEPAPredictionModel
    assert BrainJEPAPredictionModel is BrainJEPAFineTuneModel
    assert "BrainJEPAPredictionModel" not in sknn.__all__
    assert "BrainJEPAFineTuneModel" in sknn.__all__
    # The new name and other lookups stay silent; unknown names still fail.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sknn.BrainJEPAFineTuneModel is BrainJEPAFineTuneModel
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        sknn.NoSuchName  # noqa: B018


def test_pickles_naming_the_former_class_still_load():
    # What a pickle of the class written before the rename holds.
    payload = b"csk_brainjepa.nn._finetune\nBrainJEPAPredictionModel\np0\n."
    with pytest.warns(FutureWarning, match="BrainJEPAFineTuneModel"):
        assert pickle.loads(payload) is BrainJEPAFineTuneModel
