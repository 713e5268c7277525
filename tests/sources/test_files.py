"""Sources over folders and lists of files."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_brainjepa.sources import FileSource, as_source

from ._helpers import _memmap


def test_folder_of_npy_files_with_different_lengths(tmp_path, rng):
    subjects = [rng.standard_normal((4, n)) for n in (40, 55, 70)]
    np.save(tmp_path / "sub-01.npy", subjects[0].astype(np.float32))
    np.save(tmp_path / "sub-02.npy", np.asfortranarray(subjects[1]))
    np.save(tmp_path / "sub-03.npy", subjects[2])
    source = as_source(tmp_path)
    assert isinstance(source, FileSource) and not source.in_memory
    assert source.subject_ids == ["sub-01", "sub-02", "sub-03"]
    assert_array_equal(source.lengths, [40, 55, 70])
    for i, x in enumerate(subjects):
        assert_array_equal(source[i], x.astype(np.float32))
    assert_array_equal(source.window(2, 10, 32), subjects[2][:, 10:42].astype("f4"))
    # A list of files keeps its order; pickling keeps only paths.
    files = [tmp_path / "sub-03.npy", tmp_path / "sub-01.npy"]
    listed = pickle.loads(pickle.dumps(as_source(files)))
    assert_array_equal(listed.lengths, [70, 40])


def test_shapes_come_from_headers_without_reading_data(tmp_path):
    # A header announcing 10_000 frames over a file that holds only a few:
    # the source learns the shape; reading the data then fails.
    with open(tmp_path / "sub-01.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": (3, 10_000)}
        )
        fh.write(np.zeros(30, dtype="<f4").tobytes())
    source = as_source(tmp_path)
    assert_array_equal(source.lengths, [10_000])
    with pytest.raises(ValueError):
        source[0]


def test_other_formats_and_layout(tmp_path, rng):
    x = rng.standard_normal((30, 4))  # frames x ROIs
    np.savez(tmp_path / "a.npz", bold=x)
    np.savetxt(tmp_path / "b.csv", x[:25], delimiter=",")
    source = as_source(tmp_path, layout="time_x_rois")
    assert_array_equal(source.lengths, [30, 25])
    assert_array_equal(source[0], x.T.astype(np.float32))
    assert_allclose(source.window(1, 5, 10), x[5:15].T, rtol=1e-6)


def test_errors_name_the_file_or_subject(tmp_path, rng, cohort):
    with pytest.raises(ValueError, match="3-D array"):
        as_source(_memmap(tmp_path / "two_d.npy", cohort[0]), name="X")
    folder = tmp_path / "subjects"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match="No time-series files"):
        as_source(folder)
    np.save(folder / "sub-01.npy", cohort[0])
    np.save(folder / "sub-02.npy", cohort[1, :4])
    with pytest.raises(ValueError, match=r"sub-02\.npy has 4 ROIs but .*sub-01\.npy"):
        as_source(folder)
    np.save(folder / "sub-02.npy", cohort[:2])
    with pytest.raises(ValueError, match=r"sub-02\.npy holds an array of shape"):
        as_source(folder)
    bad = cohort[1].copy()
    bad[0, 40] = np.inf
    np.save(folder / "sub-02.npy", bad)
    source = as_source(folder)
    source.window(1, 0, 32)  # the bad frame is outside this window
    with pytest.raises(ValueError, match=r"subject 1 \(file .*sub-02\.npy\).*infinite"):
        source[1]
    with pytest.raises(
        ValueError, match=r"Subject 0 \(file .*sub-01\.npy\) has 48 time points"
    ):
        source.check_lengths(64)
    nan = cohort.copy()
    nan[4, 1, 2] = np.nan
    with pytest.raises(ValueError, match=r"X\[4\] contains 1 NaN"):
        as_source(_memmap(tmp_path / "nan.npy", nan))[4]
    np.save(folder / "sub-03.npy", np.array([[object()]]), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects"):
        as_source(folder)
