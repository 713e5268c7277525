"""The ``sk-brainjepa`` argument parser: its subcommands and their options.

Estimator parameters become options through :mod:`sk_brainjepa.cli._options`;
the data options below say how the time series files are read.
"""

from __future__ import annotations

import argparse

from sk_brainjepa.cli import _commands as commands
from sk_brainjepa.cli._compare import add_compare_parser
from sk_brainjepa.cli._convert import add_convert_parser
from sk_brainjepa.cli._extract import add_extract_parser
from sk_brainjepa.cli._options import (
    StoreGiven,
    add_deprecated_alias,
    add_estimator_options,
)
from sk_brainjepa.cli._wording import option_names

_DATA_HELP = (
    "Time series: a folder of per-subject files (.npy/.npz/.csv/.tsv, one "
    "(n_rois, n_timepoints) array each; a BIDS folder is searched in its sub-* "
    "folders), a list of such files, or one 3-D .npy file "
    "(n_subjects, n_rois, n_timepoints), which is memory-mapped, not loaded. "
    "Subject ids are the BIDS sub- (and ses-) labels of the paths, else the file "
    "names without extension."
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like the commands' errors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Subparsers are made with this class too, so every command records.
        self.register("action", None, StoreGiven)
        self.register("action", "store", StoreGiven)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help').\n")


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data files")
    group.add_argument(
        "--layout",
        choices=("rois_x_time", "time_x_rois"),
        default="rois_x_time",
        help="How each file stores a subject (default: rois_x_time).",
    )
    group.add_argument(
        "--pattern", help="Glob of the files to read in a folder, e.g. 'sub-*.npy'."
    )
    group.add_argument(
        "--scaling",
        choices=("none", "subject"),
        default="none",
        help="'subject' scales each ROI of each subject by its own median and IQR "
        "as windows are read (nothing is written back); 'none' expects data that "
        "is already robust-scaled (default: none).",
    )
    group.add_argument(
        "--header",
        choices=("infer", "yes", "no"),
        default="infer",
        help="Whether .csv/.tsv files start with a row of names; 'infer' decides "
        "from the first row (default: infer).",
    )
    group.add_argument(
        "--index-col",
        type=_index_col,
        default="infer",
        metavar="{infer,none,N[,N...]}",
        help="Columns of .csv/.tsv files that hold row labels (frame numbers, "
        "times, ROI names), by position from 0; 'infer' drops leading columns "
        "that are text, unnamed (a pandas index), count the rows 0, 1, 2, ..., or "
        "hold evenly rising times under a name, and logs it; 'none' keeps every "
        "column (default: infer).",
    )
    group.add_argument(
        "--delimiter",
        help="Field separator of .csv/.tsv files (default: ',' for .csv, a tab "
        "for .tsv).",
    )
    group.add_argument(
        "--npz-key",
        help="Name of the array to read in .npz files (needed when they hold several).",
    )


def _index_col(text: str):
    """``--index-col``: 'infer', 'none' or column positions such as 0 or 0,1."""
    if text.strip().lower() in ("infer", "none"):
        return None if text.strip().lower() == "none" else "infer"
    try:
        columns = [int(part) for part in text.split(",")]
    except ValueError:
        columns = []
    if not columns or min(columns) < 0:
        raise argparse.ArgumentTypeError(
            "expected 'infer', 'none' or column positions from 0 such as 0 or 0,1; "
            f"got {text!r}"
        )
    return columns[0] if len(columns) == 1 else columns


def build_parser() -> argparse.ArgumentParser:
    """The ``sk-brainjepa`` argument parser and its subcommands."""
    from sk_brainjepa._utils._targets import TASKS
    from sk_brainjepa.estimators import ENCODERS, BrainJEPAPretrainer
    from sk_brainjepa.gradients import GradientPositioner
    from sk_brainjepa.nn import FEATURE_READOUTS

    parser = _Parser(
        prog="sk-brainjepa",
        description="Brain-JEPA from the command line: extract, gradients, "
        "pretrain, embed, probe, compare, convert-official. Run 'sk-brainjepa "
        "COMMAND --help' for each.",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="Log warnings and errors only."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_extract_parser(subparsers)
    add_convert_parser(subparsers)

    grad = subparsers.add_parser(
        "gradients",
        help="FC matrices or time series -> gradient CSV (official layout).",
        description="Fit diffusion-map gradients on the group FC of the inputs and "
        "write them as a header-less CSV (one row per ROI), the layout "
        "BrainJEPAPretrainer(gradients=...) and the official code read.",
    )
    grad.add_argument(
        "inputs",
        nargs="+",
        help="FC files (.npy or .csv holding (R, R) or (S, R, R)); with "
        "--timeseries: " + _DATA_HELP,
    )
    grad.add_argument("--out", required=True, help="Gradient CSV to write.")
    grad.add_argument(
        "--timeseries",
        action="store_true",
        help="Inputs are time series; their group FC (Fisher z mean) is computed "
        "one subject at a time.",
    )
    _add_data_options(grad)
    grad.set_defaults(
        handler=commands.gradients,
        estimator_params=add_estimator_options(grad, GradientPositioner),
    )

    pre = subparsers.add_parser(
        "pretrain",
        help="Time series -> pretrained model checkpoint.",
        description="Pretrain Brain-JEPA (BrainJEPAPretrainer.fit) and save the "
        "model. Every parameter of BrainJEPAPretrainer is an option below; values "
        "are JSON where they are not plain words (--ema '[0.99, 1.0]'). Works "
        "under torchrun (only rank 0 writes). The input must be robust-scaled "
        "(ROIRobustScaler).",
    )
    pre.add_argument("data", nargs="+", help=_DATA_HELP)
    pre.add_argument("--out", required=True, help="Model file to write (.pt).")
    _add_data_options(pre)
    pre.set_defaults(
        handler=commands.pretrain,
        # monitor holds arrays (X_val, y_val): a Python-API option only, with
        # the two parameters that tune it.
        estimator_params=add_estimator_options(
            pre,
            BrainJEPAPretrainer,
            # layout is the data option --layout above: the command applies it
            # when it opens the files, so the estimator gets subjects as
            # (n_rois, n_timepoints) already.
            skip=(
                "monitor",
                "monitor_every",
                "monitor_readout",
                "monitor_task",
                "layout",
            ),
        ),
    )

    def add_embedding_options(sub, *, required: bool):
        sub.add_argument(
            "--gradients",
            help="Gradient CSV, needed for the official checkpoint "
            "(gradient_mapping_450.csv).",
        )
        # The Python API's tuples, so the choices cannot fall behind it.
        sub.add_argument(
            "--readout",
            choices=FEATURE_READOUTS,
            default="mean",
            help="Mean over tokens (paper), per-ROI means, the correlation "
            "between ROIs of their token trajectories, or that correlation at a "
            "lag of one time patch for every ordered ROI pair (default: mean).",
        )
        source_encoder = sub.add_argument(
            "--source-encoder",
            choices=ENCODERS,
            default="target",
            help="Features of the pretrained model's EMA target encoder (paper) "
            "or of its online context encoder (default: target).",
        )
        window_position = sub.add_argument(
            "--window-position",
            choices=("center", "start", "average"),
            default="center",
            help="Window of runs longer than the model's (default: center).",
        )
        # The names before 0.2, kept for one release (hidden from --help).
        add_deprecated_alias(sub, "--encoder", source_encoder)
        add_deprecated_alias(sub, "--window", window_position)
        sub.add_argument("--batch-size", type=int, default=32)
        sub.add_argument("--device", default="auto")
        _add_data_options(sub)

    emb = subparsers.add_parser(
        "embed",
        help="Checkpoint + time series -> features table with subject ids.",
        description="Frozen Brain-JEPA features (BrainJEPAEmbedder) of each subject, "
        "written with the subject ids (file names) as the first column.",
    )
    emb.add_argument(
        "checkpoint",
        help="A pretrained folder (save_pretrained, convert-official; its recorded "
        "scaling is applied unless --scaling subject), a Hub repo id 'org/name' of "
        "one, our model file, or the official checkpoint.",
    )
    emb.add_argument("data", nargs="+", help=_DATA_HELP)
    emb.add_argument("--out", required=True, help="Features file: .csv, .tsv or .npz.")
    add_embedding_options(emb, required=True)
    emb.set_defaults(handler=commands.embed)

    probe = subparsers.add_parser(
        "probe",
        help="Features (or checkpoint + data) + phenotype column -> scores table.",
        description="Linear probing as the paper evaluates: repeated 6/2/2 splits, "
        "regularisation chosen on each validation part, scores on the test part.",
    )
    probe.add_argument(
        "features", nargs="?", help="Features file written by 'sk-brainjepa embed'."
    )
    probe.add_argument("--checkpoint", help="Embed --data with this model instead.")
    probe.add_argument("--data", nargs="+", help=_DATA_HELP)
    probe.add_argument(
        "--phenotypes",
        required=True,
        help="CSV/TSV with one row per subject (latin-1 files are read too, with "
        "a warning). Ids in --id-column, else in a participant_id column (BIDS "
        "participants.tsv), else in the first column; sub-01 and 01 match each "
        "other, and a session's features (sub-01_ses-1) take its participant's "
        "row, with the sessions of a participant kept in the same split.",
    )
    probe.add_argument("--column", required=True, help="Phenotype to predict.")
    probe.add_argument(
        "--id-column", help="Column of subject ids in --phenotypes (read as text)."
    )
    probe.add_argument(
        "--task",
        choices=TASKS,
        default="auto",
        help="Classification or regression of --column. 'auto' takes text and "
        "two-valued columns as classes and numbers with many values as a "
        "continuous target, and warns when it has to guess (default: auto).",
    )
    probe.add_argument("--n-repeats", type=int, default=5)
    probe.add_argument("--n-jobs", type=int, default=None)
    probe.add_argument("--random-state", type=int, default=0)
    probe.add_argument("--out", required=True, help="Scores table: .csv or .tsv.")
    add_embedding_options(probe, required=False)
    probe.set_defaults(handler=commands.probe)
    add_compare_parser(subparsers, _add_data_options, _DATA_HELP)
    # Errors are reworded with the options of the command that failed.
    for sub in subparsers.choices.values():
        sub.set_defaults(option_names=option_names(sub))
    return parser
