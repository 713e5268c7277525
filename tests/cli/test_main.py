"""The sk-brainjepa command line: each subcommand end to end, and its errors."""

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sk_brainjepa import (
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    GradientPositioner,
    read_gradient_csv,
)
from sk_brainjepa.cli import main

N_SUBJECTS, N_ROIS, N_FRAMES = 12, 8, 40
PRETRAIN = [
    "--window-length", "32", "--max-epochs", "1", "--batch-size", "4",
    "--random-state", "0", "--model-params", '{"depth": 1}', "--verbose", "0",
]  # fmt: skip
PARAMS = dict(
    window_length=32, max_epochs=1, batch_size=4, random_state=0,
    model_params={"depth": 1}, verbose=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A folder of per-subject .npy files and a phenotype table."""
    root = tmp_path_factory.mktemp("cohort")
    rng = np.random.default_rng(0)
    folder = root / "subjects"
    folder.mkdir()
    X = rng.standard_normal((N_SUBJECTS, N_ROIS, N_FRAMES)).astype(np.float32)
    ids = [f"sub-{i:02d}" for i in range(N_SUBJECTS)]
    for sid, x in zip(ids, X, strict=True):
        np.save(folder / f"{sid}.npy", x)
    pheno = pd.DataFrame(
        {
            "participant": ids,
            "group": [0, 1] * (N_SUBJECTS // 2),
            "age": rng.normal(40, 5, N_SUBJECTS),
        }
    )
    pheno.to_csv(root / "pheno.csv", index=False)
    return root, folder, X, ids


def _scores(table) -> np.ndarray:
    """A probe table's numbers (empty summary cells NaN), without what it probed."""
    numbers = table.drop(columns=["probed", "readout", "encoder"], errors="ignore")
    return numbers.to_numpy(dtype=float, na_value=np.nan)


@pytest.fixture(scope="module")
def model_file(cohort):
    root, folder, _, _ = cohort
    out = root / "model.pt"
    assert main(["-q", "pretrain", str(folder), "--out", str(out), *PRETRAIN]) == 0
    return out


def test_pretrain_equals_the_python_api(cohort, model_file):
    _, _, X, _ = cohort
    ours = BrainJEPAPretrainer(**PARAMS).fit(X)
    loaded = BrainJEPAPretrainer.load(model_file)
    assert loaded.max_epochs == 1 and loaded.model_params == {"depth": 1}
    np.testing.assert_allclose(loaded.transform(X), ours.transform(X), atol=1e-6)


def test_pretrain_takes_a_recipe_and_its_overrides(cohort, tmp_path):
    _, folder, X, _ = cohort
    out = tmp_path / "paper.pt"
    args = [
        "--recipe",
        "paper",
        "--target-norm",
        "batch",
        "--consistency-weight",
        "0.5",
    ]
    assert (
        main(["-q", "pretrain", str(folder), "--out", str(out), *PRETRAIN, *args]) == 0
    )
    loaded = BrainJEPAPretrainer.load(out)
    assert loaded.recipe == "paper"
    assert loaded.objective_["target_norm"] == "batch"
    assert loaded.objective_["consistency_weight"] == 0.5
    assert loaded.objective_["loss"] == "l2"  # from the paper recipe
    assert {"consistency_loss", "position_share"} <= set(loaded.history_[-1])


def test_embed_writes_features_with_subject_ids(cohort, model_file, tmp_path):
    _, folder, X, ids = cohort
    out = tmp_path / "features.csv"
    assert main(["-q", "embed", str(model_file), str(folder), "--out", str(out)]) == 0
    table = pd.read_csv(out, index_col=0)
    assert list(table.index) == ids
    expected = BrainJEPAEmbedder(model_file).fit(X).transform(X)
    np.testing.assert_allclose(table.to_numpy(), expected, atol=1e-6)
    npz = tmp_path / "features.npz"
    assert main(["-q", "embed", str(model_file), str(folder), "--out", str(npz)]) == 0
    with np.load(npz) as data:
        assert list(data["subject_ids"]) == ids
        np.testing.assert_allclose(data["features"], expected, atol=1e-6)


def test_embed_connectivity_readout(cohort, model_file, tmp_path):
    _, folder, X, ids = cohort
    out = tmp_path / "connectivity.csv"
    argv = ["-q", "embed", str(model_file), str(folder), "--out", str(out),
            "--readout", "connectivity"]  # fmt: skip
    assert main(argv) == 0
    table = pd.read_csv(out, index_col=0)
    expected = BrainJEPAEmbedder(model_file, readout="connectivity").fit(X).transform(X)
    n_rois = X[0].shape[0]
    assert table.shape == (len(ids), n_rois * (n_rois - 1) // 2)
    np.testing.assert_allclose(table.to_numpy(), expected, atol=1e-6)


def test_embed_encoder_option(cohort, model_file, tmp_path):
    _, folder, X, _ = cohort
    tables = {}
    for encoder in ("target", "online"):
        out = tmp_path / f"{encoder}.csv"
        argv = ["-q", "embed", str(model_file), str(folder), "--out", str(out),
                "--source-encoder", encoder]  # fmt: skip
        assert main(argv) == 0
        tables[encoder] = pd.read_csv(out, index_col=0).to_numpy()
        expected = (
            BrainJEPAEmbedder(model_file, source_encoder=encoder).fit(X).transform(X)
        )
        np.testing.assert_allclose(tables[encoder], expected, atol=1e-6)
    assert np.abs(tables["online"] - tables["target"]).max() > 1e-4
    default = tmp_path / "default.csv"
    argv = ["-q", "embed", str(model_file), str(folder), "--out", str(default)]
    assert main(argv) == 0
    np.testing.assert_array_equal(
        pd.read_csv(default, index_col=0).to_numpy(), tables["target"]
    )


def test_probe_encoder_option(cohort, model_file, tmp_path):
    from sk_brainjepa.model_selection import probe_features

    root, folder, X, _ = cohort
    out = tmp_path / "scores.csv"
    argv = ["-q", "probe", "--checkpoint", str(model_file), "--data", str(folder),
            "--source-encoder", "online", "--readout", "roi", "--phenotypes",
            str(root / "pheno.csv"), "--column", "age", "--n-repeats", "2",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    online = BrainJEPAEmbedder(model_file, readout="roi", source_encoder="online").fit(
        X
    )
    y = pd.read_csv(root / "pheno.csv")["age"].to_numpy()
    expected = probe_features(online.transform(X), y, n_repeats=2, random_state=0)
    table = pd.read_csv(out, index_col=0)
    # The table says what it probed, in every row.
    assert list(table.columns[:3]) == ["probed", "readout", "encoder"]
    assert (table["probed"] == f"checkpoint {model_file}").all()
    assert (table["readout"] == "roi").all() and (table["encoder"] == "online").all()
    np.testing.assert_allclose(
        table.iloc[:, 3:].to_numpy(dtype=float),
        expected.to_numpy(dtype=float, na_value=np.nan),
        rtol=1e-12,
    )


def test_lagged_readout_needs_three_time_patches(cohort, model_file, tmp_path, capsys):
    _, folder, _, _ = cohort
    argv = ["embed", str(model_file), str(folder), "--out", str(tmp_path / "f.csv"),
            "--readout", "lagged"]  # fmt: skip
    assert main(argv) == 2  # the model's window of 32 frames holds 2 patches
    assert "--readout lagged needs at least 3 time patches" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["embed", "probe"])
def test_readout_and_encoder_choices_are_the_python_apis(command):
    from sk_brainjepa.cli import build_parser
    from sk_brainjepa.estimators._loading import ENCODERS
    from sk_brainjepa.nn import FEATURE_READOUTS

    sub = build_parser()._subparsers._group_actions[0].choices[command]
    choices = {a.dest: a.choices for a in sub._actions}
    assert tuple(choices["readout"]) == FEATURE_READOUTS
    assert tuple(choices["source_encoder"]) == ENCODERS


def test_bad_encoder_option_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["embed", "m.pt", "x", "--out", "f.csv", "--source-encoder", "ema"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'ema'" in capsys.readouterr().err


def test_probe_from_features_and_from_checkpoint(cohort, model_file, tmp_path):
    root, folder, _, _ = cohort
    features = tmp_path / "features.csv"
    main(["-q", "embed", str(model_file), str(folder), "--out", str(features)])
    scores = tmp_path / "scores.csv"
    common = ["--phenotypes", str(root / "pheno.csv"), "--n-repeats", "2"]
    assert main(["-q", "probe", str(features), "--column", "age", *common,
                 "--out", str(scores)]) == 0  # fmt: skip
    table = pd.read_csv(scores, index_col=0)
    assert list(table.index) == ["0", "1", "mean", "std"]
    assert {"mse", "pearson_r"} <= set(table.columns)
    again = tmp_path / "again.csv"
    argv = ["-q", "probe", "--checkpoint", str(model_file), "--data", str(folder),
            "--column", "age", *common, "--out", str(again)]  # fmt: skip
    assert main(argv) == 0
    again = pd.read_csv(again, index_col=0)
    # The same scores; each table says where its features came from.
    assert (table["probed"] == f"features file {features}").all()
    assert "readout" not in table.columns  # a features file does not record it
    assert (again["probed"] == f"checkpoint {model_file}").all()
    assert (again[["readout", "encoder"]] == ["mean", "target"]).all().all()
    scores_only = again.drop(columns=["probed", "readout", "encoder"])
    pd.testing.assert_frame_equal(scores_only, table.drop(columns="probed"))
    classes = tmp_path / "classes.csv"
    assert main(["-q", "probe", str(features), "--column", "group", *common,
                 "--out", str(classes)]) == 0  # fmt: skip
    assert "balanced_accuracy" in pd.read_csv(classes, index_col=0).columns


def test_gradients_from_fc_and_from_timeseries(cohort, tmp_path):
    _, folder, X, _ = cohort
    fc = np.stack([np.corrcoef(x) for x in X])
    np.save(tmp_path / "fc.npy", fc)
    out = tmp_path / "g.csv"
    args = ["--n-components", "3", "--sparsity", "0.5", "--random-state", "0"]
    assert (
        main(["-q", "gradients", str(tmp_path / "fc.npy"), "--out", str(out), *args])
        == 0
    )
    expected = GradientPositioner(n_components=3, sparsity=0.5, random_state=0).fit(fc)
    np.testing.assert_allclose(read_gradient_csv(out), expected.gradients_, atol=1e-6)
    out_ts = tmp_path / "g_ts.csv"
    assert main(["-q", "gradients", "--timeseries", str(folder), "--out",
                 str(out_ts), *args]) == 0  # fmt: skip
    assert read_gradient_csv(out_ts).shape == (N_ROIS, 3)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["pretrain", "missing_dir", "--out", "m.pt"], "does not exist"),
        (["embed", "missing.pt", "x", "--out", "f.csv"], "does not exist"),
        (["gradients", "{fc_bad}", "--out", "g.csv"], "expected (n_rois, n_rois)"),
        (
            [
                "probe",
                "{features}",
                "--phenotypes",
                "{pheno}",
                "--column",
                "height",
                "--out",
                "s.csv",
            ],
            "'height' is not in",
        ),  # fmt: skip
        (
            ["probe", "--phenotypes", "{pheno}", "--column", "age", "--out", "s.csv"],
            "either a features file or --checkpoint",
        ),  # fmt: skip
    ],
)
def test_clear_errors(cohort, tmp_path, capsys, monkeypatch, argv, message):
    root, _, _, ids = cohort
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "fc_bad.npy", np.zeros((3, 4)))
    pd.DataFrame(
        np.zeros((len(ids), 2)), index=pd.Index(ids, name="subject_id")
    ).to_csv(tmp_path / "features.csv")
    fill = {"fc_bad": tmp_path / "fc_bad.npy", "features": tmp_path / "features.csv",
            "pheno": root / "pheno.csv"}  # fmt: skip
    argv = [a.format(**fill) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"sk-brainjepa {argv[0]}: error:" in err and message in err


def test_probe_reports_subjects_without_phenotypes(cohort, tmp_path, capsys):
    root, _, _, ids = cohort
    features = tmp_path / "f.csv"
    pd.DataFrame(np.zeros((2, 2)), index=pd.Index(["sub-99", ids[0]])).to_csv(features)
    argv = ["probe", str(features), "--phenotypes", str(root / "pheno.csv"),
            "--column", "age", "--out", str(tmp_path / "s.csv")]  # fmt: skip
    assert main(argv) == 2
    assert "no row in" in capsys.readouterr().err


def test_module_entry_point_help():
    result = subprocess.run(
        [sys.executable, "-m", "sk_brainjepa", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for command in ("gradients", "pretrain", "embed", "probe"):
        assert command in result.stdout


def test_subject_scaling_option(cohort, model_file, tmp_path):
    from sk_brainjepa.preprocessing import SubjectRobustScaler
    from sk_brainjepa.sources import ScaledSource

    _, folder, X, _ = cohort
    out = tmp_path / "f.csv"
    argv = ["-q", "embed", str(model_file), str(folder), "--out", str(out),
            "--scaling", "subject"]  # fmt: skip
    assert main(argv) == 0
    per_subject = SubjectRobustScaler().to_window_transform()
    scaled = ScaledSource(np.asarray(X) * 3.0 + 7.0, per_subject)
    expected = BrainJEPAEmbedder(model_file).fit(scaled).transform(scaled)
    # Scaling removes the affine change: same features as the scaled original.
    np.testing.assert_allclose(pd.read_csv(out, index_col=0), expected, atol=1e-4)


@pytest.mark.skipif(shutil.which("sk-brainjepa") is None, reason="not installed")
def test_console_script():
    result = subprocess.run(["sk-brainjepa", "embed", "--help"], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0 and "--readout" in result.stdout


# ------------------------------------------- bad files and options: one line, exit 2
def _run(argv) -> int:
    """main's exit status, also when argparse exits."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.fixture
def bad_files(tmp_path, cohort, monkeypatch):
    """Working directory with one bad file of each kind, and the good ones."""
    root, folder, X, ids = cohort
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "header.csv").write_text("g1,g2\n0.1,0.2\n")
    (tmp_path / "not_a_checkpoint.pt").write_text("hello")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "not_a_zip.npz").write_bytes(b"\x80\x81 not an archive")
    table = pd.DataFrame(np.zeros((len(ids), 2)), index=pd.Index(ids, name="id"))
    table.to_csv(tmp_path / "features.csv")
    table.astype(object).assign(label="x").to_csv(tmp_path / "text_features.csv")
    pd.DataFrame({"id": ids, "age": np.nan}).to_csv(
        tmp_path / "no_age.csv", index=False
    )
    np.save(tmp_path / "four_d.npy", np.zeros((2, 3, 4, 5)))
    for sub in ["a", "b"]:  # same file name, no BIDS entity: the same id
        (tmp_path / sub).mkdir()
        np.save(tmp_path / sub / "ts.npy", X[0])
    return {"folder": folder, "pheno": root / "pheno.csv"}


EMBED = ["embed", "{model}", "{folder}", "--out", "f.csv"]
PROBE = ["probe", "features.csv", "--phenotypes", "{pheno}", "--column", "age"]


@pytest.mark.parametrize(
    "argv, message",
    [
        ([*EMBED, "--gradients", "missing.csv"], "gradient file missing.csv does not"),
        (["pretrain", "{folder}", "--out", "m.pt", "--gradients", "missing.csv"],
         "gradient file missing.csv does not"),
        ([*EMBED, "--gradients", "header.csv"], "Could not read 'header.csv'"),
        (["embed", "a_folder", "{folder}", "--out", "f.csv"],
         "checkpoint a_folder is a folder"),
        (["embed", "not_a_checkpoint.pt", "{folder}", "--out", "f.csv"],
         "not a PyTorch checkpoint"),
        (["embed", "{model}", "four_d.npy", "--out", "f.csv"],
         "holds an array of shape (2, 3, 4, 5)"),
        (["embed", "{model}", "a/ts.npy", "b/ts.npy", "--out", "f.csv"],
         "give the same subject id 'ts'"),
        ([*EMBED, "--npz-key", "bold"], None),  # .npy data: the key is not used
        (["embed", "{model}", "{folder}", "--out", "a_folder"], "--out a_folder is a"),
        (["pretrain", "{folder}", "--out", "a_folder"], "--out a_folder is a folder"),
        (["gradients", "a_folder", "--out", "g.csv"], "FC file a_folder is a folder"),
        (["gradients", "{folder}", "--timeseries", "--out", "a_folder"],
         "--out a_folder is a folder"),
        ([*PROBE, "--out", "s.npz"], "--out s.npz: expected a .csv, .tsv file"),
        (["probe", "features.csv", "--phenotypes", "a_folder", "--column", "age",
          "--out", "s.csv"], "phenotype table a_folder is a folder"),
        (["probe", "features.csv", "--phenotypes", "empty.csv", "--column", "age",
          "--out", "s.csv"], "empty.csv could not be parsed as a table"),
        (["probe", "text_features.csv", "--phenotypes", "{pheno}", "--column", "age",
          "--out", "s.csv"], "column 'label' holds text, not numbers"),
        (["probe", "not_a_zip.npz", "--phenotypes", "{pheno}", "--column", "age",
          "--out", "s.csv"], "features file not_a_zip.npz could not be read"),
        (["probe", "features.csv", "--phenotypes", "no_age.csv", "--column", "age",
          "--out", "s.csv"], "is empty for every subject with features"),
        ([*PROBE, "--data", "{folder}", "--out", "s.csv"], "leave --data out"),
        ([*PROBE, "--id-column", "subject", "--out", "s.csv"],
         "--id-column 'subject' is not a column"),
        ([*EMBED, "--index-col", "first"], "argument --index-col: expected 'infer'"),
        ([*EMBED, "--batch-size", "0"], "--batch-size must be an int"),
    ],
)  # fmt: skip
def test_bad_files_and_options_are_one_line_exit_2(
    bad_files, model_file, capsys, argv, message
):
    fill = {**bad_files, "model": model_file}
    argv = [a.format(**fill) for a in argv]
    status = _run(["-q", *argv])
    err = capsys.readouterr().err
    if message is None:  # an option that does not apply is no error
        assert status == 0, err
        return
    assert status == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and errors[0] == err.strip().splitlines()[-1], err
    assert errors[0].startswith(f"sk-brainjepa {argv[0]}")
    assert message in errors[0]


# ---------------------------------------------------- tables, BIDS folders, ids
def test_embed_drops_index_columns_of_tables(
    cohort, model_file, tmp_path, capsys, caplog
):
    _, _, X, ids = cohort
    tables = tmp_path / "tables"
    tables.mkdir()
    for sid, x in zip(ids, X, strict=True):  # frames x ROIs, 'time' index
        rois = [f"roi{j}" for j in range(N_ROIS)]
        pd.DataFrame(x.T, columns=rois).rename_axis("time").to_csv(
            tables / f"{sid}.csv"
        )
    out = tmp_path / "f.csv"
    argv = ["embed", str(model_file), str(tables), "--layout", "time_x_rois",
            "--out", str(out)]  # fmt: skip
    with caplog.at_level("INFO", logger="sk_brainjepa.sources"):
        assert main(argv) == 0
    assert "column 0 ('time') counts the rows" in caplog.text
    expected = BrainJEPAEmbedder(model_file).fit(X).transform(X)
    np.testing.assert_allclose(pd.read_csv(out, index_col=0), expected, atol=1e-6)
    # --index-col none keeps the frame numbers as a ninth ROI, as asked.
    assert main(["-q", *argv, "--index-col", "none"]) == 2
    assert f"{N_ROIS + 1} ROIs" in capsys.readouterr().err


def _bids_cohort(root, X, ids):
    """The cohort as BIDS derivatives; the first two subjects have two sessions."""
    for k, (sid, x) in enumerate(zip(ids, X, strict=True)):
        for ses in ("1", "2") if k < 2 else ("1",):
            func = root / sid / f"ses-{ses}" / "func"
            func.mkdir(parents=True)
            run = x if ses == "1" else x[:, ::-1].copy()
            np.save(func / f"{sid}_ses-{ses}_task-rest_timeseries.npy", run)


def test_bids_folder_embed_and_probe(cohort, model_file, tmp_path):
    from sk_brainjepa.model_selection import probe_features
    from sk_brainjepa.sources import as_source

    root, _, X, ids = cohort
    bids = tmp_path / "bids"
    _bids_cohort(bids, X, ids)
    pheno = pd.read_csv(root / "pheno.csv")
    # BIDS participants.tsv, with the bare form of the labels ("00", not "sub-00").
    participants = pheno.assign(participant_id=[s[4:] for s in ids])
    participants.drop(columns="participant").to_csv(
        bids / "participants.tsv", sep="\t", index=False
    )
    features = tmp_path / "f.csv"
    assert (
        main(["-q", "embed", str(model_file), str(bids), "--out", str(features)]) == 0
    )
    table = pd.read_csv(features, index_col=0)
    assert list(table.index[:5]) == [
        "sub-00_ses-1", "sub-00_ses-2", "sub-01_ses-1", "sub-01_ses-2", "sub-02"
    ]  # fmt: skip
    scores = tmp_path / "s.csv"
    argv = ["-q", "probe", "--checkpoint", str(model_file), "--data", str(bids),
            "--phenotypes", str(bids / "participants.tsv"), "--column", "age",
            "--task", "regression", "--n-repeats", "2",
            "--out", str(scores)]  # fmt: skip
    assert main(argv) == 0
    participant = [s.split("_")[0] for s in table.index]
    age = pheno.set_index("participant").loc[participant, "age"].to_numpy()
    source = as_source(bids)
    embedded = BrainJEPAEmbedder(model_file).fit(source).transform(source)
    # Both sessions of a participant stay in the same split.
    expected = probe_features(
        embedded, age, task="regression", groups=participant, n_repeats=2,
        random_state=0,
    )  # fmt: skip
    np.testing.assert_allclose(
        _scores(pd.read_csv(scores, index_col=0)), _scores(expected), rtol=1e-10
    )


def test_probe_keeps_ids_with_leading_zeros(cohort, model_file, tmp_path):
    _, _, X, _ = cohort
    ids = [f"{i:03d}" for i in range(1, len(X) + 1)]
    for sid, x in zip(ids, X, strict=True):
        np.save(tmp_path / f"{sid}.npy", x)
    ages = np.random.default_rng(0).normal(40, 5, len(ids))
    pd.DataFrame({"id": ids, "age": ages}).to_csv(tmp_path / "p.csv", index=False)
    features = tmp_path / "f.csv"
    argv = ["-q", "embed", str(model_file), str(tmp_path), "--pattern", "*.npy",
            "--out", str(features)]  # fmt: skip
    assert main(argv) == 0
    common = ["--phenotypes", str(tmp_path / "p.csv"), "--column", "age",
              "--n-repeats", "2"]  # fmt: skip
    # "001" is neither read as 1 from the phenotypes nor from the features.
    for source in (["--checkpoint", str(model_file), "--data", str(tmp_path),
                    "--pattern", "*.npy"], [str(features)]):  # fmt: skip
        assert main(["-q", "probe", *source, *common, "--out",
                     str(tmp_path / "s.csv")]) == 0  # fmt: skip


def test_probe_task_option(cohort, tmp_path):
    from sk_brainjepa.model_selection import probe_features

    root, _, _, ids = cohort
    features = pd.DataFrame(
        np.random.default_rng(1).normal(size=(len(ids), 4)), index=pd.Index(ids)
    )
    features.to_csv(tmp_path / "f.csv")
    out = tmp_path / "s.csv"
    argv = ["-q", "probe", str(tmp_path / "f.csv"), "--phenotypes",
            str(root / "pheno.csv"), "--column", "group", "--n-repeats", "2",
            "--out", str(out)]  # fmt: skip
    assert main([*argv, "--task", "regression"]) == 0
    group = pd.read_csv(root / "pheno.csv")["group"].to_numpy()
    expected = probe_features(features, group, task="regression", n_repeats=2,
                              random_state=0)  # fmt: skip
    table = pd.read_csv(out, index_col=0)
    assert "mse" in table.columns and "balanced_accuracy" not in table.columns
    np.testing.assert_allclose(_scores(table), _scores(expected), rtol=1e-12)
    assert main([*argv, "--task", "classification"]) == 0
    assert "balanced_accuracy" in pd.read_csv(out, index_col=0).columns


def test_layout_applies_to_every_command(cohort, model_file, tmp_path):
    root, folder, X, ids = cohort
    transposed = tmp_path / "time_x_rois"
    transposed.mkdir()
    for sid, x in zip(ids, X, strict=True):
        np.save(transposed / f"{sid}.npy", np.ascontiguousarray(x.T))
    layout = ["--layout", "time_x_rois"]

    def outputs(data, extra, name):
        files = {}
        for command, argv in {
            "embed": ["embed", str(model_file), str(data)],
            "gradients": ["gradients", "--timeseries", str(data), "--n-components",
                          "2", "--sparsity", "0.5"],
            "probe": ["probe", "--checkpoint", str(model_file), "--data", str(data),
                      "--phenotypes", str(root / "pheno.csv"), "--column", "age",
                      "--n-repeats", "2"],
        }.items():  # fmt: skip
            files[command] = tmp_path / f"{name}_{command}.csv"
            assert main(["-q", *argv, *extra, "--out", str(files[command])]) == 0
        return files

    ours, reference = outputs(transposed, layout, "t"), outputs(folder, [], "r")
    # model_file was pretrained with the same settings on the folder of
    # (n_rois, n_timepoints) files.
    model = tmp_path / "t.pt"
    assert main(["-q", "pretrain", str(transposed), "--out", str(model), *PRETRAIN,
                 *layout]) == 0  # fmt: skip
    np.testing.assert_allclose(
        BrainJEPAPretrainer.load(model).transform(X),
        BrainJEPAPretrainer.load(model_file).transform(X),
        atol=1e-6,
    )
    np.testing.assert_array_equal(
        read_gradient_csv(ours["gradients"]), read_gradient_csv(reference["gradients"])
    )
    for command in ("embed", "probe"):
        pd.testing.assert_frame_equal(
            pd.read_csv(ours[command], index_col=0),
            pd.read_csv(reference[command], index_col=0),
        )


def test_resume_with_another_scaling_is_refused_by_name(cohort, tmp_path, capsys):
    _, folder, _, _ = cohort
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "m.pt"
    first = ["-q", "pretrain", str(folder), "--out", str(out), *PRETRAIN]
    assert main([*first, "--scaling", "subject", "--checkpoint-path", str(ckpt)]) == 0
    capsys.readouterr()
    again = [*first, "--checkpoint-path", str(ckpt), "--resume"]
    assert main([*again, "--scaling", "none"]) == 2
    err = capsys.readouterr().err.strip()
    assert "SubjectRobustScaling" in err and "scaled with none" in err
    assert len(err.splitlines()) == 1
    # The same scaling continues the finished run for one more epoch.
    assert main([*again, "--scaling", "subject", "--max-epochs", "2"]) == 0


# ------------------------------------ options that cannot apply; messages in options
@pytest.mark.parametrize(
    "extra, named",
    [
        (["--source-encoder", "online"], "--source-encoder"),
        (["--readout", "connectivity"], "--readout"),
        (["--readout", "mean"], "--readout"),  # the default, typed: still refused
        (["--npz-key", "bold", "--layout", "time_x_rois"], "--layout, --npz-key"),
    ],
)
def test_probe_of_a_features_file_refuses_embedding_options(
    bad_files, capsys, extra, named
):
    # They were ignored: the table then claimed nothing about them, wrongly.
    argv = [a.format(**bad_files) for a in PROBE]
    assert _run(["-q", *argv, "--out", "s.csv", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"error: {named} appl" in err and "features file features.csv" in err
    assert not (bad_files["folder"].parent / "s.csv").exists()


def test_messages_name_the_options(cohort, model_file, tmp_path, capsys):
    _, _, X, _ = cohort
    folder = tmp_path / "npz"
    folder.mkdir()
    for i, x in enumerate(X[:3]):
        np.savez(folder / f"sub-{i}.npz", bold=x, confounds=x[:2])
    out = str(tmp_path / "f.csv")
    assert main(["embed", str(model_file), str(folder), "--out", out]) == 2
    err = capsys.readouterr().err
    assert "pass --npz-key to say which" in err and "npz_key" not in err
    assert main(["embed", str(model_file), str(folder), "--out", out,
                 "--npz-key", "signal"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "no array named --npz-key signal" in err and "npz_key" not in err


def test_quiet_silences_the_pretraining_progress_bar(cohort, tmp_path, capsys):
    _, folder, _, _ = cohort
    argv = ["pretrain", str(folder), "--out", str(tmp_path / "m.pt"),
            *PRETRAIN[:-2]]  # no --verbose 0  # fmt: skip
    assert main(["-q", *argv]) == 0
    assert "Brain-JEPA pretraining" not in capsys.readouterr().err
    assert main(argv) == 0
    assert "Brain-JEPA pretraining" in capsys.readouterr().err
