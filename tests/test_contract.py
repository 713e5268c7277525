"""The scikit-learn estimator contract, checked on 3-D fMRI-shaped inputs.

scikit-learn's ``check_estimator`` feeds 2-D tabular data, which the estimators
taking time series or FC matrices reject on purpose: their tags say so, and
scikit-learn then skips its checks (``tests/test_sklearn_checks.py`` runs the
ones that need no data). This module runs the equivalent checks on the data
these estimators really take: every estimator of ``tests/_public_estimators.py``
whose input is 3-D (the transformers, the pretrainer, the embedder, the
fine-tuners and the baselines).
"""

import inspect
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import check_param_validation

from sk_brainjepa import BrainJEPAEmbedder, BrainJEPAPretrainer, GradientPositioner
from sk_brainjepa.estimators import SeededNetMixin

from ._public_estimators import CASES, case_ids, fc, with_pretrainer

# The 2-D harmoniser gets scikit-learn's own checks; the extractor reads NIfTI
# images (tests/imaging covers it).
THREE_D = [case for case in CASES if case.input in ("series", "fc")]
IDS = case_ids(THREE_D)
TRANSFORMERS = [case for case in THREE_D if hasattr(case.estimator, "transform")]
SERIES = [case for case in THREE_D if case.input == "series"]
TRANSFORMER_IDS = case_ids(TRANSFORMERS)
# What skorch sets in every net's __init__ besides the parameters.
SKORCH_BOOKKEEPING = {"history_", "initialized_", "virtual_params_"}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op torch thread: on a few shared cores, spinning OpenMP
    threads make these tiny models many times slower."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def _fresh(case):
    """An unfitted clone of the case's estimator, with its pretrained model."""
    return with_pretrainer(clone(case.estimator))


def _fit(case, est, X=None):
    X = case.X() if X is None else X
    return est.fit(X, case.y(len(X)))


def _output(est, X):
    """What a fitted estimator computes: features, probabilities or predictions."""
    if hasattr(est, "transform"):
        return np.asarray(est.transform(X))
    if is_classifier(est):
        return est.predict_proba(X)
    return est.predict(X)


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_clone_and_params_round_trip(case):
    # skorch's deep parameters hold default callbacks made anew on every call.
    net = isinstance(case.estimator, SeededNetMixin)
    params = case.estimator.get_params(deep=not net)
    cloned = clone(case.estimator)
    allowed = SKORCH_BOOKKEEPING if net else set()
    fitted = {k for k in vars(cloned) if k.endswith("_") and not k.startswith("__")}
    assert fitted <= allowed
    assert cloned.get_params(deep=not net) == params
    assert cloned.set_params(**params) is cloned


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_get_params_unchanged_by_fit(case):
    # Sizes learnt from the data (the baselines' ROI count, every net's output
    # width) are fitted attributes, never parameters.
    est = _fresh(case)
    before = est.get_params(deep=False)
    _fit(case, est)
    after = est.get_params(deep=False)
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_init_and_set_params_do_not_raise(case):
    # scikit-learn's check_do_not_raise_errors_in_init_or_set_params without
    # the literal keyword "kwargs", which it passes when __init__ has
    # **kwargs (an unknown keyword, refused by the skorch nets).
    cls = type(case.estimator)
    names = [
        name
        for name, p in inspect.signature(cls).parameters.items()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    for value in (-1, 3.0, "helloworld", np.array([1.0, 4.0]), [1], {}, []):
        params = dict.fromkeys(names, value)
        cls(**params).set_params(**params)


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_not_fitted_error(case):
    est = _fresh(case)
    with pytest.raises(NotFittedError):
        _output(est, case.X())


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_fit_returns_self_and_sets_n_features_in(case):
    X = case.X()
    est = _fresh(case)
    assert _fit(case, est, X) is est
    assert est.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("case", TRANSFORMERS, ids=TRANSFORMER_IDS)
def test_fit_transform_equals_fit_then_transform(case):
    X = case.X()
    a = np.asarray(_fresh(case).fit_transform(X))
    b = _output(_fresh(case).fit(X), X)
    assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_pickle_round_trip_gives_same_output(case):
    X = case.X()
    est = _fit(case, _fresh(case))
    restored = pickle.loads(pickle.dumps(est))
    assert_array_equal(_output(restored, X), _output(est, X))


# A random_state to hold fixed: for the others (FunctionalConnectivity, the
# scalers), "same random_state, same output" would claim nothing (#22).
SEEDED = [case for case in THREE_D if "random_state" in case.estimator.get_params()]
UNSEEDED = [case for case in THREE_D if case not in SEEDED]


@pytest.mark.parametrize("case", SEEDED, ids=case_ids(SEEDED))
def test_same_random_state_same_output(case):
    X = case.X()
    a = _output(_fit(case, _fresh(case).set_params(random_state=7), X), X)
    b = _output(_fit(case, _fresh(case).set_params(random_state=7), X), X)
    assert_array_equal(a, b)


@pytest.mark.parametrize("case", UNSEEDED, ids=case_ids(UNSEEDED))
def test_output_without_a_seed_is_deterministic(case):
    # No random_state to set: two fits must give the same output by themselves.
    X = case.X()
    a = _output(_fit(case, _fresh(case), X), X)
    b = _output(_fit(case, _fresh(case), X), X)
    assert_array_equal(a, b)


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_fit_leaves_global_rng_untouched(case):
    X = case.X()
    before = np.random.get_state()[1].copy()
    _output(_fit(case, _fresh(case), X), X)
    assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("case", SERIES, ids=case_ids(SERIES))
def test_list_input_matches_array_input(case):
    X = case.X()
    a = _output(_fit(case, _fresh(case), X), X)
    b = _output(_fit(case, _fresh(case), list(X)), list(X))
    assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_roi_count_mismatch_is_rejected(case):
    est = _fit(case, _fresh(case))
    other = case.X(n_rois=7) if case.input == "series" else fc(n_rois=7)
    with pytest.raises(ValueError, match="7 ROIs.*(expects|fitted on) 8 ROIs"):
        _output(est, other)


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_nan_and_inf_are_rejected(case):
    for bad in (np.nan, np.inf):
        X = case.X().copy()
        X[1, 2, 3] = bad
        if case.input == "fc":
            X[1, 3, 2] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            _fit(case, _fresh(case), X)


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_wrong_dimensions_are_rejected(case):
    X, y = case.X(), case.y()
    with pytest.raises(ValueError, match=r"got a (4|1)-D array"):
        _fresh(case).fit(X[..., None] if case.input == "series" else X[0, 0], y)
    if case.input == "series":
        with pytest.raises(ValueError, match=r"X\[np.newaxis\]"):
            _fresh(case).fit(X[0], y)


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_empty_input_is_rejected(case):
    X, y = case.X(), case.y()
    with pytest.raises(ValueError, match="empty|0 sample"):
        _fresh(case).fit(X[:0], None if y is None else y[:0])


@pytest.mark.parametrize("case", THREE_D, ids=IDS)
def test_tags_declare_input_contract(case):
    tags = get_tags(case.estimator)
    assert tags.input_tags.three_d_array
    if isinstance(case.estimator, GradientPositioner):
        # A single (n_rois, n_rois) matrix is a square "pairwise" input.
        assert tags.input_tags.pairwise
    else:
        assert not tags.input_tags.two_d_array


@pytest.mark.parametrize("case", TRANSFORMERS, ids=TRANSFORMER_IDS)
def test_set_output_gives_a_table_or_refuses_3d_output(case):
    X = case.X()
    est = _fresh(case)
    out = est.fit(X).transform(X)
    if np.ndim(out) == 3:
        with pytest.raises(ValueError, match=f"{type(est).__name__} returns 3-D"):
            est.set_output(transform="pandas")
        return
    frame = _fresh(case).set_output(transform="pandas").fit(X).transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(est.get_feature_names_out())
    assert_allclose(frame.to_numpy(), out, rtol=1e-6)


# The estimators whose parameters are all validated with scikit-learn's
# _parameter_constraints: the pretrainer's own suite covers the pretrainer,
# and the skorch nets declare only their own parameters (skorch checks its).
VALIDATED = [
    case
    for case in TRANSFORMERS
    if not isinstance(case.estimator, (BrainJEPAPretrainer, BrainJEPAEmbedder))
]


@pytest.mark.parametrize("case", VALIDATED, ids=case_ids(VALIDATED))
def test_param_validation(case):
    # scikit-learn's own check: a constraint for every parameter, and a bad
    # type or value rejected by fit and fit_transform, naming the parameter,
    # before the (2-D, so invalid) data is looked at.
    check_param_validation(case.id, case.estimator)


@pytest.mark.parametrize("case", TRANSFORMERS, ids=TRANSFORMER_IDS)
def test_feature_names_out_match_output(case):
    X = case.X()
    est = _fresh(case).fit(X)
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
