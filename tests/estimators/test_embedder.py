"""BrainJEPAEmbedder: clone, parameter checks, layout, progress."""

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sk_brainjepa import BrainJEPAEmbedder, BrainJEPAPretrainer

from ._helpers import N_ROIS, WINDOW


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


def test_a_shared_pretrainers_parameters_cannot_be_set(data, pretrained):
    # Setting them changed the caller's fitted pretrainer without refitting
    # it: every grid point scored the same, and the "best" meant nothing.
    X, pheno = data
    before = pretrained.get_params(deep=False)
    embedder = BrainJEPAEmbedder(pretrainer=pretrained)
    with pytest.raises(ValueError, match=r"Cannot set pretrainer__lr.*jepa__lr"):
        embedder.set_params(pretrainer__lr=0.123)
    pipe = Pipeline([("embed", embedder), ("clf", LogisticRegression())])
    grid = {"embed__pretrainer__lr": [1e-4, 1e-3], "embed__pretrainer__max_epochs": [1]}
    search = GridSearchCV(pipe, grid, cv=2)
    with pytest.raises(ValueError, match="unfitted BrainJEPAPretrainer step"):
        search.fit(X, pheno["sex"])
    assert pretrained.get_params(deep=False) == before
    # Other parameters, and the whole pretrainer, can still be set.
    embedder.set_params(readout="roi", pretrainer=pretrained)
    assert embedder.readout == "roi" and embedder.pretrainer is pretrained


def test_the_searches_the_refusal_suggests_run(data, pretrained):
    X, pheno = data
    y = pheno["sex"]
    cv = [(np.arange(6), np.arange(6, 8))]
    # Fitted pretrainers compared: FrozenEstimator keeps each one fitted.
    pipe = Pipeline([("embed", BrainJEPAEmbedder()), ("clf", LogisticRegression())])
    grid = {"embed__pretrainer": [FrozenEstimator(pretrained)]}
    search = GridSearchCV(pipe, grid, cv=cv, refit=False, error_score="raise")
    assert np.isfinite(search.fit(X, y).cv_results_["mean_test_score"]).all()
    # Pretraining parameters: a pretrainer step, fitted for every candidate.
    step = BrainJEPAPretrainer(
        window_length=WINDOW, max_epochs=1, batch_size=3, random_state=0
    )
    pipe = Pipeline([("jepa", step), ("clf", LogisticRegression())])
    grid = {"jepa__lr": [1e-4, 1e-2]}
    search = GridSearchCV(pipe, grid, cv=cv, refit=False, error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny, unscaled cohort
        search.fit(X, y)
    assert len(search.cv_results_["params"]) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": np.int64(3)},
        {"window_length": np.int32(WINDOW), "batch_size": np.uint8(5)},
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
