"""``sk-brainjepa extract``: fMRIPrep derivatives -> a folder the others read."""

import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("nilearn")
pytest.importorskip("nibabel")

from sk_brainjepa.cli import main  # noqa: E402
from sk_brainjepa.datasets import load_timeseries  # noqa: E402
from sk_brainjepa.imaging import (  # noqa: E402
    load_fmriprep,
    make_fmriprep_derivatives,
)


@pytest.fixture(scope="module")
def derivatives(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmriprep")
    return make_fmriprep_derivatives(
        root / "derivatives",
        n_subjects=3,
        n_labels=4,
        n_timepoints=30,
        t_rs=(2.0, 1.0),
        confound_strength=0.5,
        random_state=0,
    )


def _one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_extract_writes_what_load_fmriprep_returns(derivatives, tmp_path):
    out = tmp_path / "series"
    argv = [
        "-q", "extract", str(derivatives["root"]), "--atlas", str(derivatives["atlas"]),
        "--labels", str(derivatives["labels"]), "--task", "rest",
        "--confounds", "motion,wm_csf", "--target-tr", "2.0", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    expected = load_fmriprep(
        derivatives["root"],
        derivatives["atlas"],
        labels=derivatives["labels"],
        task="rest",
        confounds_strategy=("motion", "wm_csf"),
        target_tr=2.0,
        phenotypes=None,
    )
    files = sorted(out.glob("*.npy"))
    assert [f.stem for f in files] == sorted(expected.subject_ids)
    for subject, x in zip(expected.subject_ids, expected.X, strict=True):
        got = np.load(out / f"{subject}.npy")
        assert got.dtype == np.float32
        assert got.shape == (4, np.shape(x)[1])
        np.testing.assert_allclose(got, x, rtol=1e-6)
    # participants.tsv is copied, and the folder reads back as a cohort.
    assert (out / "participants.tsv").is_file()
    X, ids, pheno = load_timeseries(out, phenotypes=out / "participants.tsv")
    assert sorted(ids) == sorted(expected.subject_ids)
    assert len(pheno) == len(ids)


def test_extract_default_confounds_and_none(derivatives, tmp_path):
    out = tmp_path / "raw"
    argv = [
        "-q", "extract", str(derivatives["root"]), "--atlas", str(derivatives["atlas"]),
        "--confounds", "none", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    expected = load_fmriprep(
        derivatives["root"],
        derivatives["atlas"],
        confounds_strategy=None,
        phenotypes=None,
    )
    for subject, x in zip(expected.subject_ids, expected.X, strict=True):
        np.testing.assert_allclose(np.load(out / f"{subject}.npy"), x, rtol=1e-6)


def test_a_folder_without_runs_exits_2(tmp_path, capsys, derivatives):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    argv = ["extract", str(empty), "--atlas", str(derivatives["atlas"])]
    assert main([*argv, "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("sk-brainjepa extract: error: No fMRIPrep run")
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--atlas": "missing.nii.gz"}, "--atlas .*missing.nii.gz does not exist"),
        ({"--task": "nback"}, "No fMRIPrep run.*with --task nback"),
        ({"derivatives": "nowhere"}, "fMRIPrep folder .*nowhere does not exist"),
        ({"--labels": "three.tsv"}, "labels"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    derivatives, tmp_path, capsys, change, message
):
    three = tmp_path / "three.tsv"
    pd.DataFrame({"index": [1, 2, 3], "name": ["a", "b", "c"]}).to_csv(
        three, sep="\t", index=False
    )
    options = {
        "derivatives": str(derivatives["root"]),
        "--atlas": str(derivatives["atlas"]),
        "--out": str(tmp_path / "out"),
    }
    for key, value in change.items():
        options[key] = value if key == "--task" else str(tmp_path / value)
    argv = ["extract", options.pop("derivatives")]
    for key, value in options.items():
        argv += [key, value]
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("sk-brainjepa extract: error: ")
    assert re.search(message, line), line


def test_bad_option_values_are_refused(capsys):
    with pytest.raises(SystemExit) as info:
        main(["extract", "d", "--atlas", "a.nii.gz", "--out", "o", "--target-tr", "0"])
    assert info.value.code == 2
    assert "expected a positive number" in capsys.readouterr().err


# ------------------------------------------- the output folder: never mixed
def _extract(derivatives, out, *extra):
    return main(["-q", "extract", str(derivatives["root"]), "--atlas",
                 str(derivatives["atlas"]), "--out", str(out), *extra])  # fmt: skip


def test_a_folder_holding_files_is_refused_without_overwrite(
    derivatives, tmp_path, capsys
):
    # Another cohort's runs: adding to them made 'embed OUT' read both.
    out = tmp_path / "series"
    out.mkdir()
    np.save(out / "sub-other.npy", np.zeros((4, 30), dtype=np.float32))
    assert _extract(derivatives, out) == 2
    line = _one_line(capsys.readouterr().err)
    assert re.search(r"--out .*series is not empty.*--overwrite", line), line
    assert [p.name for p in out.iterdir()] == ["sub-other.npy"]  # untouched


def test_overwrite_replaces_the_folder_instead_of_mixing(derivatives, tmp_path):
    out = tmp_path / "series"
    assert _extract(derivatives, out) == 0
    ours = sorted(p.name for p in out.iterdir())
    np.save(out / "sub-other.npy", np.zeros((4, 30), dtype=np.float32))
    assert _extract(derivatives, out, "--overwrite") == 0
    assert sorted(p.name for p in out.iterdir()) == ours  # sub-other.npy is gone
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not leftovers
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _extract(derivatives, empty) == 0  # an empty folder needs no option


def test_overwrite_never_deletes_the_inputs(derivatives, tmp_path, capsys):
    parent = derivatives["root"].parent
    assert _extract(derivatives, parent, "--overwrite") == 2
    line = _one_line(capsys.readouterr().err)
    assert "holds the fMRIPrep folder" in line and "choose another --out" in line
    assert derivatives["root"].is_dir()


def test_errors_name_the_option_not_the_python_argument(derivatives, tmp_path, capsys):
    # compcor without high_pass: nilearn refuses the strategy.
    assert _extract(derivatives, tmp_path / "out", "--confounds", "compcor") == 2
    line = _one_line(capsys.readouterr().err)
    assert "Set --confounds none" in line and "(--confounds compcor)" in line
    assert "confounds_strategy" not in line and "strategy=" not in line
