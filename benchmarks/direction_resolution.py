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

Writes ``<out>/direction_resolution[_quick].json`` (settings and every
per-split score) and the Markdown report rendered from it (``....md``);
``python benchmarks/direction_resolution.py --render <out>/direction_resolution.json``
re-renders the Markdown of a stored run.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    add_render_option,
    markdown_table,
    mean_std,
    now,
    report_header,
    rerender,
    run_record,
    save_run,
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
    TrainValTestSplit,
    make_brain_dynamics,
)
from sk_brainjepa.model_selection import probe_features
from sk_brainjepa.preprocessing import DynamicFeatures, SubjectRobustScaler

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
HEADS = ("connectivity", "lagged")


def cohort(cfg: dict, strengths: dict):
    X, pheno = make_brain_dynamics(
        n_subjects=cfg["n_subjects"],
        n_rois=cfg["n_rois"],
        n_timepoints=cfg["n_frames"],
        n_networks=4,
        random_state=0,
        **strengths,
    )
    X = SubjectRobustScaler().fit_transform(X).astype(np.float32)
    return X, pheno["direction"].to_numpy()


def probe_scores(features, y, cfg: dict) -> list[float]:
    """Test balanced accuracy of each split of ``probe_features``."""
    table = probe_features(
        features, y, n_repeats=cfg["repeats"], regularization=GRID, random_state=0
    )
    return table.loc[: cfg["repeats"] - 1, "balanced_accuracy"].tolist()


def readout_rows(cfg: dict) -> list[dict]:
    X, y = cohort(cfg, MIXED)
    rows = []
    for patch in cfg["patch_sizes"]:
        for epochs in cfg["epochs"]:
            pre = BrainJEPAPretrainer(
                "tiny",
                patch_size=patch,
                window_length=cfg["window"],
                max_epochs=epochs,
                batch_size=16,
                random_state=0,
            ).fit(X)
            row = {"patch_size": patch, "epochs": epochs}
            for readout in ("lagged", "connectivity"):
                feats = BrainJEPAEmbedder(
                    pretrainer=FrozenEstimator(pre), readout=readout
                ).fit_transform(X)
                row[readout] = probe_scores(feats, y, cfg)
            rows.append(row)
            logger.info("patch %d, %d epochs: %s", patch, epochs, row)
    return rows


def finetune_rows(cfg: dict) -> dict:
    X, y = cohort(cfg, LAG_ONLY)
    start = (X.shape[2] - cfg["window"]) // 2
    X = np.ascontiguousarray(X[:, :, start : start + cfg["window"]])
    result = {
        "reference": probe_scores(
            DynamicFeatures(kind="lagged").fit_transform(X), y, cfg
        ),
        "heads": {},
    }
    splits = TrainValTestSplit(cfg["finetune_splits"], random_state=0)
    for head in HEADS:
        scores, epochs_run = [], []
        for k, (train, val, test) in enumerate(splits.split_with_test(X, y)):
            init = BrainJEPAPretrainer(
                "tiny", window_length=cfg["window"], max_epochs=0, random_state=k
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
            scores.append(float(balanced_accuracy_score(y[test], net.predict(X[test]))))
            epochs_run.append(len(net.history))
        result["heads"][head] = {"scores": scores, "epochs_run": epochs_run}
        logger.info("fine-tune %s head: %s", head, scores)
    return result


def render(results: dict) -> str:
    """The Markdown report of a run record of ``main``."""
    cfg = results["settings"]
    finetune = results["finetune"]
    lines = report_header(
        "# Can the tiny encoder's tokens resolve a directed lag?", results
    )
    lines += [
        f"- Cohorts: `make_brain_dynamics(n_subjects={cfg['n_subjects']}, "
        f"n_rois={cfg['n_rois']}, n_timepoints={cfg['n_frames']}, n_networks=4, "
        "random_state=0, ...)`, each subject scaled with `SubjectRobustScaler`; "
        f"the direction lag is 2 frames. Window {cfg['window']} frames.",
        f"- Probes: `probe_features`, {cfg['repeats']} x 6/2/2, C in "
        f"{tuple(cfg['grid'])}; balanced accuracy on `direction`, mean ± sd over "
        "splits (chance 0.5).",
        "",
        "## Token readouts on the mixed cohort ("
        + ", ".join(f"{k}={v}" for k, v in cfg["mixed"].items())
        + ")",
        "",
        markdown_table(
            [
                "patch size",
                "pretraining epochs (default recipe)",
                "lagged readout",
                "connectivity readout",
            ],
            [
                [
                    r["patch_size"],
                    r["epochs"],
                    mean_std(r["lagged"]),
                    mean_std(r["connectivity"]),
                ]
                for r in results["readouts"]
            ],
        ),
        "",
        "## With labels, on a cohort with only `lagged_coupling=1.0`",
        "",
        markdown_table(
            ["features", "test balanced accuracy", "epochs run"],
            [
                [
                    "DynamicFeatures(kind='lagged') + linear probe",
                    mean_std(finetune["reference"]),
                    "-",
                ],
                *(
                    [
                        f"fine-tuned end to end, {head} head",
                        mean_std(h["scores"]),
                        str(h["epochs_run"]),
                    ]
                    for head, h in finetune["heads"].items()
                ),
            ],
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (tests)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    add_render_option(parser)
    args = parser.parse_args(argv)
    if args.render is not None:
        rerender(args.render, render, "direction_resolution")
        return 0
    setup_logging()
    cfg = QUICK if args.quick else FULL
    started, tic = now(), time.perf_counter()
    results = run_record(
        "direction_resolution",
        quick=args.quick,
        started=started,
        settings={**cfg, "grid": GRID, "mixed": MIXED, "lag_only": LAG_ONLY},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results["readouts"] = readout_rows(cfg)
        results["finetune"] = finetune_rows(cfg)
    results["wall_seconds"] = time.perf_counter() - tic
    stem = "direction_resolution" + ("_quick" if args.quick else "")
    _, report = save_run(args.out, stem, results, render)
    logger.info("wrote %s in %.1f min", report, results["wall_seconds"] / 60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
