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
from sk_brainjepa.cli._options import parameter_docs, parse_value

N_SUBJECTS, N_ROIS, N_FRAMES = 12, 8, 40
PRETRAIN = [
    "--n-timepoints", "32", "--max-epochs", "1", "--batch-size", "4",
    "--random-state", "0", "--model-params", '{"depth": 1}', "--verbose", "0",
]  # fmt: skip
PARAMS = dict(
    n_timepoints=32, max_epochs=1, batch_size=4, random_state=0,
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
                "--encoder", encoder]  # fmt: skip
        assert main(argv) == 0
        tables[encoder] = pd.read_csv(out, index_col=0).to_numpy()
        expected = BrainJEPAEmbedder(model_file, encoder=encoder).fit(X).transform(X)
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
            "--encoder", "online", "--readout", "roi", "--phenotypes",
            str(root / "pheno.csv"), "--column", "age", "--n-repeats", "2",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    online = BrainJEPAEmbedder(model_file, readout="roi", encoder="online").fit(X)
    y = pd.read_csv(root / "pheno.csv")["age"].to_numpy()
    expected = probe_features(online.transform(X), y, n_repeats=2, random_state=0)
    np.testing.assert_allclose(
        pd.read_csv(out, index_col=0).to_numpy(), expected.to_numpy(), rtol=1e-12
    )


def test_lagged_readout_needs_three_time_patches(cohort, model_file, tmp_path, capsys):
    _, folder, _, _ = cohort
    argv = ["embed", str(model_file), str(folder), "--out", str(tmp_path / "f.csv"),
            "--readout", "lagged"]  # fmt: skip
    assert main(argv) == 2  # the model's window of 32 frames holds 2 patches
    assert "readout='lagged' needs at least 3 time patches" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["embed", "probe"])
def test_readout_and_encoder_choices_are_the_python_apis(command):
    from sk_brainjepa.cli import build_parser
    from sk_brainjepa.estimators._loading import ENCODERS
    from sk_brainjepa.nn import FEATURE_READOUTS

    sub = build_parser()._subparsers._group_actions[0].choices[command]
    choices = {a.dest: a.choices for a in sub._actions}
    assert tuple(choices["readout"]) == FEATURE_READOUTS
    assert tuple(choices["encoder"]) == ENCODERS


def test_bad_encoder_option_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["embed", "m.pt", "x", "--out", "f.csv", "--encoder", "ema"])
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
    pd.testing.assert_frame_equal(pd.read_csv(again, index_col=0), table)
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


def test_every_pretrainer_parameter_is_an_option():
    from sk_brainjepa.cli import build_parser

    help_text = (
        build_parser()._subparsers._group_actions[0].choices["pretrain"].format_help()
    )
    api_only = {"monitor", "monitor_every", "monitor_readout"}  # arrays in Python
    for name in BrainJEPAPretrainer().get_params():
        flag = "--" + name.replace("_", "-")
        assert (flag in help_text) != (name in api_only), name
    docs = parameter_docs(BrainJEPAPretrainer)
    assert "Peak learning rate" in docs["lr"]
    assert docs["weight_decay"] == docs["final_weight_decay"]


def test_parse_value():
    assert parse_value("3") == 3 and parse_value("1e-3") == 1e-3
    assert parse_value("[0.99, 1.0]") == [0.99, 1.0]
    assert parse_value('{"depth": 4}') == {"depth": 4}
    assert parse_value("null") is None and parse_value("tiny") == "tiny"


def test_module_entry_point_help():
    result = subprocess.run(
        [sys.executable, "-m", "sk_brainjepa", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for command in ("gradients", "pretrain", "embed", "probe"):
        assert command in result.stdout


def test_subject_scaling_option(cohort, model_file, tmp_path):
    from sk_brainjepa.datasets import ScaledSource, SubjectRobustScaling

    _, folder, X, _ = cohort
    out = tmp_path / "f.csv"
    argv = ["-q", "embed", str(model_file), str(folder), "--out", str(out),
            "--scaling", "subject"]  # fmt: skip
    assert main(argv) == 0
    scaled = ScaledSource(np.asarray(X) * 3.0 + 7.0, SubjectRobustScaling())
    expected = BrainJEPAEmbedder(model_file).fit(scaled).transform(scaled)
    # Scaling removes the affine change: same features as the scaled original.
    np.testing.assert_allclose(pd.read_csv(out, index_col=0), expected, atol=1e-4)


@pytest.mark.skipif(shutil.which("sk-brainjepa") is None, reason="not installed")
def test_console_script():
    result = subprocess.run(["sk-brainjepa", "embed", "--help"], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0 and "--readout" in result.stdout
