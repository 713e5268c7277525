"""The example scripts run end to end in their quick modes (CI-sized)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Every script in examples/ must appear here and have a test below that runs it;
# test_every_example_is_tested fails when a new example is added without one.
TESTED_EXAMPLES = {
    "compare_models.py",
    "distributed_pretraining.py",
    "fine_tune.py",
    "from_fmriprep.py",
    "interpretation.py",
    "linear_probe.py",
    "quickstart.py",
}


def run_example(script, *args, timeout=300):
    # One thread per child: the test machines have few cores, shared with pytest.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def test_every_example_is_tested():
    found = {path.name for path in (ROOT / "examples").glob("*.py")}
    assert found, "no example scripts found"
    untested = sorted(found - TESTED_EXAMPLES)
    assert not untested, f"examples without a test in {Path(__file__).name}: {untested}"
    gone = sorted(TESTED_EXAMPLES - found)
    assert not gone, f"TESTED_EXAMPLES names scripts that do not exist: {gone}"
    # The list must not drift from the tests: each listed name is run by a test here.
    called = set(
        re.findall(r'run_example\(\s*"([^"]+\.py)"', Path(__file__).read_text())
    )
    not_run = sorted(TESTED_EXAMPLES - called)
    assert not not_run, f"listed in TESTED_EXAMPLES but run by no test: {not_run}"


def test_quickstart_quick_prints_the_probe_table():
    result = run_example("quickstart.py", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "embeddings: (40, 64) float32" in result.stderr
    # Two epochs logged as "epoch loss spread" rows, then the probe table: three
    # phenotypes for each of the two readouts.
    assert re.search(r"^\s+2\s+\d+\.\d{4}\s+\d+\.\d{3}$", result.stderr, re.M)
    for readout in ("mean", "connectivity"):
        for row in (
            "sex +balanced_accuracy",
            "diagnosis +balanced_accuracy",
            "age +pearson_r",
        ):
            assert re.search(
                rf"^ *{readout} +{row} +-?\d\.\d{{3}} +\d\.\d{{3}}$",
                result.stderr,
                re.M,
            ), (readout, row)


def test_from_fmriprep_quick_probes_a_phenotype():
    pytest.importorskip("nilearn")
    result = run_example("from_fmriprep.py", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "extracted: 20 runs, first (5, 64)" in result.stderr
    assert "linear probe of sex (classification)" in result.stderr
    assert re.search(r"^mean +.*\d\.\d{3}$", result.stderr, re.M)


def test_compare_models_quick_writes_the_comparison(tmp_path):
    result = run_example("compare_models.py", "--quick", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    for model in (
        "fc",
        "tangent",
        "lag",
        "brainnetcnn",
        "bnt",
        "probe-connectivity",
        "finetune",
    ):
        assert re.search(rf"^{model} +\d\.\d{{3}}", result.stderr, re.M), model
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [
        "sex.json",
        "sex.md",
        "sex.png",
        "sex_scores.csv",
        "sex_summary.csv",
    ]


def test_linear_probe_quick_scores_both_protocols():
    result = run_example("linear_probe.py", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    for column in (
        "sex (classification)",
        "diagnosis (classification)",
        "age (regression)",
    ):
        for readout in ("mean", "connectivity"):
            assert f"{column}, readout {readout}, 3 repeats of 6/2/2:" in result.stderr
    match = re.search(
        r"Pipeline \+ GridSearchCV \(sex, connectivity readout\): test balanced "
        r"accuracy (\d\.\d{3}) \+-",
        result.stderr,
    )
    assert match, result.stderr[-3000:]
    assert 0.0 <= float(match.group(1)) <= 1.0


def test_fine_tune_quick_scores_search_and_baseline():
    result = run_example("fine_tune.py", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"best parameters \{'lr'.*'module__readout'", result.stderr)
    for line in ("Brain-JEPA fine-tuned", "FC + logistic regression"):
        match = re.search(
            rf"{re.escape(line)}: test balanced accuracy (\d\.\d{{3}})", result.stderr
        )
        assert match, f"{line!r} missing:\n{result.stderr[-3000:]}"
        assert 0.0 <= float(match.group(1)) <= 1.0


def test_distributed_pretraining_quick_runs_alone_and_saves(tmp_path):
    from sk_brainjepa import BrainJEPAPretrainer

    result = run_example(
        "distributed_pretraining.py", "--quick", "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "training.ckpt").is_file()
    model = BrainJEPAPretrainer.load(tmp_path / "model.pt")
    assert [record["epoch"] for record in model.history_] == [1, 2]
    assert model.n_features_in_ == 8
    assert f"saved {tmp_path / 'model.pt'}" in result.stderr


def test_interpretation_quick_writes_its_four_figures(tmp_path):
    pytest.importorskip("matplotlib")
    result = run_example("interpretation.py", "--quick", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("network_attention", "gradients", "history", "probe"):
        figure = tmp_path / f"{name}.png"
        assert figure.is_file(), f"{figure} was not written"
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "network attention" in result.stderr
