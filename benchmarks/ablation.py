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

Writes ``<out>/ablation[_quick].md`` and ``..._scores.csv`` (one row per
task, variant, pretraining seed and repeat).
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
    SCALINGS,
    command_line,
    machine_info,
    machine_markdown,
    markdown_table,
    mean_std,
    now,
    offset_ratio,
    pretrain_brainjepa,
    report_header,
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
    args = parser.parse_args(argv)
    setup_logging()
    set_threads(args.threads)
    cfg = dict(QUICK if args.quick else FULL)
    for key in ("repeats", "pretrain_seeds"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "ablation" + ("_quick" if args.quick else "")
    if args.scaling != "cohort":
        stem += f"_{args.scaling}-scaling"
    if args.pretrain_cohort != "disjoint":
        stem += f"_{args.pretrain_cohort}"
    if args.readout != "mean":
        stem += f"_{args.readout}-readout"
    started, tic = now(), time.perf_counter()
    machine = machine_info()
    logger.info("%s | %s", command_line(), machine["CPU"])

    X_raw, pheno, X_pre_raw, how = simulated_cohorts(
        cfg["n_subjects"],
        cfg["n_rois"],
        cfg["n_timepoints"],
        cfg["n_pretrain"],
        pretrain_cohort=args.pretrain_cohort,
        seed=args.seed,
    )
    X_pre = scale_timeseries(X_pre_raw, args.scaling, reference=X_pre_raw)
    X = scale_timeseries(X_raw, args.scaling, reference=X_pre_raw)

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
                kind = "regression" if target == "age" else "classification"
                y = pheno[target].to_numpy()
                probe_start = time.perf_counter()
                table = linear_probe(
                    pre,
                    X,
                    y.astype(float) if kind == "regression" else y,
                    task=kind,
                    readout=args.readout,
                    n_repeats=cfg["repeats"],
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
    csv_path = out / f"{stem}_scores.csv"
    scores.to_csv(csv_path, index=False)
    logger.info("wrote %s", csv_path)
    total = time.perf_counter() - tic

    parts = [
        *report_header(
            "# Brain-JEPA ablations",
            quick=args.quick,
            started=started,
            seconds=total,
            machine=machine_markdown(machine),
        ),
        f"- Data: simulated (`make_brain_dynamics`, TR 2 s), labelled cohort "
        f"{X.shape[0]} subjects x {X.shape[1]} ROIs x {X.shape[2]} frames; {how}. "
        "Scaling: "
        + (
            "`ROIRobustScaler` fitted on the pretraining cohort only"
            if args.scaling == "cohort"
            else "each subject scaled by a `ROIRobustScaler` fitted on its own series"
        )
        + f" (between-subject SD of ROI means / within-subject SD after scaling: "
        f"{offset_ratio(X):.1f}).",
        "- Variants (only the named option differs): "
        + "; ".join(f"**{v}** `{p or 'defaults'}`" for v, p in VARIANTS.items())
        + ". Random masking uses the library's `RandomTokenMasker` defaults "
        "(30 % of tokens observed, 24 % predicted).",
        f"- Same pretraining budget for every variant: `BrainJEPAPretrainer('tiny')`,"
        f" {cfg['pretrain_epochs']} epochs on the {X_pre.shape[0]} pretraining "
        "subjects, batch 16, lr 1e-3 and the library's schedules; "
        f"{cfg['pretrain_seeds']} pretraining seed(s) per variant "
        f"(random_state {args.seed} ... {args.seed + cfg['pretrain_seeds'] - 1}).",
        f"- Scoring: `sk_brainjepa.linear_probe(pretrainer, X, y, readout="
        f"'{args.readout}', n_repeats={cfg['repeats']}, random_state={args.seed})`: "
        + (
            "mean target-encoder features"
            if args.readout == "mean"
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
    ]
    header = list(pretraining[0])
    parts.append(
        markdown_table(
            header,
            [
                [f"{r[h]:.1f}" if isinstance(r[h], float) else r[h] for h in header]
                for r in pretraining
            ],
        )
    )
    parts += ["", "## Linear-probe results (test part)", ""]
    printed = []
    for task, target in TASKS.items():
        kind = "regression" if target == "age" else "classification"
        metric = MAIN_METRIC[kind]
        part = scores[scores["task"] == task]
        per_seed = {
            v: " / ".join(
                f"{m:.3f}"
                for m in part[part["variant"] == v]
                .groupby("pretrain_seed")[metric]
                .mean()
            )
            for v in VARIANTS
        }
        table = summary_table(
            part,
            kind,
            "variant",
            list(VARIANTS),
            extra={f"{metric} per pretraining seed": per_seed},
        )
        chance = ", chance balanced accuracy 0.500" if kind == "classification" else ""
        title = f"### {task} ({kind}{chance})"
        parts += [title, "", table, ""]
        printed += [title, table, ""]
    parts += [f"Per-repeat scores: `{csv_path.name}`.", ""]
    md_path = out / f"{stem}.md"
    md_path.write_text("\n".join(parts), encoding="utf-8")
    logger.info("wrote %s", md_path)
    print("\n".join(printed))
    logger.info("done in %.1f min", total / 60)


if __name__ == "__main__":
    main()
