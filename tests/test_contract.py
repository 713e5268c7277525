"""The scikit-learn estimator contract, checked on 3-D fMRI-shaped inputs.

scikit-learn's ``check_estimator`` feeds 2-D tabular data, which the time-series
estimators reject on purpose (their tags say so, and sklearn then skips them).
This module runs the equivalent checks on the data these estimators really take.
"""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import check_param_validation

from sk_brainjepa import (
    BrainJEPAPretrainer,
    FunctionalConnectivity,
    GradientPositioner,
    ROIRobustScaler,
    SampleZScore,
    TemporalResampler,
)
from sk_brainjepa.preprocessing import DynamicFeatures, SubjectRobustScaler


def _timeseries(n_subjects=6, n_rois=8, n_timepoints=40, seed=0):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(n_rois, n_rois))
    x = np.einsum(
        "rk,skt->srt", mixing, rng.normal(size=(n_subjects, n_rois, n_timepoints))
    )
    return (100.0 + x).astype(np.float32)


def _fc(n_subjects=6, n_rois=8, seed=0):
    return FunctionalConnectivity().fit_transform(
        _timeseries(n_subjects, n_rois, 60, seed)
    )


# (estimator, data maker, whether the input is time series)
CASES = [
    (ROIRobustScaler(), _timeseries, True),
    (ROIRobustScaler(statistics="subject_mean"), _timeseries, True),
    (ROIRobustScaler(center_subjects=True), _timeseries, True),
    (SampleZScore(), _timeseries, True),
    (SubjectRobustScaler(), _timeseries, True),
    (
        TemporalResampler(
            tr=1.0, target_tr=2.0, n_timepoints=12, crop="random", random_state=0
        ),
        _timeseries,
        True,
    ),
    (FunctionalConnectivity(kind="partial", output="vector"), _timeseries, True),
    (DynamicFeatures(lags=(1, 2), window=8), _timeseries, True),
    (GradientPositioner(n_components=3, sparsity=0.5, random_state=0), _fc, False),
    (
        BrainJEPAPretrainer(
            model_params={"depth": 1, "predictor_depth": 1},
            patch_size=8,
            n_timepoints=32,
            max_epochs=1,
            batch_size=3,
            random_state=0,
        ),
        _timeseries,
        True,
    ),
]
IDS = [f"{type(e).__name__}-{i}" for i, (e, _, _) in enumerate(CASES)]


def _output(est, X):
    return np.asarray(est.transform(X))


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_clone_and_params_round_trip(estimator, make_data, is_series):
    params = estimator.get_params()
    cloned = clone(estimator)
    assert cloned.get_params() == params
    assert cloned.set_params(**params) is cloned
    assert not [k for k in vars(cloned) if k.endswith("_") and not k.startswith("__")]


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_not_fitted_error(estimator, make_data, is_series):
    with pytest.raises(NotFittedError):
        clone(estimator).transform(make_data())


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_fit_returns_self_and_sets_n_features_in(estimator, make_data, is_series):
    X = make_data()
    est = clone(estimator)
    assert est.fit(X) is est
    assert est.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_fit_transform_equals_fit_then_transform(estimator, make_data, is_series):
    X = make_data()
    a = np.asarray(clone(estimator).fit_transform(X))
    b = _output(clone(estimator).fit(X), X)
    assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_pickle_round_trip_gives_same_output(estimator, make_data, is_series):
    X = make_data()
    est = clone(estimator).fit(X)
    restored = pickle.loads(pickle.dumps(est))
    assert_array_equal(_output(restored, X), _output(est, X))


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_same_random_state_same_output(estimator, make_data, is_series):
    X = make_data()
    assert_array_equal(
        clone(estimator).fit_transform(X), clone(estimator).fit_transform(X)
    )


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_fit_leaves_global_rng_untouched(estimator, make_data, is_series):
    X = make_data()
    before = np.random.get_state()[1].copy()
    clone(estimator).fit_transform(X)
    assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_list_input_matches_array_input(estimator, make_data, is_series):
    X = make_data()
    a = np.asarray(clone(estimator).fit(X).transform(X))
    if is_series:
        b = np.asarray(clone(estimator).fit(list(X)).transform(list(X)))
        assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_roi_count_mismatch_is_rejected(estimator, make_data, is_series):
    est = clone(estimator).fit(make_data())
    other = make_data(n_rois=7) if is_series else _fc(n_rois=7)
    with pytest.raises(ValueError, match="7 ROIs.*(expects|fitted on) 8 ROIs"):
        est.transform(other)


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_nan_and_inf_are_rejected(estimator, make_data, is_series):
    for bad in (np.nan, np.inf):
        X = make_data().copy()
        X[1, 2, 3] = bad
        if not is_series:
            X[1, 3, 2] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            clone(estimator).fit(X)


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_wrong_dimensions_are_rejected(estimator, make_data, is_series):
    X = make_data()
    with pytest.raises(ValueError, match=r"got a (4|1)-D array"):
        clone(estimator).fit(X[..., None] if is_series else X[0, 0])
    if is_series:
        with pytest.raises(ValueError, match=r"X\[np.newaxis\]"):
            clone(estimator).fit(X[0])


@pytest.mark.parametrize("estimator, make_data, is_series", CASES, ids=IDS)
def test_tags_declare_input_contract(estimator, make_data, is_series):
    tags = get_tags(estimator)
    if is_series:
        assert tags.input_tags.three_d_array and not tags.input_tags.two_d_array
    else:
        assert tags.input_tags.pairwise


# The transformers whose parameters are validated with scikit-learn's
# _parameter_constraints (the pretrainer's own suite covers the pretrainer).
VALIDATED = [(e, m, s) for e, m, s in CASES if not isinstance(e, BrainJEPAPretrainer)]
VALIDATED_IDS = [f"{type(e).__name__}-{i}" for i, (e, _, _) in enumerate(VALIDATED)]


@pytest.mark.parametrize(
    "estimator, make_data, is_series", VALIDATED, ids=VALIDATED_IDS
)
def test_param_validation(estimator, make_data, is_series):
    # scikit-learn's own check: a constraint for every parameter, and a bad
    # type or value rejected by fit and fit_transform, naming the parameter,
    # before the (2-D, so invalid) data is looked at.
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator, make_data, is_series", VALIDATED, ids=VALIDATED_IDS
)
def test_feature_names_out_match_output(estimator, make_data, is_series):
    X = make_data()
    est = clone(estimator).fit(X)
    out = np.asarray(est.transform(X))
    if isinstance(est, GradientPositioner):
        # (n_subjects, n_rois, n_components) gradients are not features.
        assert not hasattr(est, "get_feature_names_out")
        return
    names = est.get_feature_names_out()
    # Time series keep their ROIs (axis 1); features are the columns.
    n_out = X.shape[1] if out.ndim == 3 else out.shape[1]
    assert len(names) == n_out and len(set(names)) == n_out
    assert all(isinstance(n, str) for n in names)
