"""Text tables of time series: index columns, headers, ROI names."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from sk_brainjepa.datasets import load_timeseries


# ------------------------------------------------- tables: index columns, headers
def _write_frames(path, data, writer):
    """Write ``data`` (frames x ROIs) the way a user's ``writer`` would."""
    rois = [f"roi{j}" for j in range(data.shape[1])]
    if writer == "named index":  # df.index.name = "time"; df.to_csv(path)
        pd.DataFrame(data, columns=rois).rename_axis("time").to_csv(path)
    elif writer == "pandas defaults":  # pd.DataFrame(arr).to_csv(path)
        pd.DataFrame(data).to_csv(path)
    elif writer == "index, no header":
        pd.DataFrame(data).to_csv(path, header=False)
    elif writer == "no index, column numbers":
        pd.DataFrame(data).to_csv(path, index=False)
    elif writer == "written twice":  # read back with read_csv, written again
        pd.DataFrame(data, columns=rois).to_csv(path)
        pd.read_csv(path).to_csv(path, index=False)
    elif writer == "frame times":
        times = np.round(np.arange(len(data)) * 0.72, 2)
        pd.DataFrame(data, columns=rois, index=pd.Index(times, name="t")).to_csv(path)
    else:
        raise AssertionError(writer)


@pytest.mark.parametrize(
    "writer",
    [
        "named index",
        "pandas defaults",
        "index, no header",
        "no index, column numbers",
        "written twice",
        "frame times",
    ],
)
def test_tables_index_columns_and_headers_are_detected(tmp_path, rng, writer, caplog):
    from sk_brainjepa.sources import as_source

    data = rng.normal(size=(3, 12, 4))  # subjects x frames x ROIs
    for i, subject in enumerate(data):
        _write_frames(tmp_path / f"s{i}.csv", subject, writer)
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        cohort = load_timeseries(tmp_path, layout="time_x_rois")
    assert_allclose(cohort.X, data.transpose(0, 2, 1), rtol=1e-12)
    # One line for the cohort, not one per file.
    notes = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert any("the same in 2 other file(s)" in n for n in notes), notes
    source = as_source(tmp_path, layout="time_x_rois")
    assert source.n_rois == 4
    assert_allclose(source[1], data[1].T, rtol=1e-6)


def test_tables_dropped_index_column_is_logged_and_can_be_kept(tmp_path, rng, caplog):
    data = rng.normal(size=(12, 4))
    _write_frames(tmp_path / "s0.csv", data, "named index")
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        load_timeseries(tmp_path, layout="time_x_rois")
    assert "column 0 ('time') counts the rows" in caplog.text
    kept = load_timeseries(tmp_path, layout="time_x_rois", index_col=None)
    assert_allclose(kept.X[0, 0], np.arange(12))  # the frame numbers, as asked
    assert_allclose(kept.X[0, 1:], data.T, rtol=1e-12)


def test_tables_text_label_column_without_header(tmp_path, rng):
    data = rng.normal(size=(5, 20))  # ROIs x frames, ROI names in front
    pd.DataFrame(data, index=[f"Visual_{j}" for j in range(5)]).to_csv(
        tmp_path / "s0.csv", header=False
    )
    assert_allclose(load_timeseries(tmp_path).X[0], data, rtol=1e-12)


def test_tables_signal_columns_are_kept(tmp_path, rng):
    data = rng.normal(size=(6, 4))
    data[:, 0] = np.cumsum(rng.uniform(0.5, 1.5, size=6))  # rises, but unevenly
    pd.DataFrame(data, columns=[f"roi{j}" for j in range(4)]).to_csv(
        tmp_path / "s0.csv", index=False
    )
    loaded = load_timeseries(tmp_path, layout="time_x_rois").X[0]
    assert_allclose(loaded, data.T, rtol=1e-12)


def test_tables_of_whole_numbers_are_not_guessed_at(tmp_path):
    # Raw scanner units: a first row 0, 1, 2, ... and a first column counting
    # are data when the rest is whole numbers too, so nothing tells them apart
    # from a header or an index.
    data = np.arange(24.0).reshape(6, 4) * 3
    data[:, 0] = np.arange(6)
    data[0, :] = np.arange(4)
    pd.DataFrame(data).to_csv(tmp_path / "s0.csv", index=False, header=False)
    loaded = load_timeseries(tmp_path, layout="time_x_rois").X[0]
    assert_allclose(loaded, data.T, rtol=0)


def test_tables_non_numeric_cell_is_named(tmp_path, rng):
    data = rng.normal(size=(6, 3)).astype(object)
    data[4, 2] = "oops"
    pd.DataFrame(data, columns=["a", "b", "c"]).to_csv(tmp_path / "s0.csv", index=False)
    with pytest.raises(
        ValueError, match=r"s0\.csv contains non-numeric .*'oops' in row 6"
    ):
        load_timeseries(tmp_path, layout="time_x_rois")


def test_tables_semicolon_file_hints_at_delimiter(tmp_path, rng):
    pd.DataFrame(rng.normal(size=(6, 3))).to_csv(
        tmp_path / "s0.csv", sep=";", index=False, header=False
    )
    with pytest.raises(ValueError, match="pass delimiter"):
        load_timeseries(tmp_path)
    assert load_timeseries(tmp_path, delimiter=";").X.shape == (1, 6, 3)


@pytest.mark.parametrize(
    "index_col",
    ["first", -1, 1.5, [], True],
    ids=["text", "neg", "float", "empty", "bool"],
)
def test_load_timeseries_rejects_bad_index_col(tmp_path, index_col):
    with pytest.raises(ValueError, match="index_col must be 'infer', None, a column"):
        load_timeseries(tmp_path, index_col=index_col)


def test_file_source_reads_windows_with_the_inferred_format(tmp_path, rng, caplog):
    from sk_brainjepa.sources import as_source

    data = rng.normal(size=(2, 30, 5))
    for i, subject in enumerate(data):
        _write_frames(tmp_path / f"s{i}.csv", subject, "pandas defaults")
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        source = as_source(tmp_path, layout="time_x_rois")
        window = source.window(1, 10, 8)
        n_notes = len(caplog.records)
    assert n_notes == 2  # header and index, each said once for both files
    assert_allclose(window, data[1].T[:, 10:18], rtol=1e-6)
    assert source._table_formats[1][:2] == (True, (0,))  # later reads don't guess


@pytest.mark.parametrize("label", ["roi", None])
def test_tables_roi_names_and_frame_times(tmp_path, rng, label, caplog):
    data = rng.normal(size=(3, 5, 8))  # subjects x ROIs x frames
    times = np.round(np.arange(8) * 0.72, 2)
    for i, subject in enumerate(data):
        rois = pd.Index([f"Visual_{j}" for j in range(5)], name=label)
        pd.DataFrame(subject, index=rois, columns=times).to_csv(tmp_path / f"s{i}.csv")
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        cohort = load_timeseries(tmp_path)
    assert_allclose(cohort.X, data, rtol=1e-12)
    assert "rise in even steps, such as frame times" in caplog.text
