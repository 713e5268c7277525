"""Features from a pretrained model's target (EMA) or online (context) encoder."""

import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.frozen import FrozenEstimator

from sk_brainjepa import (
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    linear_probe,
    make_brain_dynamics,
    probe_features,
    write_gradient_csv,
)
from sk_brainjepa.estimators import RepresentationCollapseWarning
from sk_brainjepa.estimators._loading import ENCODERS, load_pretrained_encoder
from sk_brainjepa.nn import BrainJEPAEncoder, EncoderConfig, read_out

N_ROIS, WINDOW = 6, 32
MODULES = {"target": "target_encoder_", "online": "encoder_"}


@pytest.fixture(scope="module")
def data():
    X, pheno = make_brain_dynamics(
        n_subjects=8, n_rois=N_ROIS, n_timepoints=64, random_state=0
    )
    return X, pheno


@pytest.fixture(scope="module")
def pretrained(data):
    """Two optimiser steps: enough for the EMA target to trail the online encoder."""
    model = BrainJEPAPretrainer(
        "tiny",
        n_timepoints=WINDOW,
        max_epochs=1,
        batch_size=4,
        random_state=0,
        verbose=0,
    )
    with warnings.catch_warnings():
        # One epoch on 8 subjects collapses; the tests compare, not evaluate.
        warnings.simplefilter("ignore", RepresentationCollapseWarning)
        return model.fit(data[0])


def _module_features(module, X, readout):
    """The module's forward on the centre windows, then ``read_out``."""
    start = (X.shape[-1] - WINDOW) // 2
    x = torch.from_numpy(np.ascontiguousarray(X[..., start : start + WINDOW]))
    with torch.no_grad():
        tokens = module.eval()(x.float())
    return read_out(tokens, N_ROIS, readout).numpy()


@pytest.mark.parametrize("readout", ["mean", "connectivity"])
def test_embedder_features_are_the_chosen_modules(data, pretrained, readout):
    X = data[0]
    features = {}
    for encoder, attribute in MODULES.items():
        embedder = BrainJEPAEmbedder(
            pretrainer=FrozenEstimator(pretrained), readout=readout, encoder=encoder
        ).fit(X)
        features[encoder] = embedder.transform(X)
        expected = _module_features(getattr(pretrained, attribute), X, readout)
        assert_allclose(features[encoder], expected, rtol=1e-5, atol=1e-6)
    # After a few optimiser steps the EMA target lags behind the online encoder.
    assert np.abs(features["online"] - features["target"]).max() > 1e-4


def test_target_is_the_default(data, pretrained):
    X = data[0]
    default = BrainJEPAEmbedder(pretrainer=pretrained).fit(X).transform(X)
    target = BrainJEPAEmbedder(pretrainer=pretrained, encoder="target").fit(X)
    assert_allclose(default, target.transform(X))
    assert_allclose(default, pretrained.transform(X), rtol=1e-5, atol=1e-6)


def test_loaded_encoder_is_a_copy_of_the_chosen_module(pretrained):
    for encoder, attribute in MODULES.items():
        module, window = load_pretrained_encoder(pretrainer=pretrained, encoder=encoder)
        source = getattr(pretrained, attribute)
        assert module is not source and window == WINDOW
        for (name, got), want in zip(
            module.state_dict().items(), source.state_dict().values(), strict=True
        ):
            assert torch.equal(got, want), name


def test_our_checkpoint_gives_either_encoder(data, pretrained, tmp_path):
    X = data[0]
    path = pretrained.save(tmp_path / "model.pt")
    for encoder in ENCODERS:
        from_file = BrainJEPAEmbedder(path, encoder=encoder).fit(X).transform(X)
        in_memory = BrainJEPAEmbedder(pretrainer=pretrained, encoder=encoder).fit(X)
        assert_allclose(from_file, in_memory.transform(X), rtol=1e-6, atol=1e-7)


def _official_state(config, gradients, seed):
    """An encoder state dict in the official layout (``module.`` prefix)."""
    gen = torch.Generator().manual_seed(seed)
    module = BrainJEPAEncoder(config, gradients, generator=gen).eval()
    state = {f"module.{k}": v for k, v in module.state_dict().items()}
    del state["module.gradients"]  # the official file does not hold them
    return module, state


def test_official_checkpoint_gives_either_encoder(tmp_path):
    gradients = torch.randn(N_ROIS, 4, generator=torch.Generator().manual_seed(0))
    config = EncoderConfig(
        n_rois=N_ROIS, embed_dim=32, depth=1, n_heads=4, gradient_dim=4
    )
    online, online_state = _official_state(config, gradients, seed=1)
    target, target_state = _official_state(config, gradients, seed=2)
    path = tmp_path / "jepa-ep300.pth.tar"
    torch.save({"encoder": online_state, "target_encoder": target_state}, path)
    csv = tmp_path / "gradients.csv"
    write_gradient_csv(gradients.numpy(), csv)
    X = np.random.default_rng(0).standard_normal((3, N_ROIS, 48)).astype(np.float32)
    for encoder, module in (("online", online), ("target", target)):
        embedder = BrainJEPAEmbedder(
            path, gradients=str(csv), n_timepoints=WINDOW, n_heads=4, encoder=encoder
        ).fit(X)
        expected = _module_features(module, X, "mean")
        assert_allclose(embedder.transform(X), expected, rtol=1e-5, atol=1e-6)
    # A file with the target encoder only has no online one to give.
    torch.save({"target_encoder": target_state}, tmp_path / "target_only.pth.tar")
    only = BrainJEPAEmbedder(
        tmp_path / "target_only.pth.tar", gradients=str(csv), encoder="online"
    )
    with pytest.raises(ValueError, match="reads the checkpoint's 'encoder' state"):
        only.fit()


def test_linear_probe_reads_the_chosen_encoder(data, pretrained):
    X, pheno = data
    y = pheno["age"].to_numpy()
    kwargs = dict(task="regression", n_repeats=2, random_state=0)
    for encoder in ENCODERS:
        table = linear_probe(pretrained, X, y, encoder=encoder, **kwargs)
        features = BrainJEPAEmbedder(pretrainer=pretrained, encoder=encoder).fit(X)
        expected = probe_features(features.transform(X), y, **kwargs)
        assert table.attrs["encoder"] == encoder
        assert table.attrs["readout"] == "mean"
        np.testing.assert_array_equal(table.to_numpy(), expected.to_numpy())


def test_a_given_embedder_keeps_its_encoder(data, pretrained):
    X, pheno = data
    embedder = BrainJEPAEmbedder(
        pretrainer=FrozenEstimator(pretrained), encoder="online"
    )
    table = linear_probe(
        embedder, X, pheno["age"], task="regression", n_repeats=2, random_state=0
    )
    assert table.attrs["encoder"] == "online"


@pytest.mark.parametrize("bad", ["ema", "Target", "", None, 1])
def test_bad_encoder_values(data, pretrained, bad):
    X, pheno = data
    message = r"encoder must be one of \('target', 'online'\)"
    with pytest.raises(ValueError, match=message):
        BrainJEPAEmbedder(pretrainer=pretrained, encoder=bad).fit(X)
    with pytest.raises(ValueError, match=message):
        linear_probe(pretrained, X, pheno["age"], encoder=bad)
    with pytest.raises(ValueError, match=message):
        load_pretrained_encoder(pretrainer=pretrained, encoder=bad)
