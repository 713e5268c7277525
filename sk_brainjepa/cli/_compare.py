"""``sk-brainjepa compare``: is Brain-JEPA worth it on my data, in one command.

Reads the time series and a phenotype table, runs
:func:`~sk_brainjepa.model_selection.compare_models` and writes its tables,
report and figure; the summary is printed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from sk_brainjepa._utils._targets import TASKS
from sk_brainjepa.cli._inputs import (
    CommandError,
    check_gradient_file,
    open_source,
    read_phenotypes,
    subject_ids,
)

logger = logging.getLogger("sk_brainjepa.cli")

_NETS = ("brainnetcnn", "bnt", "finetune", "finetune-untrained")
_DEFAULT_MODELS = ("fc", "tangent", "lag", "brainnetcnn", "bnt")


def add_compare_parser(
    subparsers, add_data_options, data_help
) -> argparse.ArgumentParser:
    """Register ``compare`` on the ``sk-brainjepa`` subparsers."""
    from sk_brainjepa.model_selection import MODEL_NAMES

    cmp = subparsers.add_parser(
        "compare",
        help="Time series + phenotype column -> every model on the same splits.",
        description="Compare Brain-JEPA (probe, fine-tuning) with FC, tangent FC, "
        "lag features, BrainNetCNN and BNT on the same repeated 6/2/2 splits: "
        "hyperparameters and stopping epochs chosen on validation only, paired "
        "differences against a reference with the Nadeau-Bengio corrected t-test. "
        "Writes OUT_scores.csv, OUT_summary.csv, OUT.json, OUT.md and OUT.png. "
        "Named models: "
        + "; ".join(f"{name}: {text}" for name, text in MODEL_NAMES.items())
        + ".",
    )
    cmp.add_argument("data", nargs="+", help=data_help)
    cmp.add_argument(
        "--phenotypes",
        required=True,
        help="CSV/TSV with the target, one row per subject or per run (ids in "
        "--id-column, else participant_id, else the first column).",
    )
    cmp.add_argument("--target", required=True, help="Phenotype column to predict.")
    cmp.add_argument("--id-column", help="Column of ids in --phenotypes.")
    cmp.add_argument(
        "--groups",
        help="Column naming each row's participant: its runs stay on one side of "
        "every split. Without it, runs that share a phenotype row are grouped.",
    )
    cmp.add_argument("--sites", help="Column naming each row's acquisition site.")
    cmp.add_argument(
        "--harmonize",
        choices=("none", "combat"),
        default="none",
        help="ComBat on each model's features, fitted on each training part "
        "(needs --sites and pip install 'sk_brainjepa[harmonize]').",
    )
    cmp.add_argument(
        "--covariates",
        nargs="+",
        default=None,
        help="Columns ComBat protects (e.g. age sex); never the target.",
    )
    cmp.add_argument(
        "--by-site",
        choices=("none", "stratify", "leave_out"),
        default="none",
        help="Keep site shares in every part, or test on one whole site per repeat.",
    )
    cmp.add_argument(
        "--models",
        nargs="+",
        choices=sorted(MODEL_NAMES),
        default=None,
        metavar="MODEL",
        help=f"Models to compare (default: {' '.join(_DEFAULT_MODELS)}, and "
        "probe-connectivity finetune with --checkpoint).",
    )
    cmp.add_argument(
        "--checkpoint",
        help="Brain-JEPA model for the probe/finetune models: our model file or "
        "save_pretrained folder, or the official checkpoint (with --gradients).",
    )
    cmp.add_argument("--gradients", help="Gradient CSV of the official checkpoint.")
    cmp.add_argument(
        "--reference", help="Model the others are compared with (default: fc)."
    )
    cmp.add_argument(
        "--metric",
        help="Score of the summary (default: balanced_accuracy / pearson_r).",
    )
    cmp.add_argument("--task", choices=TASKS, default="auto")
    cmp.add_argument("--n-repeats", type=int, default=5)
    cmp.add_argument(
        "--max-epochs",
        type=int,
        help="Epoch cap of the nets (their default otherwise).",
    )
    cmp.add_argument("--random-state", type=int, default=0)
    cmp.add_argument("--out", required=True, help="Path prefix of the files to write.")
    add_data_options(cmp)
    cmp.set_defaults(handler=compare)
    return cmp


def _column(table, name, option):
    if name not in table.columns:
        raise CommandError(
            f"{option} {name!r} is not a column of the phenotypes; columns: "
            f"{list(table.columns)}."
        )
    return table[name]


def _id_column(args):
    """The id column: --id-column, else with --groups the table's first column.

    A per-run table has a participant column (often ``participant_id``, which
    would otherwise be taken as the id) named by --groups; its rows are then
    identified by another column, the first one by default.
    """
    if args.id_column is not None or args.groups is None:
        return args.id_column
    path = Path(args.phenotypes)
    if not path.is_file():
        return None
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        first = pd.read_csv(path, sep=sep, nrows=0, encoding_errors="replace").columns[
            0
        ]
    except (pd.errors.EmptyDataError, pd.errors.ParserError, IndexError):
        return None
    return None if first == args.groups else first


def _rows_of(ids, phenotypes, path):
    from sk_brainjepa.sources import match_subject_ids

    rows = match_subject_ids(ids, phenotypes.index)
    missing = [s for s, row in zip(ids, rows, strict=True) if row is None]
    if missing:
        raise CommandError(
            f"{len(missing)} subject(s) have time series but no row in {path}, "
            f"e.g. {missing[:3]}; its ids start with {list(phenotypes.index[:3])}."
        )
    return rows


def _pretrained(args, models):
    """What the Brain-JEPA models start from: the checkpoint, or its pretrainer."""
    if args.checkpoint is None:
        needs = [m for m in models if m.startswith(("probe", "finetune"))]
        if needs:
            raise CommandError(f"models {needs} need --checkpoint.")
        return None
    path = Path(args.checkpoint)
    if not path.exists():
        raise CommandError(f"--checkpoint {path} does not exist.")
    if args.gradients is not None:
        check_gradient_file(args.gradients)
    if not any(m.endswith("-untrained") for m in models):
        return str(path)
    from sk_brainjepa.estimators import BrainJEPAPretrainer

    # The untrained twins rebuild our pretrainer with no epochs.
    loader = (
        BrainJEPAPretrainer.from_pretrained
        if path.is_dir()
        else BrainJEPAPretrainer.load
    )
    try:
        return loader(path)
    except (ValueError, KeyError) as exc:
        raise CommandError(
            f"the *-untrained models need our own model file or folder: {exc}"
        ) from exc


def compare(args) -> None:
    """``sk-brainjepa compare``: time series + phenotype -> comparison files."""
    from sk_brainjepa.model_selection import compare_models

    out = Path(args.out)
    if out.parent.exists() and not out.parent.is_dir():
        raise CommandError(f"--out {out}: {out.parent} is a file, not a folder.")
    if out.is_dir():
        raise CommandError(
            f"--out {out} is a folder; give a path prefix such as {out / 'comparison'}."
        )
    phenotypes = read_phenotypes(Path(args.phenotypes), _id_column(args))
    target = _column(phenotypes, args.target, "--target")
    source = open_source(args.data, args)
    ids = subject_ids(source)
    rows = _rows_of(ids, phenotypes, args.phenotypes)
    y = target.loc[rows]
    keep = y.notna().to_numpy()
    if not keep.any():
        raise CommandError(f"--target {args.target!r} is empty for every subject.")
    if not keep.all():
        logger.info("skipping %d subject(s) without %s", (~keep).sum(), args.target)
    if args.groups is not None:
        groups = _column(phenotypes, args.groups, "--groups").loc[rows].to_numpy()
    elif len(set(rows)) < len(rows):
        # Runs that share a participant's row are that participant's.
        groups = np.asarray(rows)
    else:
        groups = None
    sites = None
    if args.sites is not None:
        sites = _column(phenotypes, args.sites, "--sites").loc[rows].to_numpy()
    covariates = None
    if args.covariates:
        for name in args.covariates:
            _column(phenotypes, name, "--covariates")
        covariates = phenotypes.loc[rows, args.covariates].reset_index(drop=True)
        covariates = covariates[keep]
    models = list(args.models or _DEFAULT_MODELS)
    if args.models is None and args.checkpoint is not None:
        models += ["probe-connectivity", "finetune"]
    pretrained = _pretrained(args, models)
    model_params = None
    if args.max_epochs is not None:
        model_params = {
            m: {"max_epochs": args.max_epochs} for m in models if m in _NETS
        }
    index = np.flatnonzero(keep)
    X = [source[i] for i in index]
    if len({x.shape for x in X}) == 1:
        X = np.stack(X)
    y = y.to_numpy()[keep]
    try:
        result = compare_models(
            X,
            pd.Series(y, name=args.target),
            models=models,
            pretrained=pretrained,
            gradients=args.gradients,
            task=args.task,
            groups=None if groups is None else groups[keep],
            sites=None if sites is None else sites[keep],
            covariates=covariates,
            harmonize=None if args.harmonize == "none" else args.harmonize,
            by_site=None if args.by_site == "none" else args.by_site,
            n_repeats=args.n_repeats,
            reference=args.reference,
            metric=args.metric,
            model_params=model_params,
            random_state=args.random_state,
            verbose=0 if args.quiet else 1,
        )
    except (ValueError, TypeError) as exc:
        raise CommandError(str(exc)) from exc
    except ImportError as exc:
        raise CommandError(str(exc)) from exc
    for line in result.to_markdown().splitlines()[2:6]:
        if line:
            logger.info("%s", line.lstrip("- "))
    from sk_brainjepa.plotting import save_model_comparison_figure

    paths = result.save(out)
    figure = out.with_name(out.name + ".png")
    if save_model_comparison_figure(result, figure):
        paths.append(figure)
    # The command's answer goes to standard output; the log says how it was run.
    print(result.summary_table())
    logger.info("wrote %s", ", ".join(str(p) for p in paths))
