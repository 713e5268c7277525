"""Sources over arrays and memory maps."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_brainjepa.sources import as_source

from ._helpers import _memmap


# ------------------------------------------------------------------ sources
def test_memmap_is_wrapped_not_copied(tmp_path, cohort):
    mm = _memmap(tmp_path / "X.npy", cohort)
    source = as_source(mm)
    assert not source.in_memory
    assert source.data is mm
    assert (source.n_rois, len(source)) == (5, 6)
    assert_array_equal(source.lengths, [48] * 6)
    window = source.window(2, 7, 16)
    assert window.dtype == np.float32 and window.flags.c_contiguous
    assert not np.shares_memory(window, mm)
    assert_array_equal(window, cohort[2, :, 7:23])
    # The array check_timeseries returns for a memmap still views the file.
    assert not as_source(np.asarray(mm)).in_memory
    # A 3-D .npy path is memory-mapped as a whole cohort.
    from_path = as_source(tmp_path / "X.npy")
    assert not from_path.in_memory
    assert_array_equal(from_path[5], cohort[5])


def test_memmap_source_pickles_as_its_file(tmp_path, rng):
    data = rng.standard_normal((40, 8, 64))  # float64: windows become float32
    mm = _memmap(tmp_path / "X.npy", data)
    for X in (mm, mm[10:30, :, ::2], [mm[3], mm[7].T.T]):
        source = as_source(X)
        payload = pickle.dumps(source)
        assert len(payload) < data.nbytes / 40
        clone = pickle.loads(payload)
        for i in range(len(source)):
            assert_array_equal(clone[i], source[i])
    assert_array_equal(
        pickle.loads(pickle.dumps(as_source(mm)))[39], data[39].astype("f4")
    )


def test_plain_arrays_are_validated_and_kept(cohort):
    source = as_source(cohort)
    assert source.in_memory and source.data is cohort
    ragged = as_source([cohort[0], cohort[1, :, :30]])
    assert_array_equal(ragged.lengths, [48, 30])
    bad = cohort.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        as_source(bad)
