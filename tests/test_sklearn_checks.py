"""scikit-learn's own estimator checks, over every public estimator of the package.

``parametrize_with_checks`` runs scikit-learn's full suite on the estimators
that take 2-D input (``ComBatHarmonizer``; ``GradientPositioner``, whose single
FC matrix is a square "pairwise" input). For the estimators whose tags declare
3-D input (time series, FC stacks) or images, scikit-learn runs only
``check_estimator_cloneable``: its other checks feed 2-D tables. The API checks
among them that never look at data are run here by name, and
``tests/test_contract.py`` runs the data checks on the 3-D data these
estimators take. Every expected failure below says why the check cannot apply.
"""

from functools import partial

import pytest
import torch
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    parametrize_with_checks,
)

from sk_brainjepa import ComBatHarmonizer, GradientPositioner
from sk_brainjepa.estimators import SeededNetMixin

from ._public_estimators import CASES, case_ids, public_estimator_classes
from .gradients.test_positioner import (
    _expected_failed_checks as positioner_failed_checks,
)

ESTIMATORS = [case.estimator for case in CASES]

# ComBatHarmonizer.fit requires sites= (routed metadata), which no check passes.
_SITES = (
    "ComBatHarmonizer.fit requires the sites of the samples (sites=, routed "
    "metadata), which scikit-learn's checks never pass; "
    "tests/preprocessing/test_harmonize.py runs the equivalent checks with sites"
)
_COMBAT_FAILED_CHECKS = dict.fromkeys(
    (
        "check_fit_score_takes_y",
        "check_estimators_overwrite_params",
        "check_dont_overwrite_parameters",
        "check_estimators_fit_returns_self",
        "check_readonly_memmap_input",
        "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit",
        "check_estimators_dtypes",
        "check_dtype_object",
        "check_pipeline_consistency",
        "check_estimators_nan_inf",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_preserve_dtypes",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_fit2d_1feature",
        "check_dict_unchanged",
        "check_fit_idempotent",
        "check_fit_check_is_fitted",
        "check_n_features_in",
        "check_fit2d_predict1d",
    ),
    _SITES,
)


def _expected_failed_checks(estimator) -> dict:
    if isinstance(estimator, GradientPositioner):
        # One list of reasons, kept with the positioner's own tests.
        return positioner_failed_checks(estimator)
    if isinstance(estimator, ComBatHarmonizer):
        return _COMBAT_FAILED_CHECKS
    return {}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op torch thread (a few shared cores; see test_contract.py)."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def test_every_public_estimator_is_checked():
    checked = {type(estimator) for estimator in ESTIMATORS}
    missing = public_estimator_classes() - checked
    assert not missing, f"add them to tests/_public_estimators.py: {missing}"


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=_expected_failed_checks, xfail_strict=True
)
def test_sklearn_checks(estimator, check):
    check(estimator)


# ------------------------------------------ API checks that need no data
# scikit-learn yields none of these for an estimator without 2-D input,
# although none of them looks at data.
DATA_FREE_CHECKS = (
    check_estimator_tags_renamed,
    check_valid_tag_types,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_mixin_order,
    check_do_not_raise_errors_in_init_or_set_params,
    check_parameters_default_constructible,
    check_get_params_invariance,
    check_set_params,
)

# What the skorch nets (fine-tuners and baselines) cannot pass, by skorch's
# design; test_contract.py checks the same contract in the form that applies.
_SKORCH_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": (
        "skorch's __init__ stores its prefixed parameters (module__*, "
        "iterator_train__*) as attributes and sets history_, initialized_ and "
        "virtual_params_; test_clone_and_params_round_trip allows exactly these"
    ),
    "check_do_not_raise_errors_in_init_or_set_params": (
        "the check passes the literal keyword 'kwargs' (the name of the **kwargs "
        "that carries skorch's parameters), which the nets refuse as unknown at "
        "construction; test_init_and_set_params_do_not_raise runs it without"
    ),
    "check_set_params": (
        "skorch lists its bookkeeping set _params_to_validate among get_params(), "
        "and skorch's set_params fails once the check's fuzzing has replaced it "
        "by a float; test_clone_and_params_round_trip sets every real parameter"
    ),
}

THREE_D = [c for c in CASES if not get_tags(c.estimator).input_tags.two_d_array]


def _data_free_params():
    for case, case_id in zip(THREE_D, case_ids(THREE_D), strict=True):
        for check in DATA_FREE_CHECKS:
            name = check.__name__
            reason = (
                _SKORCH_FAILED_CHECKS.get(name)
                if isinstance(case.estimator, SeededNetMixin)
                else None
            )
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            yield pytest.param(
                case.estimator,
                partial(check, case.id),
                marks=marks,
                id=f"{case_id}-{name}",
            )


@pytest.mark.filterwarnings("ignore:.*occurred during set_params:UserWarning")
@pytest.mark.parametrize("estimator, check", list(_data_free_params()))
def test_sklearn_api_checks_without_data(estimator, check):
    check(estimator)
