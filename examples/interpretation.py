"""Interpretation: which functional networks a pretrained Brain-JEPA attends to.

Simulates a cohort whose ROIs belong to known networks, pretrains a tiny
Brain-JEPA, computes the attention each network receives (as in the paper,
for all subjects and per diagnosis group), and saves four figures:

- ``network_attention.png``: bars for the cohort, radar per diagnosis group;
- ``gradients.png``: the ROIs on the first two brain gradients, by network;
- ``history.png``: pretraining loss, learning rate and collapse statistics;
- ``probe.png``: linear-probe scores of two readouts with error bars.

Needs matplotlib (``pip install sk_brainjepa[plot]``). Run from the
repository root:

    python examples/interpretation.py --out figures  # ~4 min on a busy 2-core CPU
    python examples/interpretation.py --quick        # ~15 s; into a temp folder

A tiny model trained for minutes on simulated data attends almost uniformly
(every network near 1 / 5); the figures show the workflow, not a finding.
"""

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402

from sk_brainjepa import (  # noqa: E402
    BrainJEPAPretrainer,
    ROIRobustScaler,
    linear_probe,
    make_brain_dynamics,
    network_attention,
)
from sk_brainjepa.estimators import RepresentationCollapseWarning  # noqa: E402
from sk_brainjepa.plotting import (  # noqa: E402
    plot_gradients,
    plot_history,
    plot_network_attention,
    plot_probe_results,
)

log = logging.getLogger("interpretation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and model")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the figures (default: temp)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = args.out or Path(tempfile.mkdtemp(prefix="sk_brainjepa_interpretation_"))
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        n_subjects, n_rois, n_frames, window, epochs, repeats = 24, 20, 64, 32, 2, 2
    else:
        n_subjects, n_rois, n_frames, window, epochs, repeats = 120, 40, 200, 160, 15, 5
    tic = time.perf_counter()

    # 1. A cohort whose ROIs fall into 5 networks (contiguous blocks of ROIs).
    X, pheno, networks = make_brain_dynamics(
        n_subjects=n_subjects,
        n_rois=n_rois,
        n_timepoints=n_frames,
        n_networks=5,
        random_state=args.seed,
        return_networks=True,
    )
    labels = [f"net{k}" for k in networks]
    X = ROIRobustScaler().fit_transform(X)

    # 2. Self-supervised pretraining (gradients fitted on the cohort's FC).
    pretrainer = BrainJEPAPretrainer(
        model="tiny",
        window_length=window,
        max_epochs=epochs,
        batch_size=8,
        random_state=args.seed,
    )
    with warnings.catch_warnings():
        if args.quick:  # two epochs are too few to learn much; that is expected
            warnings.simplefilter("ignore", RepresentationCollapseWarning)
        pretrainer.fit(X)
    log.info("pretrained in %.1f s", time.perf_counter() - tic)

    # 3. Network attention: the cohort, then each diagnosis group.
    cohort = network_attention(pretrainer, X, labels)
    diagnosis = pheno["diagnosis"].to_numpy()
    groups = {
        name: network_attention(pretrainer, X[diagnosis == value], labels)
        for name, value in (("controls", 0), ("patients", 1))
    }
    log.info("network attention (shares summing to 1):\n%s", cohort.round(4))
    log.info(
        "largest deviation from uniform attention (1/%d): %.2g",
        len(cohort),
        float((cohort - 1 / len(cohort)).abs().max()),
    )

    # 4. Linear probing of the diagnosis with two readouts.
    tables = {
        readout: linear_probe(
            pretrainer,
            X,
            pheno["diagnosis"],
            readout=readout,
            n_repeats=repeats,
            random_state=args.seed,
        )
        for readout in ("mean", "roi")
    }

    # 5. Figures.
    fig = plt.figure(figsize=(10, 4), layout="constrained")
    plot_network_attention(cohort, ax=fig.add_subplot(1, 2, 1))
    radar = fig.add_subplot(1, 2, 2, projection="polar")
    for name, attention in groups.items():
        plot_network_attention(attention, kind="radar", ax=radar, label=name)
    fig.savefig(out / "network_attention.png", dpi=100)

    ax = plot_gradients(pretrainer, network_labels=labels)
    ax.figure.savefig(out / "gradients.png", dpi=100)

    axes = plot_history(pretrainer)
    axes[0].figure.savefig(out / "history.png", dpi=100)

    ax = plot_probe_results(tables, metric=["balanced_accuracy", "roc_auc"])
    ax.figure.savefig(out / "probe.png", dpi=100)
    plt.close("all")

    for name in ("network_attention", "gradients", "history", "probe"):
        log.info("wrote %s", out / f"{name}.png")
    log.info("total %.1f s", time.perf_counter() - tic)


if __name__ == "__main__":
    main()
