"""``sk-brainjepa``: gradients, pretraining, embedding and probing from the shell.

Each subcommand reads files, calls the Python API and writes one file; what it
does is what the corresponding estimator does, with the same parameters.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from sk_brainjepa.cli._options import add_estimator_options, collect

logger = logging.getLogger("sk_brainjepa.cli")

_DATA_HELP = (
    "Time series: a folder of per-subject files (.npy/.npz/.csv/.tsv, one "
    "(n_rois, n_timepoints) array each; a BIDS folder is searched in its sub-* "
    "folders), a list of such files, or one 3-D .npy file "
    "(n_subjects, n_rois, n_timepoints), which is memory-mapped, not loaded. "
    "Subject ids are the BIDS sub- (and ses-) labels of the paths, else the file "
    "names without extension."
)

# What a user's files and paths raise when they are missing, folders, not
# readable or not text: reported as one line. Anything else is a bug and keeps
# its traceback.
_USER_OS_ERRORS = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    UnicodeDecodeError,
)


class CommandError(Exception):
    """A user error: printed as one line, exit status 2, no traceback."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like the commands' errors."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help').\n")


def _user_error_message(exc: BaseException) -> str:
    """One line for an error about a user's file."""
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"a file is not text in a known encoding ({exc.reason} at byte "
            f"{exc.start}); check that each option names the right file."
        )
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


# ------------------------------------------------------------------ helpers
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


def _source(paths, args):
    """The time series named on the command line, read with the data options."""
    from sk_brainjepa.datasets import ScaledSource, SubjectRobustScaling, as_source

    data = paths[0] if len(paths) == 1 else list(paths)
    for path in paths:
        if not Path(path).exists():
            raise CommandError(f"data path {path} does not exist.")
    header = {"infer": "infer", "yes": True, "no": False}[args.header]
    try:
        source = as_source(
            data,
            layout=args.layout,
            pattern=args.pattern,
            npz_key=args.npz_key,
            delimiter=args.delimiter,
            header=header,
            index_col=args.index_col,
        )
    except (FileNotFoundError, IsADirectoryError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    if args.scaling == "subject":
        source = ScaledSource(source, SubjectRobustScaling())
    return source


def _subject_ids(source) -> list[str]:
    try:
        ids = getattr(source, "subject_ids", None)
    except ValueError as exc:  # two files with the same id
        raise CommandError(str(exc)) from exc
    return list(ids) if ids is not None else [str(i) for i in range(len(source))]


def _check_output(path: Path, suffixes=None) -> Path:
    """``--out``, checked before any work: a file name in a writable folder."""
    folder = path.parent
    if path.is_dir():
        raise CommandError(f"--out {path} is a folder; expected a file name.")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise CommandError(
            f"--out {path}: expected a {', '.join(suffixes)} file; got suffix "
            f"{path.suffix!r}."
        )
    if not folder.is_dir():
        raise CommandError(f"output folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"output folder {folder} is not writable.")
    return path


def _check_input_file(path: Path, what: str) -> Path:
    """A file the command reads: present, a file and not a folder."""
    if path.is_dir():
        raise CommandError(f"{what} {path} is a folder; expected a file.")
    if not path.is_file():
        raise CommandError(f"{what} {path} does not exist.")
    return path


def _check_gradient_file(path) -> None:
    """Read a gradient CSV up front, so a bad one fails before any work."""
    from sk_brainjepa.gradients import read_gradient_csv

    _check_input_file(Path(path), "gradient file")
    try:
        read_gradient_csv(path)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"


# ---------------------------------------------------------------- commands
def _gradients(args) -> None:
    from sk_brainjepa.datasets import group_fc
    from sk_brainjepa.gradients import GradientPositioner, write_gradient_csv

    out = _check_output(Path(args.out))
    try:
        positioner = GradientPositioner(**collect(args, args.estimator_params))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if args.timeseries:
        source = _source(args.inputs, args)
        try:
            fc = group_fc(source)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    else:
        fc = np.concatenate([_read_fc(Path(p)) for p in args.inputs])
    logger.info("fitting gradients on %s", fc.shape)
    try:
        gradients = positioner.fit(fc).gradients_
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    write_gradient_csv(gradients, out)
    logger.info("wrote %s (%d ROIs x %d gradients)", out, *gradients.shape)


def _read_fc(path: Path) -> np.ndarray:
    """One (R, R) matrix or a (S, R, R) stack from .npy or .csv, as (S, R, R)."""
    from sk_brainjepa.datasets._folder import read_csv_table

    if path.is_dir():
        raise CommandError(
            f"FC file {path} is a folder; expected .npy/.csv files. For a folder "
            "of time series, add --timeseries."
        )
    _check_input_file(path, "FC file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            fc = np.load(path, allow_pickle=False)
        elif suffix in (".csv", ".tsv"):
            fc = read_csv_table(
                path, header=None, sep="\t" if suffix == ".tsv" else ","
            ).to_numpy(dtype=float)
        else:
            raise CommandError(f"FC file {path}: expected .npy, .csv or .tsv.")
    except ValueError as exc:
        raise CommandError(f"FC file {path} could not be read: {exc}") from exc
    if fc.ndim == 2:
        fc = fc[np.newaxis]
    if fc.ndim != 3 or fc.shape[1] != fc.shape[2]:
        raise CommandError(
            f"FC file {path} holds shape {fc.shape}; expected (n_rois, n_rois) or "
            "(n_subjects, n_rois, n_rois). For time series, add --timeseries."
        )
    return fc


def _pretrain(args) -> None:
    from sk_brainjepa.estimators import BrainJEPAPretrainer

    out = _check_output(Path(args.out))
    params = collect(args, args.estimator_params)
    params.setdefault("verbose", 1)
    if isinstance(params.get("gradients"), str):
        _check_gradient_file(params["gradients"])
    source = _source(args.data, args)
    logger.info(
        "pretraining on %d subjects x %d ROIs (%s)",
        len(source),
        source.n_rois,
        "in memory" if source.in_memory else "streamed from disk",
    )
    try:
        model = BrainJEPAPretrainer(**params).fit(source)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if _is_main_rank():
        model.save(out)
        last = model.history_[-1] if model.history_ else {}
        logger.info("wrote %s (last epoch loss %s)", out, last.get("loss"))


def _embedder(args):
    from sk_brainjepa.estimators import BrainJEPAEmbedder

    checkpoint = _check_input_file(Path(args.checkpoint), "checkpoint")
    if args.gradients is not None:
        _check_gradient_file(args.gradients)
    try:
        return BrainJEPAEmbedder(
            checkpoint,
            gradients=args.gradients,
            readout=args.readout,
            encoder=args.encoder,
            window=args.window,
            batch_size=args.batch_size,
            device=args.device,
            verbose=0 if args.quiet else 1,  # a progress bar while embedding
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _embed_source(args, source) -> pd.DataFrame:
    # Ids first: two files with the same id fail before any embedding.
    ids = _subject_ids(source)
    embedder = _embedder(args)
    try:
        features = embedder.fit(source).transform(source)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return pd.DataFrame(
        features,
        index=pd.Index(ids, name="subject_id"),
        columns=embedder.get_feature_names_out(),
    )


_FEATURE_SUFFIXES = (".csv", ".tsv", ".npz")
_SCORE_SUFFIXES = (".csv", ".tsv")


def _embed(args) -> None:
    out = _check_output(Path(args.out), _FEATURE_SUFFIXES)
    table = _embed_source(args, _source(args.data, args))
    _write_table(table, out)
    logger.info("wrote %s (%d subjects x %d features)", out, *table.shape)


def _write_table(table: pd.DataFrame, out: Path) -> None:
    from sk_brainjepa._utils._io import atomic_write

    suffix = out.suffix.lower()
    if suffix in (".csv", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        atomic_write(out, lambda fh: table.to_csv(fh, sep=sep), binary=False)
    elif suffix == ".npz":
        atomic_write(
            out,
            lambda fh: np.savez(
                fh,
                features=table.to_numpy(),
                subject_ids=np.asarray(table.index, dtype=str),
            ),
            binary=True,
        )
    else:
        raise CommandError(f"--out {out}: expected a .csv, .tsv or .npz file.")


def _read_features(path: Path) -> pd.DataFrame:
    from sk_brainjepa.datasets._folder import read_csv_table

    _check_input_file(path, "features file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            head = read_csv_table(path, sep=sep, nrows=0)
            # Ids as text, so that "001" stays "001" rather than becoming 1.
            table = read_csv_table(
                path,
                head.attrs["encoding"],
                sep=sep,
                index_col=0,
                dtype={head.columns[0]: str} if len(head.columns) else None,
            )
            text = [c for c in table.columns if not is_numeric_dtype(table[c])]
            if text:
                raise ValueError(
                    f"column {text[0]!r} holds text, not numbers (e.g. "
                    f"{table[text[0]].dropna().iloc[0]!r})"
                )
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                if "features" not in data or "subject_ids" not in data:
                    raise CommandError(
                        f"{path} lacks the arrays 'features' and 'subject_ids' that "
                        "sk-brainjepa embed writes."
                    )
                table = pd.DataFrame(data["features"], index=data["subject_ids"])
        else:
            raise CommandError(f"features file {path}: expected .csv, .tsv or .npz.")
    except (ValueError, zipfile.BadZipFile) as exc:
        raise CommandError(
            f"features file {path} could not be read as the table 'sk-brainjepa "
            f"embed' writes (subject ids, then one column per feature): {exc}"
        ) from exc
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise CommandError(
            f"features file {path} holds no features (shape {table.shape})."
        )
    table.index = table.index.astype(str)
    return table


def _read_phenotypes(path: Path, id_column: str | None) -> pd.DataFrame:
    from sk_brainjepa.datasets._folder import read_phenotype_table as read

    _check_input_file(path, "phenotype table")
    try:
        return read(path, id_column)
    except ValueError as exc:
        message = str(exc)
        if id_column is not None and "subject_id_column" in message:
            message = message.replace("subject_id_column=", "--id-column ", 1)
        raise CommandError(message) from exc


def _probe(args) -> None:
    from sk_brainjepa.datasets._folder import match_subject_ids
    from sk_brainjepa.model_selection import probe_features

    out = _check_output(Path(args.out), _SCORE_SUFFIXES)
    if (args.features is None) == (args.checkpoint is None):
        raise CommandError("give either a features file or --checkpoint with --data.")
    phenotypes = _read_phenotypes(Path(args.phenotypes), args.id_column)
    if args.column not in phenotypes.columns:
        raise CommandError(
            f"--column {args.column!r} is not in {args.phenotypes}; columns: "
            f"{list(phenotypes.columns)}."
        )
    if args.features is not None:
        if args.data:
            raise CommandError(
                "--data is embedded with --checkpoint; with a features file, "
                "leave --data out."
            )
        features = _read_features(Path(args.features))
    else:
        if not args.data:
            raise CommandError("--checkpoint needs --data (the time series to embed).")
        features = _embed_source(args, _source(args.data, args))
    rows = match_subject_ids(features.index, phenotypes.index)
    missing = [s for s, row in zip(features.index, rows, strict=True) if row is None]
    if missing:
        raise CommandError(
            f"{len(missing)} subject(s) have features but no row in "
            f"{args.phenotypes}, e.g. {missing[:3]}; its ids start with "
            f"{list(phenotypes.index[:3])}."
        )
    y = phenotypes.loc[rows, args.column]
    keep = y.notna().to_numpy()
    if not keep.any():
        raise CommandError(
            f"--column {args.column!r} of {args.phenotypes} is empty for every "
            "subject with features."
        )
    if not keep.all():
        logger.info("skipping %d subject(s) without %s", (~keep).sum(), args.column)
    # Several sessions of one participant share its phenotype row: keep them in
    # the same split, or the test part would hold sessions of training subjects.
    groups = None
    if len(set(rows)) < len(rows):
        groups = np.asarray(rows)[keep]
        logger.info(
            "%d rows of features for %d participants: split by participant",
            keep.sum(),
            len(set(groups)),
        )
    try:
        table = probe_features(
            features.to_numpy()[keep],
            y.to_numpy()[keep],
            task=args.task,
            groups=groups,
            n_repeats=args.n_repeats,
            n_jobs=args.n_jobs,
            random_state=args.random_state,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    _write_table(table, out)
    logger.info("%s (%s):\n%s", args.column, table.attrs["task"], table.tail(2))
    logger.info("wrote %s", out)


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The ``sk-brainjepa`` argument parser with its four subcommands."""
    from sk_brainjepa.estimators import BrainJEPAPretrainer
    from sk_brainjepa.estimators._loading import ENCODERS
    from sk_brainjepa.gradients import GradientPositioner
    from sk_brainjepa.model_selection._probe import TASKS
    from sk_brainjepa.nn import FEATURE_READOUTS

    parser = _Parser(
        prog="sk-brainjepa",
        description="Brain-JEPA from the command line: gradients, pretrain, embed, "
        "probe. Run 'sk-brainjepa COMMAND --help' for each.",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="Log warnings and errors only."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    grad = commands.add_parser(
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
        handler=_gradients,
        estimator_params=add_estimator_options(grad, GradientPositioner),
    )

    pre = commands.add_parser(
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
        handler=_pretrain,
        # monitor holds arrays (X_val, y_val): a Python-API option only, with
        # the two parameters that tune it.
        estimator_params=add_estimator_options(
            pre,
            BrainJEPAPretrainer,
            # layout is the data option --layout above: the command applies it
            # when it opens the files, so the estimator gets subjects as
            # (n_rois, n_timepoints) already.
            skip=("monitor", "monitor_every", "monitor_readout", "layout"),
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
        sub.add_argument(
            "--encoder",
            choices=ENCODERS,
            default="target",
            help="Features of the pretrained model's EMA target encoder (paper) "
            "or of its online context encoder (default: target).",
        )
        sub.add_argument(
            "--window",
            choices=("center", "start", "average"),
            default="center",
            help="Window of runs longer than the model's (default: center).",
        )
        sub.add_argument("--batch-size", type=int, default=32)
        sub.add_argument("--device", default="auto")
        _add_data_options(sub)

    emb = commands.add_parser(
        "embed",
        help="Checkpoint + time series -> features table with subject ids.",
        description="Frozen Brain-JEPA features (BrainJEPAEmbedder) of each subject, "
        "written with the subject ids (file names) as the first column.",
    )
    emb.add_argument("checkpoint", help="Our model file or the official checkpoint.")
    emb.add_argument("data", nargs="+", help=_DATA_HELP)
    emb.add_argument("--out", required=True, help="Features file: .csv, .tsv or .npz.")
    add_embedding_options(emb, required=True)
    emb.set_defaults(handler=_embed)

    probe = commands.add_parser(
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
    probe.set_defaults(handler=_probe)
    return parser


def main(argv=None) -> int:
    """Run ``sk-brainjepa``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet or not _is_main_rank() else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    # Warnings (e.g. an ambiguous probe task) as log lines, not source lines;
    # restored after, for callers that run main() in their own process.
    logging.captureWarnings(True)
    try:
        args.handler(args)
    except CommandError as exc:
        message = str(exc)
    except _USER_OS_ERRORS as exc:
        message = _user_error_message(exc)
    else:
        return 0
    finally:
        logging.captureWarnings(False)
    # One line: a message spread over lines would read as several errors.
    message = " ".join(message.split())
    print(f"sk-brainjepa {args.command}: error: {message}", file=sys.stderr)
    return 2
