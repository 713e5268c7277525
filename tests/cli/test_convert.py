"""sk-brainjepa convert-official, and embed from the folder it writes."""

import json

import numpy as np
import pandas as pd
import pytest

from sk_brainjepa import BrainJEPAEmbedder, SampleZScore
from sk_brainjepa.cli import main

from ..estimators._official import write_fake_official

N_ROIS = 12


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A fake official release and a folder of raw per-subject runs."""
    root = tmp_path_factory.mktemp("release")
    checkpoint, csv, _ = write_fake_official(root, n_rois=N_ROIS)
    subjects = root / "subjects"
    subjects.mkdir()
    rng = np.random.default_rng(0)
    X = 900 + 30 * rng.normal(size=(4, N_ROIS, 1)) + rng.normal(size=(4, N_ROIS, 170))
    for i, x in enumerate(X.astype(np.float32)):
        np.save(subjects / f"sub-{i:02d}.npy", x)
    return root, checkpoint, csv, subjects, X.astype(np.float32)


def test_convert_then_embed_equals_the_official_file(release, tmp_path):
    root, checkpoint, csv, subjects, X = release
    out = tmp_path / "brainjepa"
    argv = ["-q", "convert-official", str(checkpoint), "--gradients", str(csv),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["tr"] == pytest.approx(2.205)
    assert config["preprocessing"]["steps"][0]["class"] == "SampleZScore"
    assert (out / "gradients.csv").read_bytes() == csv.read_bytes()
    features = tmp_path / "features.csv"
    argv = ["-q", "embed", str(out), str(subjects), "--out", str(features)]
    assert main(argv) == 0
    table = pd.read_csv(features, index_col=0)
    assert list(table.index) == [f"sub-{i:02d}" for i in range(4)]
    official = BrainJEPAEmbedder(checkpoint, gradients=str(csv))
    expected = official.fit_transform(SampleZScore().fit_transform(X))
    # Runs are read from files as float32 and scaled as they are read.
    np.testing.assert_allclose(table.to_numpy(), expected, rtol=1e-5, atol=1e-6)


def test_convert_without_scaling_records_none(release, tmp_path):
    _, checkpoint, csv, _, _ = release
    out = tmp_path / "bare"
    argv = ["-q", "convert-official", str(checkpoint), "--gradients", str(csv),
            "--out", str(out), "--preprocessing", "none"]  # fmt: skip
    assert main(argv) == 0
    assert json.loads((out / "config.json").read_text())["preprocessing"] is None
    assert main([*argv, "--overwrite"]) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.tar", "--gradients", "{csv}", "--out", "{tmp}/o"], "does not exist"),
        (
            ["{ckpt}", "--gradients", "missing.csv", "--out", "{tmp}/o"],
            "does not exist",
        ),
        (["{ckpt}", "--gradients", "{csv}", "--out", "{tmp}/no/o"], "does not exist"),
        (
            ["{csv}", "--gradients", "{csv}", "--out", "{tmp}/o"],
            "refused without being unpickled",
        ),
        (["{ckpt}", "--gradients", "{csv}", "--out", "{tmp}"], "not empty"),
    ],
)
def test_errors_are_one_line_exit_2(release, tmp_path, capsys, args, message):
    _, checkpoint, csv, _, _ = release
    (tmp_path / "occupied").write_text("x")
    fill = {"csv": csv, "ckpt": checkpoint, "tmp": tmp_path}
    argv = ["convert-official", *(a.format(**fill) for a in args)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sk-brainjepa convert-official: error:") and message in err
    assert "\n" not in err


def test_embed_refuses_a_folder_that_is_not_a_pretrained_one(release, tmp_path, capsys):
    _, _, _, subjects, _ = release
    argv = ["embed", str(tmp_path), str(subjects), "--out", str(tmp_path / "f.csv")]
    assert main(argv) == 2
    assert "is a folder, but not a pretrained-model folder" in capsys.readouterr().err
