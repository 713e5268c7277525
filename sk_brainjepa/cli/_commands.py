"""The four subcommands: each reads files, calls the Python API, writes one file.

What a command does is what the corresponding estimator does, with the same
parameters; errors of the user's making are raised as :class:`CommandError`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from sk_brainjepa.cli._inputs import (
    FEATURE_SUFFIXES,
    SCORE_SUFFIXES,
    CommandError,
    check_gradient_file,
    check_input_file,
    check_output,
    is_main_rank,
    open_source,
    read_fc,
    read_features,
    read_phenotypes,
    subject_ids,
    write_table,
)
from sk_brainjepa.cli._options import collect

logger = logging.getLogger("sk_brainjepa.cli")


def gradients(args) -> None:
    """``sk-brainjepa gradients``: FC matrices or time series -> gradient CSV."""
    from sk_brainjepa.gradients import GradientPositioner, write_gradient_csv
    from sk_brainjepa.preprocessing import group_fc

    out = check_output(Path(args.out))
    try:
        positioner = GradientPositioner(**collect(args, args.estimator_params))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if args.timeseries:
        source = open_source(args.inputs, args)
        try:
            fc = group_fc(source)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    else:
        fc = np.concatenate([read_fc(Path(p)) for p in args.inputs])
    logger.info("fitting gradients on %s", fc.shape)
    try:
        result = positioner.fit(fc).gradients_
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    write_gradient_csv(result, out)
    logger.info("wrote %s (%d ROIs x %d gradients)", out, *result.shape)


def pretrain(args) -> None:
    """``sk-brainjepa pretrain``: time series -> pretrained model checkpoint."""
    from sk_brainjepa.estimators import BrainJEPAPretrainer

    out = check_output(Path(args.out))
    params = collect(args, args.estimator_params)
    # A progress bar unless -q (an explicit --verbose wins).
    params.setdefault("verbose", 0 if args.quiet else 1)
    if isinstance(params.get("gradients"), str):
        check_gradient_file(params["gradients"])
    source = open_source(args.data, args)
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
    if is_main_rank():
        model.save(out)
        last = model.history_[-1] if model.history_ else {}
        logger.info("wrote %s (last epoch loss %s)", out, last.get("loss"))


def _embedder(args):
    from sk_brainjepa.estimators import (
        BrainJEPAEmbedder,
        is_pretrained_folder,
        looks_like_repo_id,
    )

    # A pretrained folder, or a Hub repo id of one, is not a file.
    checkpoint, path = args.checkpoint, Path(args.checkpoint)
    if path.is_dir() and not is_pretrained_folder(path):
        raise CommandError(
            f"checkpoint {path} is a folder, but not a pretrained-model folder (those "
            "written by save_pretrained or convert-official hold a config.json)."
        )
    if not path.is_dir() and not (looks_like_repo_id(checkpoint) and not path.exists()):
        checkpoint = check_input_file(path, "checkpoint")
    if args.gradients is not None:
        check_gradient_file(args.gradients)
    try:
        return BrainJEPAEmbedder(
            checkpoint,
            gradients=args.gradients,
            # --scaling subject scales as the files are read: not a second time.
            preprocessing="none" if args.scaling != "none" else "auto",
            readout=args.readout,
            source_encoder=args.source_encoder,
            window_position=args.window_position,
            batch_size=args.batch_size,
            device=args.device,
            verbose=0 if args.quiet else 1,  # a progress bar while embedding
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _embed_source(args, source) -> pd.DataFrame:
    # Ids first: two files with the same id fail before any embedding.
    ids = subject_ids(source)
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


def embed(args) -> None:
    """``sk-brainjepa embed``: checkpoint + time series -> features table."""
    out = check_output(Path(args.out), FEATURE_SUFFIXES)
    table = _embed_source(args, open_source(args.data, args))
    write_table(table, out)
    logger.info("wrote %s (%d subjects x %d features)", out, *table.shape)


def probe(args) -> None:
    """``sk-brainjepa probe``: features + phenotype column -> scores table."""
    from sk_brainjepa.model_selection import format_scores, probe_features
    from sk_brainjepa.sources import match_subject_ids

    out = check_output(Path(args.out), SCORE_SUFFIXES)
    if (args.features is None) == (args.checkpoint is None):
        raise CommandError("give either a features file or --checkpoint with --data.")
    phenotypes = read_phenotypes(Path(args.phenotypes), args.id_column)
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
        _refuse_embedding_options(args)
        features = read_features(Path(args.features))
        probed = {"probed": f"features file {args.features}"}
    else:
        if not args.data:
            raise CommandError("--checkpoint needs --data (the time series to embed).")
        features = _embed_source(args, open_source(args.data, args))
        probed = {
            "probed": f"checkpoint {args.checkpoint}",
            "readout": args.readout,
            # The column keeps its name: score files stay comparable.
            "encoder": args.source_encoder,
        }
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
    # What was probed, in every row: the file says where its scores came from.
    for position, (name, value) in enumerate(probed.items()):
        table.insert(position, name, value)
    write_table(table, out)
    logger.info(
        "%s (%s) on %s:\n%s",
        args.column,
        table.attrs["task"],
        ", ".join(f"{k} {v}" if k != "probed" else v for k, v in probed.items()),
        format_scores(table.drop(columns=list(probed))),
    )
    logger.info("wrote %s", out)


# Options of probe that say how time series are embedded: with a features
# file nothing is embedded, so giving one is a mistake, not a no-op.
_EMBEDDING_DESTS = (
    "gradients",
    "readout",
    "source_encoder",
    "window_position",
    "batch_size",
    "device",
    "layout",
    "pattern",
    "scaling",
    "header",
    "index_col",
    "delimiter",
    "npz_key",
)


def _refuse_embedding_options(args) -> None:
    """Refuse, by name, embedding options given with a features file."""
    given = getattr(args, "given_options", {})
    typed = [given[d] for d in _EMBEDDING_DESTS if d in given]
    if typed:
        raise CommandError(
            f"{', '.join(typed)} {'applies' if len(typed) == 1 else 'apply'} to "
            f"embedding --data with --checkpoint; the features file "
            f"{args.features} is embedded already: leave "
            f"{'it' if len(typed) == 1 else 'them'} out (the readout and encoder "
            "are those 'sk-brainjepa embed' used)."
        )
