"""BIDS names: subject ids from file paths, and phenotype tables joined on them.

A file's id is its BIDS ``sub-`` label (plus the entities that tell one
subject's files apart, ``sub-01_ses-1``), else its name without extension.
Phenotype tables (BIDS ``participants.tsv`` or any ``.csv``/``.tsv``) are
read with their ids as text and matched to those ids, ``sub-01`` and ``01``
alike.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sk_brainjepa.sources._tables import read_csv_table

logger = logging.getLogger(__name__)


def _is_bids_table(path: Path) -> bool:
    """Whether ``path`` is a BIDS table about subjects, never a time series."""
    name = path.name.lower()
    return name.startswith("participants.") or name.endswith(
        ("_sessions.tsv", "_scans.tsv")
    )


_ENTITY = re.compile(r"^([A-Za-z0-9]+)-([A-Za-z0-9]+)$")
_BIDS_ID = re.compile(r"^sub-([A-Za-z0-9]+)((?:_[A-Za-z0-9]+-[A-Za-z0-9]+)*)$")
# How far up a file's folders a BIDS "sub-"/"ses-" folder is looked for:
# sub-01/ses-1/func/file is three levels. Further up, a folder named "sub-x"
# is not the subject's.
_ENTITY_DEPTH = 3


def bids_entities(path: Path) -> dict[str, str]:
    """The BIDS entities (``sub``, ``ses``, ``task``, ``run``, ...) of a file.

    From its name (``sub-01_ses-1_task-rest_bold.tsv``), in their order there;
    ``sub`` and ``ses`` also from its nearest folders (``sub-01/ses-1/func/``)
    when the name lacks them.
    """
    found: dict[str, str] = {}
    for part in path.name.split(".")[0].split("_"):
        match = _ENTITY.match(part)
        if match:
            found.setdefault(match.group(1), match.group(2))
    for folder in list(reversed(path.parent.parts))[:_ENTITY_DEPTH]:
        match = _ENTITY.match(folder)
        if match and match.group(1) in ("sub", "ses"):
            found.setdefault(match.group(1), match.group(2))
    return found


def file_subject_ids(files: Sequence[Path]) -> list[str]:
    """One id per file: ``sub-<label>`` (BIDS) where the path has one, else the stem.

    When a subject has several files, its ids also get the entities whose
    values tell them apart, in the file name's order: ``sub-01_ses-1`` and
    ``sub-01_ses-2`` for two sessions, ``sub-01_run-1`` for runs. Files that
    still share an id are refused, since every table the ids label needs one
    row per file.
    """
    entities = [bids_entities(p) for p in files]
    by_subject: dict[str, list[dict]] = {}
    for found in entities:
        if "sub" in found:
            by_subject.setdefault(found["sub"], []).append(found)
    ids = []
    for path, found in zip(files, entities, strict=True):
        if "sub" not in found:
            ids.append(path.name[: -len(path.suffix)] if path.suffix else path.name)
            continue
        group = by_subject[found["sub"]]
        # ses first, as BIDS orders entities; then the others as the name has them.
        keys = sorted((k for k in found if k != "sub"), key=lambda k: k != "ses")
        differing = [k for k in keys if len({f.get(k) for f in group}) > 1]
        ids.append(
            "_".join([f"sub-{found['sub']}"] + [f"{k}-{found[k]}" for k in differing])
        )
    seen: dict[str, Path] = {}
    for subject, path in zip(ids, files, strict=True):
        if subject in seen:
            raise ValueError(
                f"Files {seen[subject]} and {path} give the same subject id "
                f"{subject!r} (ids are the BIDS entities of a path, else the file "
                "name without extension); keep one file per subject, session and "
                "run, e.g. select them with a pattern such as '**/*task-rest*.tsv'."
            )
        seen[subject] = path
    return ids


def participant_ids(subject_ids) -> list[str]:
    """The participant of each id: ``sub-<label>`` of a BIDS id, else the id.

    The ids of several sessions or runs (``sub-01_ses-1``, ``sub-01_run-2``)
    share their participant ``sub-01``: the ``groups`` that keep one
    person's scans on one side of a split. Ids that are not BIDS (file
    names) are their own participant.

    Examples
    --------
    >>> participant_ids(["sub-01_ses-1", "sub-01_ses-2", "sub-02", "scan7"])
    ['sub-01', 'sub-01', 'sub-02', 'scan7']
    """
    participants = []
    for subject in subject_ids:
        bids = _BIDS_ID.match(str(subject))
        participants.append(f"sub-{bids.group(1)}" if bids else str(subject))
    return participants


def match_subject_ids(subject_ids, table_ids) -> list[str | None]:
    """The row of a phenotype table for each subject id, or None where it has none.

    Ids match as they are, or in the two forms BIDS ``participants.tsv``
    tables use: ``sub-01`` and ``01``; the id of a session or run,
    ``sub-01_ses-1``, takes its participant's row.
    """
    known = set(table_ids)
    matched = []
    for subject in subject_ids:
        bids = _BIDS_ID.match(subject)
        if bids:
            candidates = [subject, f"sub-{bids.group(1)}", bids.group(1)]
        else:
            candidates = [subject, f"sub-{subject}"]
        matched.append(next((c for c in candidates if c in known), None))
    return matched


def read_phenotype_table(phenotypes, subject_id_column: str | None) -> pd.DataFrame:
    """A phenotype table indexed by subject id (as text), one row per subject.

    Without ``subject_id_column``, a file's ids are its ``participant_id``
    column (BIDS ``participants.tsv``) when it has one, else its first column.
    """
    if isinstance(phenotypes, pd.DataFrame):
        table = phenotypes.copy()
        if subject_id_column is not None:
            if subject_id_column not in table.columns:
                raise ValueError(
                    f"subject_id_column={subject_id_column!r} is not a column of "
                    f"phenotypes; columns are {list(table.columns)}."
                )
            table = table.set_index(subject_id_column)
    elif isinstance(phenotypes, (str, os.PathLike)):
        path = Path(phenotypes)
        if path.is_dir():
            raise IsADirectoryError(
                f"phenotypes file {path} is a folder; expected a .csv/.tsv file."
            )
        if not path.is_file():
            raise FileNotFoundError(f"phenotypes file {path} does not exist.")
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        try:
            head = read_csv_table(path, sep=sep, nrows=0)
            columns = list(head.columns)
            if subject_id_column is not None:
                id_column = subject_id_column
            elif "participant_id" in columns:
                id_column = "participant_id"  # BIDS participants.tsv
            else:
                id_column = columns[0]
            if id_column not in columns:
                raise ValueError(
                    f"subject_id_column={subject_id_column!r} is not a column of "
                    f"{path}; columns are {columns}."
                )
            # Ids as text, so that "001" stays "001" rather than becoming 1.
            table = read_csv_table(
                path, head.attrs["encoding"], sep=sep, dtype={id_column: str}
            )
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise ValueError(
                f"phenotypes file {path} could not be parsed as a table: {exc}"
            ) from exc
        table = table.set_index(id_column)
    else:
        raise ValueError(
            "phenotypes must be a path to a .csv/.tsv file or a pandas DataFrame; "
            f"got {type(phenotypes).__name__}."
        )
    table.index = table.index.map(str)
    duplicated = table.index[table.index.duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(
            f"phenotypes has several rows for subject id(s) {duplicated[:10]}."
        )
    return table


def align_phenotypes(table: pd.DataFrame, subject_ids: list[str]) -> pd.DataFrame:
    """The rows of a phenotype table in the order of ``subject_ids`` (all needed)."""
    rows = match_subject_ids(subject_ids, table.index)
    missing = [s for s, row in zip(subject_ids, rows, strict=True) if row is None]
    if missing:
        raise ValueError(
            f"phenotypes has no row for {len(missing)} of {len(subject_ids)} "
            f"subject(s): {missing[:20]}{' ...' if len(missing) > 20 else ''}. "
            "Subject ids are the BIDS 'sub-' labels of the files, else the file "
            f"names without extension; the table's ids start with "
            f"{table.index[:5].tolist()}."
        )
    n_extra = len(table) - len(set(rows))
    if n_extra:
        logger.info("Dropped %d phenotype row(s) without a time-series file.", n_extra)
    aligned = table.loc[rows]
    aligned.index = pd.Index(subject_ids, name=table.index.name)
    return aligned
