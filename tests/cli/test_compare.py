"""sk-brainjepa compare: the Python comparison from files, grouped by participant."""

import json

import numpy as np
import pandas as pd
import pytest

from sk_brainjepa import BrainJEPAPretrainer, ROIRobustScaler, make_brain_dynamics
from sk_brainjepa.cli import main
from sk_brainjepa.model_selection import compare_models


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs of 24 participants at 2 sites: one .npy per run and a per-run table."""
    root = tmp_path_factory.mktemp("compare")
    X, pheno = make_brain_dynamics(
        n_subjects=24, n_rois=6, n_timepoints=64, n_sites=2, site_effect=0.5,
        runs_per_subject=2, random_state=0,
    )  # fmt: skip
    X = ROIRobustScaler().fit_transform(X).astype(np.float32)
    folder = root / "runs"
    folder.mkdir()
    for run_id, x in zip(pheno.index, X, strict=True):
        np.save(folder / f"{run_id}.npy", x)
    pheno.to_csv(root / "pheno.csv")
    return root, folder, X, pheno


def test_compare_writes_what_the_python_call_returns(runs, capsys):
    root, folder, X, pheno = runs
    out = root / "results" / "sex"
    argv = [
        "compare", str(folder), "--phenotypes", str(root / "pheno.csv"),
        "--target", "sex", "--groups", "participant_id", "--models", "fc", "lag",
        "--n-repeats", "2", "--random-state", "1", "--out", str(out),
    ]  # fmt: skip
    assert main(["-q", *argv]) == 0
    printed = capsys.readouterr().out
    assert "lag" in printed and "diff_mean" in printed
    summary = pd.read_csv(f"{out}_summary.csv", index_col="model")
    # The files are read in sorted order, the table's rows are in that order too.
    expected = compare_models(
        X, pheno["sex"], models=["fc", "lag"], groups=pheno["participant_id"],
        n_repeats=2, random_state=1,
    )  # fmt: skip
    np.testing.assert_allclose(summary["mean"], expected.summary["mean"], rtol=1e-6)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["info"]["n_groups"] == 24 and record["info"]["target"] == "sex"
    assert out.with_name("sex.png").is_file() and out.with_name("sex.md").is_file()


def test_untrained_twin_from_a_model_file(runs, tmp_path):
    root, folder, X, _ = runs
    model = tmp_path / "model.pt"
    BrainJEPAPretrainer(
        window_length=64, max_epochs=1, batch_size=16, random_state=0
    ).fit(X).save(model)
    argv = [
        "-q", "compare", str(folder), "--phenotypes", str(root / "pheno.csv"),
        "--target", "age", "--groups", "participant_id", "--models", "probe",
        "probe-untrained", "--checkpoint", str(model), "--n-repeats", "2",
        "--out", str(tmp_path / "age"),
    ]  # fmt: skip
    assert main(argv) == 0
    scores = pd.read_csv(tmp_path / "age_scores.csv")
    assert set(scores["model"]) == {"probe", "probe-untrained"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "nope"], "--target 'nope' is not a column"),
        (["--target", "sex", "--sites", "where"], "--sites 'where' is not a column"),
        (["--target", "sex", "--models", "probe"], "need --checkpoint"),
        (["--target", "sex", "--harmonize", "combat"], "needs --sites (the site"),
    ],
)
def test_errors_are_one_line(runs, tmp_path, capsys, extra, message):
    root, folder, _, _ = runs
    argv = [
        "compare", str(folder), "--phenotypes", str(root / "pheno.csv"),
        "--groups", "participant_id", "--n-repeats", "2", "--out",
        str(tmp_path / "x"), *extra,
    ]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_one_command_compares_every_default_model_across_sites(runs, tmp_path):
    """The issue's command: all default models + Brain-JEPA, grouped, with ComBat."""
    root, folder, X, _ = runs
    model = tmp_path / "model.pt"
    BrainJEPAPretrainer(
        window_length=64, max_epochs=1, batch_size=16, random_state=0
    ).fit(X).save(model)
    out = tmp_path / "cmp" / "diagnosis"
    argv = [
        "-q", "compare", str(folder), "--phenotypes", str(root / "pheno.csv"),
        "--target", "diagnosis", "--groups", "participant_id", "--sites", "site",
        "--harmonize", "combat", "--checkpoint", str(model), "--max-epochs", "1",
        "--n-repeats", "2", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    summary = pd.read_csv(f"{out}_summary.csv", index_col="model")
    assert list(summary.index) == [
        "fc",
        "tangent",
        "lag",
        "brainnetcnn",
        "bnt",
        "probe-connectivity",
        "finetune",
    ]
    assert summary["mean"].between(0, 1).all()
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["info"]["n_sites"] == 2 and "ComBat" in record["info"]["harmonize"]
    assert out.with_name("diagnosis.png").stat().st_size > 0
