"""Benchmark: the paper's two Brain-JEPA ablations, scored by linear probing.

(i) Gradient positioning of the ROIs against sin-cos ROI positions
(``model_params={"roi_embedding": "sincos"}``); (ii) spatiotemporal masking
against random token masking (``masking="random"``). Each variant is
pretrained with the same budget (data, epochs, batch size, learning-rate
schedule, seed) on the unlabelled simulated pretraining cohort of
``compare_models.py`` and probed with ``sk_brainjepa.linear_probe`` on the
same labelled cohort and the same 6/2/2 splits (same ``random_state``).

Run from the repository root::

    python benchmarks/ablation.py --quick      # about a minute on 2 cores
    python benchmarks/ablation.py              # about 20 minutes

Writes ``<out>/ablation[_quick].json`` (settings, pretraining records and
every per-repeat score), the Markdown report rendered from it
(``..._quick].md``) and ``..._scores.csv`` (one row per task, variant,
pretraining seed and repeat). ``python benchmarks/ablation.py --render
<out>/ablation.json`` re-renders the Markdown of a stored run.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import pandas as pd
from _common import (
    MAIN_METRIC,
    PRETRAIN_COHORTS,
    REG_GRID,
    SCALINGS,
    add_render_option,
    cohort_description,
    mean_std,
    now,
    offset_ratio,
    pretrain_brainjepa,
    pretraining_table,
    records,
    report_header,
    rerender,
    run_record,
    save_run,
    scale_timeseries,
    set_threads,
    setup_logging,
    simulated_cohorts,
    summary_table,
)

from sk_brainjepa import linear_probe

logger = logging.getLogger("ablation")

VARIANTS = {
    "gradient positions + spatiotemporal masking (paper)": {},
    "sin-cos ROI positions (ablation i)": {"model_params": {"roi_embedding": "sincos"}},
    "random token masking (ablation ii)": {"masking": "random"},
}
TASKS = {"sim-sex": "sex", "sim-diagnosis": "diagnosis", "sim-age": "age"}

# Same data and pretraining budget as compare_models.py's full / quick modes.
FULL = {
    "repeats": 5,
    "pretrain_seeds": 2,
    "n_subjects": 200,
    "n_rois": 20,
    "n_timepoints": 160,
    "n_pretrain": 400,
    "pretrain_epochs": 100,
}
QUICK = {
    "repeats": 2,
    "pretrain_seeds": 1,
    "n_subjects": 60,
    "n_rois": 10,
    "n_timepoints": 64,
    "n_pretrain": 60,
    "pretrain_epochs": 3,
}


def task_kind(target: str) -> str:
    return "regression" if target == "age" else "classification"


def measure(args, cfg: dict) -> tuple[dict, pd.DataFrame]:
    """Pretrain every variant and probe it; the run record and the scores."""
    started, tic = now(), time.perf_counter()
    results = run_record(
        "ablation",
        quick=args.quick,
        started=started,
        settings={
            **cfg,
            "seed": args.seed,
            "scaling": args.scaling,
            "pretrain_cohort": args.pretrain_cohort,
            "readout": args.readout,
            "threads": args.threads,
            "regularization": REG_GRID,
        },
        variants=VARIANTS,
        tasks={t: {"target": v, "kind": task_kind(v)} for t, v in TASKS.items()},
    )
    logger.info("%s | %s", results["command"], results["machine"]["CPU"])
    X_raw, pheno, X_pre_raw = simulated_cohorts(
        cfg["n_subjects"],
        cfg["n_rois"],
        cfg["n_timepoints"],
        cfg["n_pretrain"],
        pretrain_cohort=args.pretrain_cohort,
        seed=args.seed,
    )
    X_pre = scale_timeseries(X_pre_raw, args.scaling, reference=X_pre_raw)
    X = scale_timeseries(X_raw, args.scaling, reference=X_pre_raw)
    results["data"] = {
        "shape": list(X.shape),
        "n_pretrain": len(X_pre),
        "offset_ratio": offset_ratio(X),
    }

    rows, pretraining = [], []
    for variant, params in VARIANTS.items():
        for s in range(cfg["pretrain_seeds"]):
            pre_seed = args.seed + s
            pre, rec = pretrain_brainjepa(
                X_pre,
                cfg["n_timepoints"],
                cfg["pretrain_epochs"],
                pre_seed,
                f"{variant}, seed {pre_seed}",
                **params,
            )
            pretraining.append(rec)
            for task, target in TASKS.items():
                kind = task_kind(target)
                y = pheno[target].to_numpy()
                probe_start = time.perf_counter()
                table = linear_probe(
                    pre,
                    X,
                    y.astype(float) if kind == "regression" else y,
                    task=kind,
                    readout=args.readout,
                    n_repeats=cfg["repeats"],
                    regularization=REG_GRID,
                    random_state=args.seed,
                )
                probe_seconds = time.perf_counter() - probe_start
                per_repeat = table.drop(index=["mean", "std"])
                for k, row in per_repeat.iterrows():
                    rows.append(
                        {
                            "task": task,
                            "variant": variant,
                            "pretrain_seed": pre_seed,
                            **row.to_dict(),
                            "repeat": k,
                            "probe_seconds_all_repeats": probe_seconds,
                        }
                    )
                main_metric = MAIN_METRIC[kind]
                logger.info(
                    "%s | %s | seed %d: %s %s",
                    task,
                    variant,
                    pre_seed,
                    main_metric,
                    mean_std(per_repeat[main_metric]),
                )
    scores = pd.DataFrame(rows)
    results["pretraining"] = pretraining
    results["scores"] = records(scores)
    results["wall_seconds"] = time.perf_counter() - tic
    return results, scores


def render(results: dict) -> str:
    """The Markdown report of a run record of ``measure``."""
    cfg = results["settings"]
    seed, readout, scaling = cfg["seed"], cfg["readout"], cfg["scaling"]
    n_subjects, n_rois, n_frames = results["data"]["shape"]
    n_pretrain = results["data"]["n_pretrain"]
    how = cohort_description(
        cfg["n_subjects"],
        cfg["n_rois"],
        cfg["n_timepoints"],
        cfg["n_pretrain"],
        pretrain_cohort=cfg["pretrain_cohort"],
        seed=seed,
    )
    variants = results["variants"]
    parts = [
        *report_header("# Brain-JEPA ablations", results),
        f"- Data: simulated (`make_brain_dynamics`, TR 2 s), labelled cohort "
        f"{n_subjects} subjects x {n_rois} ROIs x {n_frames} frames; {how}. "
        "Scaling: "
        + (
            "`ROIRobustScaler` fitted on the pretraining cohort only"
            if scaling == "cohort"
            else "each subject scaled by a `ROIRobustScaler` fitted on its own series"
        )
        + f" (between-subject SD of ROI means / within-subject SD after scaling: "
        f"{results['data']['offset_ratio']:.1f}).",
        "- Variants (only the named option differs): "
        + "; ".join(f"**{v}** `{p or 'defaults'}`" for v, p in variants.items())
        + ". Random masking uses the library's `RandomTokenMasker` defaults "
        "(30 % of tokens observed, 24 % predicted).",
        f"- Same pretraining budget for every variant: `BrainJEPAPretrainer('tiny')`,"
        f" {cfg['pretrain_epochs']} epochs on the {n_pretrain} pretraining "
        "subjects, batch 16, lr 1e-3 and the library's schedules; "
        f"{cfg['pretrain_seeds']} pretraining seed(s) per variant "
        f"(random_state {seed} ... {seed + cfg['pretrain_seeds'] - 1}).",
        f"- Scoring: `sk_brainjepa.linear_probe(pretrainer, X, y, readout="
        f"'{readout}', n_repeats={cfg['repeats']}, random_state={seed})`: "
        + (
            "mean target-encoder features"
            if readout == "mean"
            else "correlation between ROIs of their target-encoder token trajectories"
        )
        + ", StandardScaler + LogisticRegression / Ridge with C / alpha "
        "chosen on the validation part of each 6/2/2 split, scored on the test "
        "part. The splits are those of `compare_models.py` with the same seed. "
        "Tables: mean ± std over all (pretraining seed x split) runs; the last "
        "column gives the mean of the main metric for each pretraining seed, "
        "to show how much the pretraining run alone moves the score.",
        "",
        "## Pretraining",
        "",
        pretraining_table(results["pretraining"]),
        "",
        "## Linear-probe results (test part)",
        "",
    ]
    scores = pd.DataFrame(results["scores"])
    for task, spec in results["tasks"].items():
        kind = spec["kind"]
        metric = MAIN_METRIC[kind]
        part = scores[scores["task"] == task]
        per_seed = {
            v: " / ".join(
                f"{m:.3f}"
                for m in part[part["variant"] == v]
                .groupby("pretrain_seed")[metric]
                .mean()
            )
            for v in variants
        }
        table = summary_table(
            part,
            kind,
            "variant",
            list(variants),
            extra={f"{metric} per pretraining seed": per_seed},
        )
        chance = ", chance balanced accuracy 0.500" if kind == "classification" else ""
        parts += [f"### {task} ({kind}{chance})", "", table, ""]
    parts += [f"Per-repeat scores: `{stem_of(results)}_scores.csv`.", ""]
    return "\n".join(parts)


def stem_of(results: dict) -> str:
    """The file stem of a run: ``ablation[_quick][_<scaling>-scaling]...``."""
    cfg = results["settings"]
    stem = "ablation" + ("_quick" if results["quick"] else "")
    if cfg["scaling"] != "cohort":
        stem += f"_{cfg['scaling']}-scaling"
    if cfg["pretrain_cohort"] != "disjoint":
        stem += f"_{cfg['pretrain_cohort']}"
    if cfg["readout"] != "mean":
        stem += f"_{cfg['readout']}-readout"
    return stem


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repeats")
    parser.add_argument("--out", default="benchmarks/results", help="output folder")
    parser.add_argument(
        "--repeats", type=int, default=None, help="splits per task (5; quick: 2)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pretrain-seeds",
        type=int,
        default=None,
        help="pretraining runs per variant, random_state seed, seed+1, ... "
        "(2; quick: 1)",
    )
    parser.add_argument("--scaling", choices=SCALINGS, default="cohort")
    parser.add_argument(
        "--pretrain-cohort", choices=PRETRAIN_COHORTS, default="disjoint"
    )
    parser.add_argument(
        "--readout",
        choices=("mean", "connectivity"),
        default="mean",
        help="features the linear probe reads (mean: the paper's)",
    )
    parser.add_argument("--threads", type=int, default=1)
    add_render_option(parser)
    args = parser.parse_args(argv)
    if args.render is not None:
        rerender(args.render, render, "ablation")
        return
    setup_logging()
    set_threads(args.threads)
    cfg = dict(QUICK if args.quick else FULL)
    for key in ("repeats", "pretrain_seeds"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    results, scores = measure(args, cfg)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = stem_of(results)
    csv_path = out / f"{stem}_scores.csv"
    scores.to_csv(csv_path, index=False)
    logger.info("wrote %s", csv_path)
    _, md_path = save_run(out, stem, results, render)
    print(md_path.read_text(encoding="utf-8").split("## Linear-probe results")[-1])
    logger.info("done in %.1f min", results["wall_seconds"] / 60)


if __name__ == "__main__":
    main()
