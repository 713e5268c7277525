"""Is Brain-JEPA worth it on my data? One call that compares it with the baselines.

A simulated multi-site cohort with two runs per participant stands in for your
own: Brain-JEPA is pretrained on a separate unlabelled cohort (the paper's
protocol: pretrain once on many subjects, then probe or fine-tune with few
labels), then ``compare_models`` scores FC, tangent-space FC, lag features,
BrainNetCNN, BNT, the Brain-JEPA probe and fine-tuning on the same repeated
6/2/2 splits, with the runs of a participant kept on one side of every split
and ComBat fitted on each training part. It writes the per-repeat scores, the
summary (paired differences against FC + linear with the Nadeau-Bengio
corrected t-test), a Markdown report and a figure.

Run from the repository root:

    python examples/compare_models.py            # 21 min on a shared 2-core CPU
    python examples/compare_models.py --quick    # under a minute

The same comparison from files: ``sk-brainjepa compare DATA --phenotypes
pheno.csv --target sex --groups participant_id --sites site --harmonize combat
--checkpoint model.pt --out results/sex``.
"""

import argparse
import logging
from pathlib import Path

from sk_brainjepa import BrainJEPAPretrainer, make_brain_dynamics
from sk_brainjepa.model_selection import compare_models
from sk_brainjepa.plotting import save_model_comparison_figure
from sk_brainjepa.preprocessing import SubjectRobustScaler

log = logging.getLogger("compare_models")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and budgets")
    parser.add_argument("--out", default="compare_models_example", help="output folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.quick:
        n_labelled, n_unlabelled, epochs, net_epochs, repeats = 40, 60, 1, 2, 2
    else:
        n_labelled, n_unlabelled, epochs, net_epochs, repeats = 120, 600, 20, 30, 5
    cohort = dict(n_rois=20, n_timepoints=160, connectome_random_state=0)

    # Unlabelled cohort for pretraining; the labelled one comes from three sites,
    # with two runs per participant. Both share one brain wiring and atlas.
    X_unlabelled, _ = make_brain_dynamics(n_unlabelled, random_state=1, **cohort)
    X, pheno = make_brain_dynamics(
        n_labelled, n_sites=3, site_effect=1.0, runs_per_subject=2, random_state=2,
        **cohort,
    )  # fmt: skip
    scaler = SubjectRobustScaler()
    jepa = BrainJEPAPretrainer(
        window_length=160, max_epochs=epochs, batch_size=16, random_state=0
    ).fit(scaler.fit_transform(X_unlabelled))
    X = scaler.fit_transform(X)

    nets = ("brainnetcnn", "bnt", "finetune")
    result = compare_models(
        X,
        pheno["sex"],
        pretrained=jepa,
        groups=pheno["participant_id"],
        sites=pheno["site"],
        harmonize="combat",
        n_repeats=repeats,
        model_params={name: {"max_epochs": net_epochs} for name in nets},
        random_state=0,
        verbose=1,
    )
    log.info("\n%s", result.summary_table())
    prefix = Path(args.out) / "sex"
    for path in result.save(prefix):
        log.info("wrote %s", path)
    if save_model_comparison_figure(result, prefix.with_suffix(".png")):
        log.info("wrote %s", prefix.with_suffix(".png"))


if __name__ == "__main__":
    main()
