"""From fMRIPrep outputs to a linear-probe table: atlas time series, per-subject
scaling, a tiny Brain-JEPA pretrained on the CPU, and a phenotype probed.

Run from the repository root (needs nilearn: pip install -e ".[nifti]"):

    python examples/from_fmriprep.py            # synthetic derivatives, seconds
    python examples/from_fmriprep.py --quick    # fewer subjects, 1 epoch
    python examples/from_fmriprep.py --derivatives /data/bids/derivatives/fmriprep \\
        --atlas atlas.nii.gz --labels atlas.tsv --task rest --column age

Without --derivatives a tiny synthetic fMRIPrep folder is written to a temporary
folder; its phenotypes are random, so the probe should score at chance.
"""

import argparse
import logging
import tempfile
import time

import pandas as pd

from sk_brainjepa import BrainJEPAPretrainer, linear_probe
from sk_brainjepa.imaging import load_fmriprep, make_fmriprep_derivatives
from sk_brainjepa.preprocessing import SubjectRobustScaler

log = logging.getLogger("from_fmriprep")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--derivatives", help="fMRIPrep folder (default: synthetic)")
    parser.add_argument("--atlas", help="label image in the runs' space")
    parser.add_argument("--labels", help="region names: .tsv with index, name")
    parser.add_argument("--task", help="keep runs of this task, e.g. rest")
    parser.add_argument("--space", help="keep runs in this space")
    parser.add_argument("--column", default="sex", help="phenotype to probe")
    parser.add_argument("--n-subjects", type=int, help="synthetic: default 40")
    parser.add_argument("--epochs", type=int, help="default 3 (--quick: 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    if (args.derivatives is None) != (args.atlas is None):
        parser.error("--derivatives and --atlas go together")
    preset = (
        {"n_subjects": 20, "epochs": 1}
        if args.quick
        else {"n_subjects": 40, "epochs": 3}
    )
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    with tempfile.TemporaryDirectory() as tmp:
        # 1. Data: your fMRIPrep folder, or a synthetic one (5 regions, 64 frames
        #    at TR 2 s, 6 x 6 x 6 voxels, participants.tsv with age and sex).
        derivatives, atlas, labels = args.derivatives, args.atlas, args.labels
        if derivatives is None:
            paths = make_fmriprep_derivatives(
                tmp,
                n_subjects=args.n_subjects,
                n_labels=5,
                n_timepoints=64,
                confound_strength=0.5,
                random_state=args.seed,
            )
            derivatives, atlas, labels = paths["root"], paths["atlas"], paths["labels"]

        # 2. Extraction: mean signal of each region, motion and WM/CSF
        #    regressed out, all runs at one TR; rows follow the atlas values.
        tic = time.perf_counter()
        X, subject_ids, phenotypes = load_fmriprep(
            derivatives,
            atlas,
            labels=labels,
            task=args.task,
            space=args.space,
            confounds_strategy=("motion", "wm_csf"),
            verbose=1,
        )
        log.info(
            "extracted: %d runs, first %s (%.1f s)",
            len(subject_ids),
            X[0].shape,
            time.perf_counter() - tic,
        )
        if phenotypes is None or args.column not in phenotypes:
            raise SystemExit(f"no phenotype column {args.column!r} to probe")

    # 3. Robust scaling of each ROI by each subject's own median and IQR.
    X = SubjectRobustScaler().fit_transform(X)

    # 4. A tiny Brain-JEPA (sin-cos ROI positions: no gradients needed here).
    n_timepoints = min(x.shape[-1] for x in X) // 16 * 16
    pretrainer = BrainJEPAPretrainer(
        model="tiny",
        window_length=n_timepoints,
        max_epochs=args.epochs,
        batch_size=8,
        random_state=args.seed,
    ).fit(X)
    log.info("epoch   loss")
    for record in pretrainer.history_:
        log.info("%5d   %.4f", record["epoch"], record["loss"])

    # 5. Linear probe: 5 repeats of a 6/2/2 split, scores on the test part.
    #    Rows are runs; a participant with several sessions or runs
    #    (sub-01_ses-1, sub-01_ses-2) stays on one side of every split. With
    #    one run each, no groups: the splits can then be stratified by class.
    participants = phenotypes["participant_id"]
    groups = participants if participants.duplicated().any() else None
    table = linear_probe(
        pretrainer,
        X,
        phenotypes[args.column],
        readout="connectivity",
        groups=groups,
        n_repeats=5,
        random_state=args.seed,
    )
    # Rows per repeat (sizes, the C chosen on validation, test scores), then
    # the mean and std of the scores; a summary row has no size or C (<NA>).
    log.info(
        "linear probe of %s (%s):\n%s",
        args.column,
        table.attrs["task"],
        pd.DataFrame(table).to_string(
            float_format="{:.3f}".format, formatters={"regularization": "{:g}".format}
        ),
    )


if __name__ == "__main__":
    main()
