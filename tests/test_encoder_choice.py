"""Features from a pretrained model's target (EMA) or online (context) encoder."""

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.base import clone
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
from sk_brainjepa.estimators._loading import (
    ENCODERS,
    load_pretrained_encoder,
    resolve_model,
)
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
    with pytest.raises(ValueError, match="'encoder' parameter of BrainJEPAEmbedder"):
        BrainJEPAEmbedder(pretrainer=pretrained, encoder=bad).fit(X)
    with pytest.raises(ValueError, match=message):
        load_pretrained_encoder(pretrainer=pretrained, encoder=bad)
    if bad is not None:  # None keeps the model's own encoder
        with pytest.raises(ValueError, match=message):
            linear_probe(pretrained, X, pheno["age"], encoder=bad)


def test_linear_probe_applies_encoder_to_a_fitted_embedder(data, pretrained):
    X, pheno = data
    y = pheno["age"].to_numpy()
    kwargs = dict(task="regression", n_repeats=2, random_state=0)
    target = BrainJEPAEmbedder(pretrainer=pretrained).fit(X)
    module = target.encoder_
    table = linear_probe(target, X, y, encoder="online", **kwargs)
    online = BrainJEPAEmbedder(pretrainer=pretrained, encoder="online").fit(X)
    expected = probe_features(online.transform(X), y, **kwargs)
    assert table.attrs["encoder"] == "online"
    np.testing.assert_array_equal(table.to_numpy(), expected.to_numpy())
    # The user's fitted embedder keeps its target encoder, untouched.
    assert target.encoder == "target" and target.encoder_ is module


def test_resolve_model_turns_every_accepted_model_into_a_fitted_embedder(
    data, pretrained, tmp_path
):
    X = data[0]
    path = pretrained.save(tmp_path / "model.pt")
    reference = BrainJEPAEmbedder(pretrainer=pretrained).fit(X).transform(X)
    fitted = BrainJEPAEmbedder(pretrainer=pretrained).fit(X)
    for model in (
        pretrained,
        FrozenEstimator(pretrained),
        path,
        str(path),
        BrainJEPAEmbedder(checkpoint=path),
        BrainJEPAEmbedder(pretrainer=pretrained),
        fitted,
    ):
        embedder = resolve_model(model)
        assert isinstance(embedder, BrainJEPAEmbedder)
        assert_allclose(embedder.transform(X), reference, rtol=1e-6, atol=1e-7)
    # A fitted embedder that already matches is returned as is.
    assert resolve_model(fitted, readout="mean", encoder="target") is fitted
    # A transform-time setting shares the loaded encoder; a load-time one
    # loads it again; the given embedder is never changed.
    roi = resolve_model(fitted, readout="roi", window="start")
    assert roi is not fitted and roi.encoder_ is fitted.encoder_
    assert (roi.readout, roi.window) == ("roi", "start")
    online = resolve_model(fitted, encoder="online")
    assert online.encoder == "online" and online.encoder_ is not fitted.encoder_
    assert (fitted.readout, fitted.window, fitted.encoder) == (
        "mean",
        "center",
        "target",
    )
    for bad in (object(), 3, np.zeros((2, 6, 32)), [path]):
        with pytest.raises(TypeError, match="model must be a fitted"):
            resolve_model(bad)
    with pytest.raises(ValueError, match="pretrainer is not fitted"):
        resolve_model(BrainJEPAPretrainer())
    with pytest.raises(ValueError, match="exactly one of checkpoint"):
        resolve_model(BrainJEPAEmbedder())


def test_resolve_model_says_when_a_fitted_embedder_cannot_be_rebuilt(
    data, pretrained, tmp_path
):
    X = data[0]
    path = pretrained.save(tmp_path / "model.pt")
    fitted = BrainJEPAEmbedder(path).fit(X)
    path.unlink()  # its checkpoint is gone: the encoder cannot be loaded again
    message = (
        r"Cannot apply encoder='online' to the given fitted BrainJEPAEmbedder: "
        r"its encoder must be loaded again from its checkpoint, which failed"
    )
    with pytest.raises(ValueError, match=message):
        resolve_model(fitted, encoder="online")
    # What needs no reload still works.
    assert resolve_model(fitted, readout="roi").transform(X).shape[1] == (
        N_ROIS * fitted.embed_dim_
    )


# ----------------------------------------------------------- embedder contract


def test_clone_shares_the_fitted_pretrainer(data, pretrained):
    X = data[0]
    gradients = np.ones((N_ROIS, 3))
    embedder = BrainJEPAEmbedder(
        pretrainer=pretrained, readout="roi", gradients=gradients
    ).fit(X)
    twin = clone(embedder)
    assert twin.pretrainer is pretrained  # shared, not copied or unfitted
    assert twin.readout == "roi" and not hasattr(twin, "encoder_")
    assert twin.gradients is not gradients  # other parameters are cloned
    np.testing.assert_array_equal(twin.gradients, gradients)
    assert_allclose(twin.fit(X).transform(X), embedder.transform(X))
    # scikit-learn's other cloned settings come along.
    frame = clone(embedder.set_output(transform="pandas")).fit_transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape == (len(X), N_ROIS * embedder.embed_dim_)


@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": np.int64(3)},
        {"n_timepoints": np.int32(WINDOW), "batch_size": np.uint8(5)},
        {"device": torch.device("cpu"), "verbose": np.int64(0)},
    ],
)
def test_embedder_accepts_numpy_scalars(data, pretrained, params):
    X = data[0]
    reference = BrainJEPAEmbedder(pretrainer=pretrained).fit(X).transform(X)
    got = BrainJEPAEmbedder(pretrainer=pretrained, **params).fit(X).transform(X)
    assert_allclose(got, reference, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"batch_size": 2.5}, "'batch_size' parameter"),
        ({"batch_size": "8"}, "'batch_size' parameter"),
        ({"batch_size": True}, "batch_size must be a positive integer"),
        ({"n_timepoints": 0}, "'n_timepoints' parameter"),
        ({"n_heads": -2}, "'n_heads' parameter"),
        ({"readout": "max"}, "'readout' parameter"),
        ({"window": "middle"}, "'window' parameter"),
        ({"layout": "rois"}, "'layout' parameter"),
        ({"verbose": -1}, "'verbose' parameter"),
        ({"device": "tpu"}, "device must be 'auto', 'cpu'"),
        ({"checkpoint": 3}, "'checkpoint' parameter"),
    ],
)
def test_embedder_rejects_bad_parameters_before_loading(tmp_path, params, match):
    # The checkpoint does not exist: a check made after loading would fail
    # with "does not exist" instead.
    params = {"checkpoint": tmp_path / "missing.pt", **params}
    with pytest.raises(ValueError, match=match):
        BrainJEPAEmbedder(**params).fit()


def test_embedder_reads_the_given_layout(data, pretrained):
    X = data[0]
    reference = BrainJEPAEmbedder(pretrainer=pretrained).fit(X).transform(X)
    nilearn_like = np.ascontiguousarray(X.transpose(0, 2, 1))
    embedder = BrainJEPAEmbedder(pretrainer=pretrained, layout="time_x_rois")
    assert_allclose(embedder.fit(nilearn_like).transform(nilearn_like), reference)
    assert_allclose(embedder.transform(list(nilearn_like)), reference)
    transposed = r"X has 64 ROIs and 6 time points.*looks transposed.*time_x_rois"
    with pytest.raises(ValueError, match=transposed):
        BrainJEPAEmbedder(pretrainer=pretrained).fit(nilearn_like)
    fitted = BrainJEPAEmbedder(pretrainer=pretrained).fit(X)
    with pytest.raises(ValueError, match=transposed):
        fitted.transform(nilearn_like)


def test_embedder_verbose_shows_progress_and_logs(data, pretrained, capsys, caplog):
    X = data[0]
    quiet = BrainJEPAEmbedder(pretrainer=pretrained, batch_size=3).fit(X)
    with caplog.at_level(logging.INFO, logger="sk_brainjepa.estimators._embedder"):
        reference = quiet.transform(X)
    assert "Brain-JEPA embedding" not in capsys.readouterr().err
    assert not caplog.records
    loud = BrainJEPAEmbedder(pretrainer=pretrained, batch_size=3, verbose=1).fit(X)
    with caplog.at_level(logging.INFO, logger="sk_brainjepa.estimators._embedder"):
        features = loud.transform(X)
    err = capsys.readouterr().err
    # Eight subjects, one window each, in batches of 3: the bar reaches 8/8.
    assert "Brain-JEPA embedding" in err and "8/8" in err
    messages = [r.getMessage() for r in caplog.records]
    assert any("embedding 8 subjects (8 windows" in m for m in messages)
    assert any("embedded 8 subjects into features of shape (8," in m for m in messages)
    assert_allclose(features, reference)
    # The progress hook is removed after embedding.
    assert not loud.encoder_._forward_hooks
