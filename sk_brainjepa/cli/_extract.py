"""``sk-brainjepa extract``: fMRIPrep outputs + atlas -> a folder of ROI series.

It calls :func:`sk_brainjepa.imaging.load_fmriprep` and writes one
``<subject id>.npy`` per run, shape (n_rois, n_timepoints), plus a copy of
``participants.tsv`` when there is one: the folder the other commands read
(``sk-brainjepa pretrain FOLDER``, ``probe --data FOLDER --phenotypes
FOLDER/participants.tsv``). A folder that already holds files is refused
unless ``--overwrite``, which replaces it whole: runs of two cohorts are
never mixed in one folder.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

import numpy as np

from sk_brainjepa._utils._io import atomic_folder
from sk_brainjepa.cli._inputs import CommandError, check_input_file

logger = logging.getLogger("sk_brainjepa.cli")

_CONFOUNDS_HELP = (
    "fMRIPrep denoising strategies of nilearn's load_confounds, comma-separated "
    "(e.g. motion,wm_csf,global_signal,high_pass), or 'none' (default: "
    "motion,wm_csf)."
)


def add_extract_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``extract`` on the ``sk-brainjepa`` subparsers."""
    ext = subparsers.add_parser(
        "extract",
        help="fMRIPrep derivatives + atlas -> folder of per-subject ROI series.",
        description="Mean BOLD signal of each atlas region for every preprocessed "
        "run of an fMRIPrep folder (sub-*/[ses-*/]func/*_desc-preproc_bold.nii.gz), "
        "denoised with its confounds (load_fmriprep in Python; needs nilearn: pip "
        "install 'sk_brainjepa[nifti]'). Writes OUT/<subject id>.npy of shape "
        "(n_rois, n_timepoints) and a copy of participants.tsv when found; the "
        "other commands read that folder. Series are not scaled.",
    )
    ext.add_argument("derivatives", help="The fMRIPrep output folder.")
    ext.add_argument(
        "--atlas",
        required=True,
        help="3-D label image (.nii/.nii.gz) in the runs' space and grid; rows "
        "follow its label values in increasing order.",
    )
    ext.add_argument(
        "--labels",
        help="Table of region names (.tsv/.csv with columns index and name).",
    )
    ext.add_argument("--task", help="Keep runs of this task (e.g. rest).")
    ext.add_argument(
        "--space",
        help="Keep runs in this space (e.g. MNI152NLin2009cAsym); needed when "
        "runs exist in several.",
    )
    ext.add_argument("--session", help="Keep runs of this session.")
    ext.add_argument("--run", help="Keep runs with this run number.")
    ext.add_argument(
        "--confounds", default="motion,wm_csf", type=_confounds, help=_CONFOUNDS_HELP
    )
    ext.add_argument(
        "--target-tr",
        type=_positive_float,
        help="Resample every run to this repetition time in seconds (default: "
        "their shared TR, else the largest).",
    )
    ext.add_argument(
        "--n-timepoints",
        type=int,
        help="Crop (centred) or zero-pad every run to this many frames.",
    )
    ext.add_argument(
        "--out",
        required=True,
        help="Folder to write: new or empty (created); a folder that holds files "
        "is refused unless --overwrite.",
    )
    ext.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace the contents of a non-empty --out: its files are removed once "
        "the new ones are written, never mixed with them.",
    )
    ext.set_defaults(handler=extract)
    return ext


def _confounds(text: str):
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    if not parts:
        raise argparse.ArgumentTypeError(
            "expected strategies such as motion,wm_csf, or 'none'"
        )
    return None if parts == ("none",) else parts


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}")
    return value


def _participants(root: Path) -> Path | None:
    """``participants.tsv`` where load_fmriprep's ``phenotypes="auto"`` looks."""
    candidates = [root / "participants.tsv", root.parent / "participants.tsv"]
    if root.parent.name == "derivatives":
        candidates.append(root.parent.parent / "participants.tsv")
    return next((p for p in candidates if p.is_file()), None)


def _check_out(out: Path, overwrite: bool, inputs: dict) -> Path:
    """``--out``, checked before any work.

    A folder that holds files is refused without ``--overwrite``: the new
    runs would be added to another cohort's, and the commands that read the
    folder would take both. ``inputs`` (what -> path) must not lie inside
    a folder that ``--overwrite`` would replace.
    """
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} is a file; expected a folder.")
    if not out.parent.is_dir():
        raise CommandError(f"output folder {out.parent} does not exist.")
    if not (out.is_dir() and any(out.iterdir())):
        return out
    if not overwrite:
        raise CommandError(
            f"--out {out} is not empty; give a new or empty folder, or --overwrite "
            "to replace its contents (they are removed, not mixed with the new runs)."
        )
    target = out.resolve()
    for what, path in inputs.items():
        if path is not None and target in (
            Path(path).resolve(),
            *Path(path).resolve().parents,
        ):
            raise CommandError(
                f"--out {out} holds the {what} {path}, which --overwrite would "
                "delete; choose another --out."
            )
    return out


def extract(args) -> None:
    """``sk-brainjepa extract``: fMRIPrep outputs -> per-subject ``.npy`` files."""
    try:
        from sk_brainjepa.imaging import load_fmriprep
    except ImportError as exc:  # nilearn / nibabel are an optional extra
        raise CommandError(
            f"extract needs nilearn and nibabel ({exc}); pip install "
            "'sk_brainjepa[nifti]'."
        ) from exc

    root = Path(args.derivatives)
    if not root.is_dir():
        raise CommandError(f"fMRIPrep folder {root} does not exist.")
    atlas = check_input_file(Path(args.atlas), "--atlas")
    labels = None
    if args.labels is not None:
        labels = str(check_input_file(Path(args.labels), "--labels"))
    out = _check_out(
        Path(args.out),
        args.overwrite,
        {"fMRIPrep folder": root, "--atlas": atlas, "--labels": labels},
    )
    try:
        cohort = load_fmriprep(
            root,
            str(atlas),
            labels=labels,
            task=args.task,
            space=args.space,
            run=args.run,
            session=args.session,
            target_tr=args.target_tr,
            n_timepoints=args.n_timepoints,
            confounds_strategy=args.confounds,
            # The table is copied, not joined: a missing row must not stop
            # the extraction (probe says which subjects lack one).
            phenotypes=None,
            verbose=0 if args.quiet else 1,
        )
    except ImportError as exc:
        raise CommandError(
            f"extract needs nilearn and nibabel ({exc}); pip install "
            "'sk_brainjepa[nifti]'."
        ) from exc
    except (FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc

    participants = _participants(root)

    def write(folder: Path) -> None:
        for subject, x in zip(cohort.subject_ids, cohort.X, strict=True):
            np.save(folder / f"{subject}.npy", np.asarray(x, dtype=np.float32))
        if participants is not None:
            shutil.copyfile(participants, folder / "participants.tsv")

    atomic_folder(out, write)
    first = np.shape(cohort.X[0])
    logger.info(
        "wrote %d files to %s (%d ROIs x %d frames%s)",
        len(cohort.subject_ids),
        out,
        first[0],
        first[1],
        "" if isinstance(cohort.X, np.ndarray) else ", lengths vary",
    )
    if participants is not None:
        logger.info("copied %s", participants)
