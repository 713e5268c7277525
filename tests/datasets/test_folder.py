"""Loading a folder of time series and its phenotypes."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from sk_brainjepa.datasets import Cohort, load_timeseries


# --------------------------------------------------------------------- folder loader
def _save(folder, name, arr, fmt, *, header=False):
    """Write ``arr`` (as stored on disk) in format ``fmt``; return the path."""
    path = folder / f"{name}.{fmt}"
    if fmt == "npy":
        np.save(path, arr)
    elif fmt == "npz":
        np.savez(path, ts=arr)
    else:
        sep = "," if fmt == "csv" else "\t"
        columns = [f"roi{j}" for j in range(arr.shape[1])] if header else None
        pd.DataFrame(arr, columns=columns).to_csv(
            path, sep=sep, header=header, index=False
        )
    return path


@pytest.mark.parametrize("fmt", ["npy", "npz", "csv", "tsv"])
@pytest.mark.parametrize("layout", ["rois_x_time", "time_x_rois"])
def test_load_timeseries_formats_and_layouts(tmp_path, rng, fmt, layout):
    data = rng.normal(size=(3, 6, 15))
    for i, subject in enumerate(data):
        stored = subject if layout == "rois_x_time" else subject.T
        _save(tmp_path, f"sub-{i:02d}", stored, fmt)
    cohort = load_timeseries(tmp_path, layout=layout)
    assert isinstance(cohort, Cohort)
    assert cohort.subject_ids == ["sub-00", "sub-01", "sub-02"]
    assert cohort.phenotypes is None
    assert cohort.X.shape == (3, 6, 15)
    # CSV goes through text: pandas round-trips float64 to within 1 ulp
    assert_allclose(cohort.X, data, rtol=1e-12, atol=0)


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_load_timeseries_infers_header_row(tmp_path, rng, fmt):
    data = rng.normal(size=(20, 4))  # frames x ROIs, named ROI columns
    _save(tmp_path, "sub-01", data, fmt, header=True)
    cohort = load_timeseries(tmp_path, layout="time_x_rois")
    assert cohort.X.shape == (1, 4, 20)
    assert_allclose(cohort.X[0], data.T, rtol=1e-12)
    # header=False forces the text row to be read as data, which must fail
    with pytest.raises(ValueError, match="non-numeric"):
        load_timeseries(tmp_path, layout="time_x_rois", header=False)


def test_load_timeseries_header_true_drops_numeric_first_row(tmp_path, rng):
    data = rng.normal(size=(5, 10))
    _save(tmp_path, "s1", data, "csv")
    cohort = load_timeseries(tmp_path, header=True)
    assert_allclose(cohort.X[0], data[1:], rtol=1e-12)


def test_load_timeseries_index_col(tmp_path, rng):
    data = rng.normal(size=(4, 12))
    frame = pd.DataFrame(data, index=[f"roi{j}" for j in range(4)])
    frame.to_csv(tmp_path / "s1.csv", header=False)
    cohort = load_timeseries(tmp_path, index_col=0)
    assert_allclose(cohort.X[0], data, rtol=1e-12)


def test_load_timeseries_skips_pandas_index_column(tmp_path, rng):
    data = rng.normal(size=(12, 3))  # frames x ROIs
    pd.DataFrame(data, columns=["a", "b", "c"]).to_csv(tmp_path / "s1.csv")
    cohort = load_timeseries(tmp_path, layout="time_x_rois")
    assert_allclose(cohort.X[0], data.T, rtol=1e-12)


def test_load_timeseries_unparsable_table_names_the_file(tmp_path):
    (tmp_path / "s1.csv").write_text("")
    with pytest.raises(ValueError, match=r"s1\.csv could not be parsed"):
        load_timeseries(tmp_path)


def test_load_timeseries_keeps_float32(tmp_path, rng):
    for i in range(2):
        np.save(tmp_path / f"s{i}.npy", rng.normal(size=(3, 8)).astype(np.float32))
    assert load_timeseries(tmp_path).X.dtype == np.float32


def test_load_timeseries_ragged_lengths_give_a_list(tmp_path, rng):
    lengths = [10, 14, 12]
    for i, n in enumerate(lengths):
        np.save(tmp_path / f"s{i}.npy", rng.normal(size=(5, n)))
    X, ids, _ = load_timeseries(tmp_path)
    assert isinstance(X, list)
    assert [x.shape for x in X] == [(5, n) for n in lengths]
    assert ids == ["s0", "s1", "s2"]


def test_load_timeseries_list_of_files_keeps_order(tmp_path, rng):
    first, second = rng.normal(size=(3, 9)), rng.normal(size=(3, 12))
    paths = [_save(tmp_path, "b", first, "npy"), _save(tmp_path, "a", second, "csv")]
    X, ids, _ = load_timeseries([str(p) for p in paths])
    assert ids == ["b", "a"]
    assert_allclose(X[0], first, rtol=0)
    assert_allclose(X[1], second, rtol=1e-12)


def test_load_timeseries_pattern_filters_files(tmp_path, rng):
    for name in ["sub-01_bold", "sub-02_bold", "sub-01_mask"]:
        _save(tmp_path, name, rng.normal(size=(4, 10)), "npy")
    cohort = load_timeseries(tmp_path, pattern="*_bold.npy")
    assert cohort.subject_ids == ["sub-01", "sub-02"]  # the BIDS sub- entity
    assert load_timeseries(tmp_path, pattern="*_bold.npy").X.shape == (2, 4, 10)


def test_load_timeseries_ignores_other_extensions_in_folder(tmp_path, rng):
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "npy")
    (tmp_path / "README.txt").write_text("notes")
    assert load_timeseries(tmp_path).subject_ids == ["s1"]


def test_load_timeseries_npz_key(tmp_path, rng):
    np.savez(tmp_path / "s1.npz", ts=rng.normal(size=(4, 10)), mask=np.ones(4))
    cohort = load_timeseries(tmp_path, npz_key="ts")
    assert cohort.X.shape == (1, 4, 10)
    with pytest.raises(ValueError, match=r"holds 2 arrays .*pass npz_key"):
        load_timeseries(tmp_path)
    with pytest.raises(ValueError, match="no array named npz_key='bold'"):
        load_timeseries(tmp_path, npz_key="bold")


@pytest.fixture
def three_subjects(tmp_path, rng):
    folder = tmp_path / "ts"
    folder.mkdir()
    for name in ["001", "002", "003"]:
        np.save(folder / f"{name}.npy", rng.normal(size=(4, 10)))
    return folder


def test_load_timeseries_aligns_phenotype_file(tmp_path, three_subjects):
    table = pd.DataFrame(
        {"participant": ["003", "004", "001", "002"], "age": [30, 40, 10, 20]}
    )
    table.to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    cohort = load_timeseries(
        three_subjects,
        phenotypes=tmp_path / "pheno.tsv",
        subject_id_column="participant",
    )
    # ids read as text ("001" stays "001"), rows reordered, extra subject dropped
    assert cohort.phenotypes.index.tolist() == ["001", "002", "003"]
    assert cohort.phenotypes["age"].tolist() == [10, 20, 30]


def test_load_timeseries_phenotype_dataframe_index(three_subjects):
    table = pd.DataFrame({"sex": [1, 0, 1]}, index=["002", "003", "001"])
    cohort = load_timeseries(three_subjects, phenotypes=table)
    assert cohort.phenotypes["sex"].tolist() == [1, 1, 0]


def test_load_timeseries_skips_phenotype_file_in_folder(three_subjects):
    path = three_subjects / "participants.csv"
    pd.DataFrame({"id": ["001", "002", "003"], "y": [1, 2, 3]}).to_csv(
        path, index=False
    )
    cohort = load_timeseries(three_subjects, phenotypes=path)
    assert cohort.subject_ids == ["001", "002", "003"]
    assert cohort.phenotypes["y"].tolist() == [1, 2, 3]


def test_load_timeseries_single_file(three_subjects):
    cohort = load_timeseries(three_subjects / "002.npy")
    assert cohort.subject_ids == ["002"]
    assert cohort.X.shape == (1, 4, 10)


def test_load_timeseries_bad_phenotypes_argument(three_subjects):
    with pytest.raises(FileNotFoundError, match="phenotypes file"):
        load_timeseries(three_subjects, phenotypes=three_subjects / "none.csv")
    with pytest.raises(ValueError, match="phenotypes must be a path"):
        load_timeseries(three_subjects, phenotypes={"001": 1})


def test_load_timeseries_missing_phenotype_rows(three_subjects):
    table = pd.DataFrame({"id": ["001"], "y": [1]})
    with pytest.raises(ValueError, match=r"no row for 2 of 3 .*\['002', '003'\]"):
        load_timeseries(three_subjects, phenotypes=table, subject_id_column="id")


def test_load_timeseries_bad_phenotype_column(three_subjects):
    table = pd.DataFrame({"id": ["001"], "y": [1]})
    with pytest.raises(ValueError, match="subject_id_column='subject'"):
        load_timeseries(three_subjects, phenotypes=table, subject_id_column="subject")


def test_load_timeseries_duplicate_phenotype_ids(three_subjects):
    table = pd.DataFrame({"y": [1, 2, 3, 4]}, index=["001", "002", "003", "003"])
    with pytest.raises(ValueError, match=r"several rows for subject id\(s\) \['003'\]"):
        load_timeseries(three_subjects, phenotypes=table)


def test_load_timeseries_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_timeseries(tmp_path / "nope")


def test_load_timeseries_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="No time-series files"):
        load_timeseries(tmp_path)


def test_load_timeseries_no_file_matches_pattern(tmp_path, rng):
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "npy")
    with pytest.raises(FileNotFoundError, match=r"matching pattern '\*\.csv'"):
        load_timeseries(tmp_path, pattern="*.csv")


def test_load_timeseries_unknown_extension(tmp_path):
    path = tmp_path / "s1.txt"
    path.write_text("1 2 3")
    with pytest.raises(ValueError, match=r"s1\.txt has an unknown extension '\.txt'"):
        load_timeseries([path])


def test_load_timeseries_mismatched_rois_names_the_file(tmp_path, rng):
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "npy")
    _save(tmp_path, "s2", rng.normal(size=(5, 10)), "npy")
    with pytest.raises(ValueError, match=r"s2\.npy has 5 ROIs but .*s1\.npy has 4"):
        load_timeseries(tmp_path)


def test_load_timeseries_nan_names_the_file(tmp_path, rng):
    data = rng.normal(size=(4, 10))
    data[1, 3] = np.nan
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "npy")
    _save(tmp_path, "s2", data, "csv")
    with pytest.raises(ValueError, match=r"s2\.csv contains 1 NaN"):
        load_timeseries(tmp_path)


def test_load_timeseries_rejects_non_2d(tmp_path):
    np.save(tmp_path / "s1.npy", np.ones(10))
    with pytest.raises(ValueError, match=r"s1\.npy holds an array of shape \(10,\)"):
        load_timeseries(tmp_path)


def test_load_timeseries_rejects_empty_array(tmp_path):
    np.save(tmp_path / "s1.npy", np.ones((4, 0)))
    with pytest.raises(ValueError, match=r"s1\.npy holds an empty array"):
        load_timeseries(tmp_path)


def test_load_timeseries_duplicate_subject_ids(tmp_path, rng):
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "npy")
    _save(tmp_path, "s1", rng.normal(size=(4, 10)), "csv")
    with pytest.raises(ValueError, match="same subject id 's1'"):
        load_timeseries(tmp_path)


def test_load_timeseries_refuses_pickled_arrays(tmp_path):
    np.save(tmp_path / "s1.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"s1\.npy could not be loaded safely"):
        load_timeseries(tmp_path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layout": "rois"}, r"layout must be one of \['rois_x_time', 'time_x_rois'\]"),
        ({"header": "yes"}, "header must be 'infer', True or False"),
        ({"pattern": "*.npy", "source": []}, "pattern can only be used"),
        ({"source": []}, "source is an empty list"),
        ({"source": 5}, "source must be a folder path or a list of file paths"),
    ],
)
def test_load_timeseries_rejects_bad_parameters(tmp_path, kwargs, match):
    kwargs = {"source": tmp_path, **kwargs}
    with pytest.raises(ValueError, match=match):
        load_timeseries(**kwargs)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8-sig"])
def test_phenotype_file_encodings(three_subjects, tmp_path, encoding, caplog):
    path = tmp_path / "pheno.csv"
    text = "participant,site,age\n001,Zürich,10\n002,Málaga,20\n003,Orléans,30\n"
    path.write_bytes(text.encode(encoding))
    with caplog.at_level("WARNING", logger="sk_brainjepa.sources"):
        cohort = load_timeseries(
            three_subjects, phenotypes=path, subject_id_column="participant"
        )
    assert cohort.phenotypes["age"].tolist() == [10, 20, 30]
    assert cohort.phenotypes["site"].tolist() == ["Zürich", "Málaga", "Orléans"]
    warned = "is not valid UTF-8" in caplog.text and "latin-1" in caplog.text
    assert warned == (encoding == "latin-1")


def test_phenotype_path_that_is_a_folder(three_subjects):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_timeseries(three_subjects, phenotypes=three_subjects)
