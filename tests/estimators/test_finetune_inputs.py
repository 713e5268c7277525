"""The fine-tuners' inputs and keywords: conversion, encoder choice, clear errors.

Issue #21: array-likes are converted before anything reads them, the
pretrained encoder to start from is a parameter, an unknown keyword fails at
construction, and the usual mistakes (real values given to the classifier,
subjects shorter than the model window) get one-line messages naming what to
change.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa import BrainJEPAClassifier, BrainJEPARegressor
from sk_brainjepa.preprocessing import TemporalResampler

from .._public_estimators import (
    N_SUBJECTS,
    WINDOW,
    fitted_pretrainer,
    labels,
    targets,
    timeseries,
)

FAST = dict(max_epochs=1, batch_size=2, random_state=0)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


@pytest.fixture(scope="module")
def X():
    return timeseries(n_timepoints=WINDOW)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("cls", [BrainJEPAClassifier, BrainJEPARegressor])
def test_nested_lists_are_converted_before_they_are_read(X, cls):
    y = labels() if cls is BrainJEPAClassifier else targets()
    expected = cls(pretrainer=fitted_pretrainer(), **FAST).fit(X, y)
    # Lists of lists for X, and a column (n_subjects, 1) of lists for y.
    net = cls(pretrainer=fitted_pretrainer(), **FAST)
    y_lists = [[v] for v in y.tolist()] if cls is BrainJEPARegressor else y.tolist()
    net.fit(X.tolist(), y_lists)
    assert net.n_features_in_ == X.shape[1]
    assert_allclose(net.predict(X.tolist()), expected.predict(X), rtol=1e-5)


def test_encoder_chooses_the_pretrained_encoder_to_start_from(X):
    pre = fitted_pretrainer()
    online = _state(pre.online_encoder_)
    target = _state(pre.target_encoder_)
    assert any(not torch.equal(online[k], target[k]) for k in online)
    for encoder, expected in (("online", online), ("target", target)):
        net = BrainJEPAClassifier(pretrainer=pre, source_encoder=encoder, **FAST)
        got = _state(net.initialize().module_.encoder)
        assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert BrainJEPAClassifier().get_params()["source_encoder"] == "target"
    with pytest.raises(
        ValueError, match="'source_encoder' parameter of BrainJEPARegressor"
    ):
        BrainJEPARegressor(pretrainer=pre, source_encoder="ema", **FAST).fit(
            X, targets()
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"encodr": "online"}, r"'encodr'; did you mean 'encoder'"),
        ({"lrr": 1e-3}, r"'lrr'; did you mean 'lr'"),
        (
            {"module_readout": "mean"},
            r"'module_readout'; did you mean 'module__readout'",
        ),
        ({"colour": "red"}, r"'colour'; see help\(BrainJEPAClassifier\)"),
    ],
)
def test_unknown_keyword_fails_at_construction(kwargs, match):
    unexpected = r"BrainJEPAClassifier\(\) got an unexpected keyword argument "
    with pytest.raises(TypeError, match=unexpected + match):
        BrainJEPAClassifier(**kwargs)
    # skorch's prefixed parameters stay open.
    BrainJEPAClassifier(module__readout="mean", optimizer__betas=(0.9, 0.99))


def test_classifier_refuses_a_continuous_target(X):
    ages = np.random.default_rng(0).uniform(20, 80, N_SUBJECTS)
    net = BrainJEPAClassifier(pretrainer=fitted_pretrainer(), **FAST)
    with pytest.raises(
        ValueError,
        match=r"y looks continuous \(6 distinct values .*use BrainJEPARegressor",
    ):
        net.fit(X, ages)
    assert not hasattr(net, "module_")  # refused before anything was built


@pytest.mark.parametrize("cls", [BrainJEPAClassifier, BrainJEPARegressor])
def test_too_short_subjects_name_the_window_and_how_to_pad(X, cls):
    y = labels() if cls is BrainJEPAClassifier else targets()
    short = X[:, :, :20]
    match = (
        rf"needs at least window_length={WINDOW} frames per subject .*X has 20 "
        rf"frames per subject.*TemporalResampler\(n_timepoints={WINDOW}, pad='edge'\)"
    )
    with pytest.raises(ValueError, match=match):
        cls(pretrainer=fitted_pretrainer(), **FAST).fit(short, y)
    net = cls(pretrainer=fitted_pretrainer(), **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"X\[1\] has 20 frames"):
        net.predict([X[0], X[1, :, :20]])
    # The advice works.
    padded = TemporalResampler(n_timepoints=WINDOW, pad="edge").fit_transform(short)
    assert net.predict(padded).shape == (N_SUBJECTS,)


@pytest.mark.parametrize("cls", [BrainJEPAClassifier, BrainJEPARegressor])
def test_empty_input_and_mismatched_targets_are_refused(X, cls):
    y = labels() if cls is BrainJEPAClassifier else targets()
    net = cls(pretrainer=fitted_pretrainer(), **FAST)
    with pytest.raises(ValueError, match=rf"{cls.__name__}.fit got no subjects"):
        net.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="y has 5 targets for the 6 subjects of X"):
        net.fit(X, y[:5])


def test_a_last_training_batch_of_one_subject_trains_with_the_batchnorm_head():
    # 5 training subjects in batches of 2: the last batch holds one subject,
    # which the default connectivity head's BatchNorm cannot normalise alone.
    X5 = timeseries(n_subjects=5, n_timepoints=WINDOW)
    net = BrainJEPAClassifier(
        pretrainer=fitted_pretrainer(), valid_fraction=None, **FAST
    ).fit(X5, np.array([0, 1, 0, 1, 0]))
    assert net.module_.fc_norm.__class__.__name__ == "BatchNorm1d"
    assert np.isfinite(net.history[-1, "train_loss"])
