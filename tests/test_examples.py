"""The example scripts run end to end in their quick modes (CI-sized)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_example(script, *args, timeout=300):
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_interpretation_quick_writes_its_four_figures(tmp_path):
    pytest.importorskip("matplotlib")
    result = run_example("interpretation.py", "--quick", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("network_attention", "gradients", "history", "probe"):
        figure = tmp_path / f"{name}.png"
        assert figure.is_file(), f"{figure} was not written"
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "network attention" in result.stderr
