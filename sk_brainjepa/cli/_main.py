"""``sk-brainjepa``: gradients, pretraining, embedding and probing from the shell.

Each subcommand reads files, calls the Python API and writes one file; what it
does is what the corresponding estimator does, with the same parameters.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sk_brainjepa.cli._options import add_estimator_options, collect

logger = logging.getLogger("sk_brainjepa.cli")

_DATA_HELP = (
    "Time series: a folder of per-subject files (.npy/.npz/.csv/.tsv, one "
    "(n_rois, n_timepoints) array each), a list of such files, or one 3-D .npy file "
    "(n_subjects, n_rois, n_timepoints), which is memory-mapped, not loaded."
)


class CommandError(Exception):
    """A user error: printed as one line, exit status 2, no traceback."""


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


def _source(paths, args):
    from sk_brainjepa.datasets import ScaledSource, SubjectRobustScaling, as_source

    data = paths[0] if len(paths) == 1 else list(paths)
    for path in paths:
        if not Path(path).exists():
            raise CommandError(f"data path {path} does not exist.")
    try:
        source = as_source(data, layout=args.layout, pattern=args.pattern)
    except (FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    if args.scaling == "subject":
        source = ScaledSource(source, SubjectRobustScaling())
    return source


def _subject_ids(source) -> list[str]:
    ids = getattr(source, "subject_ids", None)
    return list(ids) if ids is not None else [str(i) for i in range(len(source))]


def _check_output(path: Path) -> Path:
    if not path.parent.exists():
        raise CommandError(f"output folder {path.parent} does not exist.")
    return path


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"


# ---------------------------------------------------------------- commands
def _gradients(args) -> None:
    from sk_brainjepa.datasets import group_fc
    from sk_brainjepa.gradients import GradientPositioner, write_gradient_csv

    out = _check_output(Path(args.out))
    positioner = GradientPositioner(**collect(args, args.estimator_params))
    if args.timeseries:
        fc = group_fc(_source(args.inputs, args))
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
    if not path.is_file():
        raise CommandError(f"FC file {path} does not exist.")
    if path.suffix.lower() == ".npy":
        fc = np.load(path, allow_pickle=False)
    elif path.suffix.lower() in (".csv", ".tsv"):
        fc = pd.read_csv(
            path, header=None, sep="\t" if path.suffix.lower() == ".tsv" else ","
        ).to_numpy(dtype=float)
    else:
        raise CommandError(f"FC file {path}: expected .npy, .csv or .tsv.")
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

    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_file():
        raise CommandError(f"checkpoint {checkpoint} does not exist.")
    return BrainJEPAEmbedder(
        checkpoint,
        gradients=args.gradients,
        readout=args.readout,
        encoder=args.encoder,
        window=args.window,
        batch_size=args.batch_size,
        device=args.device,
    )


def _embed_source(args, source) -> pd.DataFrame:
    embedder = _embedder(args)
    try:
        features = embedder.fit(source).transform(source)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return pd.DataFrame(
        features,
        index=pd.Index(_subject_ids(source), name="subject_id"),
        columns=embedder.get_feature_names_out(),
    )


def _embed(args) -> None:
    out = _check_output(Path(args.out))
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
    if not path.is_file():
        raise CommandError(f"features file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        table = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", index_col=0)
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
    table.index = table.index.astype(str)
    return table


def _read_phenotypes(path: Path, id_column: str | None) -> pd.DataFrame:
    if not path.is_file():
        raise CommandError(f"phenotype table {path} does not exist.")
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    table = pd.read_csv(path, sep=sep)
    if id_column is not None:
        if id_column not in table.columns:
            raise CommandError(
                f"--id-column {id_column!r} is not a column of {path}; columns: "
                f"{list(table.columns)}."
            )
        table = table.set_index(id_column)
    else:
        table = table.set_index(table.columns[0])
    table.index = table.index.astype(str)
    return table


def _probe(args) -> None:
    from sk_brainjepa.model_selection import probe_features

    out = _check_output(Path(args.out))
    if (args.features is None) == (args.checkpoint is None):
        raise CommandError("give either a features file or --checkpoint with --data.")
    if args.features is not None:
        features = _read_features(Path(args.features))
    else:
        if not args.data:
            raise CommandError("--checkpoint needs --data (the time series to embed).")
        features = _embed_source(args, _source(args.data, args))
    phenotypes = _read_phenotypes(Path(args.phenotypes), args.id_column)
    if args.column not in phenotypes.columns:
        raise CommandError(
            f"--column {args.column!r} is not in {args.phenotypes}; columns: "
            f"{list(phenotypes.columns)}."
        )
    missing = features.index.difference(phenotypes.index)
    if len(missing):
        raise CommandError(
            f"{len(missing)} subject(s) have features but no row in "
            f"{args.phenotypes}, e.g. {list(missing[:3])}."
        )
    y = phenotypes.loc[features.index, args.column]
    keep = y.notna().to_numpy()
    if not keep.all():
        logger.info("skipping %d subject(s) without %s", (~keep).sum(), args.column)
    try:
        table = probe_features(
            features.to_numpy()[keep],
            y.to_numpy()[keep],
            task=args.task,
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
    from sk_brainjepa.nn import FEATURE_READOUTS

    parser = argparse.ArgumentParser(
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
            skip=("monitor", "monitor_every", "monitor_readout"),
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
        help="CSV/TSV with one row per subject; ids in the first column or "
        "--id-column.",
    )
    probe.add_argument("--column", required=True, help="Phenotype to predict.")
    probe.add_argument("--id-column", help="Column of subject ids.")
    probe.add_argument(
        "--task", choices=("auto", "classification", "regression"), default="auto"
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
    try:
        args.handler(args)
    except CommandError as exc:
        print(f"sk-brainjepa {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0
