"""Quickstart: simulate resting-state fMRI, preprocess, position ROIs by brain
gradients, pretrain a tiny Brain-JEPA on the CPU, embed every subject and probe.

Run from the repository root:

    python examples/quickstart.py            # 17 s on an idle 2-core Xeon CPU
    python examples/quickstart.py --quick    # tiny cohort, 2 epochs: seconds
    python examples/quickstart.py --help     # sizes and epochs
"""

import argparse
import logging
import time

import numpy as np
import pandas as pd

from sk_brainjepa import (
    BrainJEPAPretrainer,
    FunctionalConnectivity,
    GradientPositioner,
    TemporalResampler,
    linear_probe,
    make_brain_dynamics,
)
from sk_brainjepa.preprocessing import SubjectRobustScaler

log = logging.getLogger("quickstart")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-subjects", type=int, help="default 120 (--quick: 40)")
    parser.add_argument("--n-rois", type=int, help="default 40 (--quick: 20)")
    parser.add_argument("--epochs", type=int, help="default 15 (--quick: 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="tiny cohort and 2 epochs (a smoke run)"
    )
    args = parser.parse_args()
    # Sizes given on the command line win over both presets.
    preset = (
        {"n_subjects": 40, "n_rois": 20, "epochs": 2}
        if args.quick
        else {"n_subjects": 120, "n_rois": 40, "epochs": 15}
    )
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    # 1. Data: BOLD-like series at TR 0.72 s (as HCP), 300 frames per subject.
    tic = time.perf_counter()
    X, phenotypes = make_brain_dynamics(
        n_subjects=args.n_subjects,
        n_rois=args.n_rois,
        n_timepoints=300,
        tr=0.72,
        random_state=args.seed,
    )
    log.info(
        "data: X %s %s, phenotypes %s (%.1f s)",
        X.shape,
        X.dtype,
        list(phenotypes.columns[:3]),
        time.perf_counter() - tic,
    )

    # 2. Preprocessing: robust scaling of each ROI (median / IQR), computed on
    #    each subject's own run because raw BOLD offsets differ between subjects
    #    far more than the fluctuations within a run (the paper pools the
    #    statistics over subjects: ROIRobustScaler()); then TR 0.72 s -> 2.16 s
    #    (every third frame) and a window of 96 frames.
    X = SubjectRobustScaler().fit_transform(X)
    X = TemporalResampler(tr=0.72, target_tr=2.16, n_timepoints=96).fit_transform(X)
    log.info("preprocessed: %s, median %.2f, IQR-scaled", X.shape, float(np.median(X)))

    # 3. Gradient positioning from the group functional connectivity.
    fc = FunctionalConnectivity().fit_transform(X)
    positioner = GradientPositioner(
        n_components=10, sparsity=0.8, random_state=args.seed
    ).fit(fc)
    log.info(
        "gradients: %s, first lambdas %s",
        positioner.gradients_.shape,
        np.round(positioner.lambdas_[:3], 4),
    )

    # 4. Self-supervised pretraining of a tiny Brain-JEPA.
    pretrainer = BrainJEPAPretrainer(
        model="tiny",
        window_length=96,
        gradients=positioner,
        max_epochs=args.epochs,
        batch_size=16,
        lr=1e-3,
        random_state=args.seed,
    )
    tic = time.perf_counter()
    features = pretrainer.fit_transform(X)
    log.info("pretraining took %.1f s", time.perf_counter() - tic)
    log.info("epoch   loss     spread")
    for record in pretrainer.history_:
        log.info("%5d   %.4f   %.3f", record["epoch"], record["loss"], record["spread"])
    log.info("embeddings: %s %s", features.shape, features.dtype)

    # 5. Linear probing in one call: 5 repeats of a 6/2/2 split per phenotype,
    #    on the paper's mean readout and on the connectivity of the ROIs' token
    #    trajectories (the simulated phenotypes live in connectivity).
    rows = []
    for readout in ("mean", "connectivity"):
        for column in ("sex", "diagnosis", "age"):
            table = linear_probe(
                pretrainer,
                X,
                phenotypes[column],
                readout=readout,
                n_repeats=5,
                random_state=args.seed,
            )
            metric = (
                "balanced_accuracy"
                if table.attrs["task"] == "classification"
                else "pearson_r"
            )
            rows.append(
                {
                    "readout": readout,
                    "phenotype": column,
                    "metric": metric,
                    "mean": table.loc["mean", metric],
                    "std": table.loc["std", metric],
                }
            )
    log.info(
        "linear probe (test part, mean and std over 5 repeats; chance: 0.5 "
        "balanced accuracy, r = 0):\n%s",
        pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"),
    )


if __name__ == "__main__":
    main()
