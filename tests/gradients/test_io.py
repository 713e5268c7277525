"""The gradient CSV format."""

import os

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sk_brainjepa.gradients import read_gradient_csv, write_gradient_csv


# ---------------------------------------------------------------------------- CSV
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_csv_round_trip_exact(tmp_path, dtype):
    gradients = np.random.default_rng(0).standard_normal((45, 30)).astype(dtype) / 7
    path = write_gradient_csv(gradients, tmp_path / "gradients.csv")
    read = read_gradient_csv(path)
    assert read.dtype == np.float64
    assert read.shape == (45, 30)
    assert_array_equal(read.astype(dtype), gradients)
    # Official layout: no header, comma-separated, one line per ROI.
    lines = path.read_text().splitlines()
    assert len(lines) == 45
    assert len(lines[0].split(",")) == 30
    assert sorted(os.listdir(tmp_path)) == ["gradients.csv"]


def test_gradient_csv_readable_by_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    gradients = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    path = write_gradient_csv(gradients, tmp_path / "g.csv")
    frame = pd.read_csv(path, header=None)
    assert_array_equal(frame.to_numpy().astype(np.float32), gradients)


def test_gradient_csv_overwrites(tmp_path):
    path = tmp_path / "g.csv"
    write_gradient_csv(np.ones((3, 2)), path)
    write_gradient_csv(np.zeros((4, 2)), path)
    assert_array_equal(read_gradient_csv(path), np.zeros((4, 2)))


@pytest.mark.parametrize(
    "text, match",
    [
        ("g1,g2\n0.1,0.2\n", "header line"),
        ("0.1,0.2\n0.3\n", "number of columns"),
        ("0.1,nan\n0.3,0.4\n", "NaN or infinite"),
        ("", "empty"),
    ],
)
def test_read_gradient_csv_rejects(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_gradient_csv(path)


def test_read_gradient_csv_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="No gradient file"):
        read_gradient_csv(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    "gradients, match",
    [
        (np.ones(5), "2-D array"),
        (np.array([[1.0, np.inf]]), "NaN or infinite"),
        (np.array([["a", "b"]]), "real numbers"),
    ],
)
def test_write_gradient_csv_rejects(tmp_path, gradients, match):
    with pytest.raises(ValueError, match=match):
        write_gradient_csv(gradients, tmp_path / "g.csv")
    assert os.listdir(tmp_path) == []
