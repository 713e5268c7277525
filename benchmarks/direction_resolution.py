"""Benchmark: can the tiny encoder's tokens resolve a directed lag at all?

``pretraining_value.py`` found no pretraining gain on the ``direction``
phenotype of ``make_brain_dynamics`` (a shared driver reaching one network 2
frames before the other) and its supervised ceiling at chance. This script
separates the objective from the architecture:

1. probes, on the benchmark's cohort, the lagged and the connectivity readouts
   of the untrained and of a briefly pretrained encoder at patch sizes 16, 8
   and 4 (``pretraining_value``'s default recipe);
2. fine-tunes the same tiny encoder end to end with labels (connectivity and
   lagged heads) on a cohort where only the lagged coupling is on, where the
   hand-written lagged reference (``DynamicFeatures(kind="lagged")``) is
   reported next to it.

Run from the repository root::

    python benchmarks/direction_resolution.py --quick   # seconds
    python benchmarks/direction_resolution.py           # about 2 minutes, 2 cores

Writes ``<out>/direction_resolution[_quick].md``.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    command_line,
    machine_info,
    machine_markdown,
    markdown_table,
    mean_std,
    now,
    report_header,
    setup_logging,
)
from sklearn.frozen import FrozenEstimator
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from sk_brainjepa import (
    BrainJEPAClassifier,
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    TrainValTestSplit,
    make_brain_dynamics,
)
from sk_brainjepa.datasets import SubjectRobustScaling
from sk_brainjepa.model_selection import probe_features
from sk_brainjepa.preprocessing import DynamicFeatures

logger = logging.getLogger("benchmarks")

FULL = {
    "n_subjects": 240,
    "n_rois": 20,
    "n_frames": 320,
    "window": 160,
    "patch_sizes": (16, 8, 4),
    "epochs": (0, 10),
    "repeats": 5,
    "finetune_epochs": 60,
    "finetune_splits": 1,
}
QUICK = {
    "n_subjects": 40,
    "n_rois": 8,
    "n_frames": 96,
    "window": 48,
    "patch_sizes": (16,),
    "epochs": (0, 1),
    "repeats": 2,
    "finetune_epochs": 2,
    "finetune_splits": 1,
}
MIXED = {"lagged_coupling": 1.0, "burstiness": 1.5, "state_switching": 0.6}
LAG_ONLY = {"lagged_coupling": 1.0}
GRID = (0.01, 1.0, 100.0)


def cohort(cfg: dict, strengths: dict):
    X, pheno = make_brain_dynamics(
        n_subjects=cfg["n_subjects"],
        n_rois=cfg["n_rois"],
        n_timepoints=cfg["n_frames"],
        n_networks=4,
        random_state=0,
        **strengths,
    )
    return SubjectRobustScaling()(X).astype(np.float32), pheno["direction"].to_numpy()


def readout_rows(cfg: dict) -> list:
    X, y = cohort(cfg, MIXED)
    rows = []
    for patch in cfg["patch_sizes"]:
        for epochs in cfg["epochs"]:
            pre = BrainJEPAPretrainer(
                "tiny",
                patch_size=patch,
                n_timepoints=cfg["window"],
                max_epochs=epochs,
                batch_size=16,
                random_state=0,
            ).fit(X)
            cells = []
            for readout in ("lagged", "connectivity"):
                feats = BrainJEPAEmbedder(
                    pretrainer=FrozenEstimator(pre), readout=readout
                ).fit_transform(X)
                table = probe_features(
                    feats, y, n_repeats=cfg["repeats"], regularization=GRID,
                    random_state=0,
                )  # fmt: skip
                cells.append(
                    mean_std(table.loc[: cfg["repeats"] - 1, "balanced_accuracy"])
                )
            rows.append([patch, epochs, *cells])
            logger.info("patch %d, %d epochs: %s", patch, epochs, cells)
    return rows


def finetune_rows(cfg: dict) -> list:
    X, y = cohort(cfg, LAG_ONLY)
    start = (X.shape[2] - cfg["window"]) // 2
    X = np.ascontiguousarray(X[:, :, start : start + cfg["window"]])
    reference = probe_features(
        DynamicFeatures(kind="lagged").fit_transform(X), y,
        n_repeats=cfg["repeats"], regularization=GRID, random_state=0,
    )  # fmt: skip
    rows = [
        [
            "DynamicFeatures(kind='lagged') + linear probe",
            mean_std(reference.loc[: cfg["repeats"] - 1, "balanced_accuracy"]),
            "-",
        ]
    ]
    splits = TrainValTestSplit(cfg["finetune_splits"], random_state=0)
    for head in ("connectivity", "lagged"):
        scores, epochs_run = [], []
        for k, (train, val, test) in enumerate(splits.split_with_test(X, y)):
            init = BrainJEPAPretrainer(
                "tiny", n_timepoints=cfg["window"], max_epochs=0, random_state=k
            ).fit(X[train])
            net = BrainJEPAClassifier(
                pretrainer=FrozenEstimator(init),
                module__readout=head,
                module__head_norm="batchnorm",
                lr=1e-3,
                max_epochs=cfg["finetune_epochs"],
                batch_size=16,
                patience=20,
                train_split=predefined_split(Dataset(X[val], y[val].astype(np.int64))),
                random_state=k,
            )
            net.fit(X[train], y[train])
            pred = net.predict(X[test])
            recalls = [np.mean(pred[y[test] == c] == c) for c in np.unique(y)]
            scores.append(float(np.mean(recalls)))
            epochs_run.append(len(net.history))
        rows.append(
            [f"fine-tuned end to end, {head} head", mean_std(scores), str(epochs_run)]
        )
        logger.info("fine-tune %s head: %s", head, scores)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (tests)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    setup_logging()
    cfg = QUICK if args.quick else FULL
    started, tic = now(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        readouts = readout_rows(cfg)
        finetune = finetune_rows(cfg)
    total = time.perf_counter() - tic
    lines = report_header(
        "# Can the tiny encoder's tokens resolve a directed lag?",
        quick=args.quick, started=started, seconds=total,
        machine=machine_markdown(machine_info()), command=command_line(),
    )  # fmt: skip
    lines += [
        f"- Cohorts: `make_brain_dynamics(n_subjects={cfg['n_subjects']}, "
        f"n_rois={cfg['n_rois']}, n_timepoints={cfg['n_frames']}, n_networks=4, "
        "random_state=0, ...)`, each subject scaled with `SubjectRobustScaling`; "
        f"the direction lag is 2 frames. Window {cfg['window']} frames.",
        f"- Probes: `probe_features`, {cfg['repeats']} x 6/2/2, C in {GRID}; "
        "balanced accuracy on `direction`, mean ± sd over splits (chance 0.5).",
        "",
        "## Token readouts on the mixed cohort (" + ", ".join(
            f"{k}={v}" for k, v in MIXED.items()) + ")",
        "",
        markdown_table(
            ["patch size", "pretraining epochs (default recipe)", "lagged readout",
             "connectivity readout"],
            readouts,
        ),
        "",
        "## With labels, on a cohort with only `lagged_coupling=1.0`",
        "",
        markdown_table(["features", "test balanced accuracy", "epochs run"], finetune),
        "",
    ]  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    report = args.out / (
        "direction_resolution" + ("_quick" if args.quick else "") + ".md"
    )
    report.write_text("\n".join(lines))
    logger.info("wrote %s in %.1f min", report, total / 60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
