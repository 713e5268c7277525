"""Load a cohort of ROI time series from a folder (or a list) of per-subject files."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from sk_brainjepa._utils._validation import LAYOUTS, check_timeseries

logger = logging.getLogger(__name__)

_EXTENSIONS = (".npy", ".npz", ".csv", ".tsv")
_LAYOUTS = LAYOUTS
_DEFAULT_SEPARATORS = {".csv": ",", ".tsv": "\t"}


class Cohort(NamedTuple):
    """What :func:`load_timeseries` returns; unpacks like a 3-tuple.

    Attributes
    ----------
    X : ndarray of shape (n_subjects, n_rois, n_timepoints) or list of ndarray
        One 3-D array when every subject has the same number of frames,
        otherwise a list of arrays of shape (n_rois, n_timepoints_i).
    subject_ids : list of str
        One id per subject (its BIDS ``sub-`` label, else the file name
        without its extension; see :func:`load_timeseries`), in the order of
        ``X``.
    phenotypes : pandas.DataFrame or None
        The phenotype table with one row per subject, indexed by
        ``subject_ids`` in the same order, or None when no table was given.
    """

    X: np.ndarray | list
    subject_ids: list
    phenotypes: pd.DataFrame | None


def _is_bids_table(path: Path) -> bool:
    """Whether ``path`` is a BIDS table about subjects, never a time series."""
    name = path.name.lower()
    return name.startswith("participants.") or name.endswith(
        ("_sessions.tsv", "_scans.tsv")
    )


def _list_folder(path: Path, pattern: str | None) -> list[Path]:
    if pattern is not None:
        files = list(path.glob(pattern))
    else:
        files = [p for p in path.iterdir() if p.suffix.lower() in _EXTENSIONS]
        # A BIDS dataset keeps each subject's files in its sub-* folder.
        subject_folders = [
            p for p in path.iterdir() if p.is_dir() and p.name.startswith("sub-")
        ]
        for folder in subject_folders:
            files += [p for p in folder.rglob("*") if p.suffix.lower() in _EXTENSIONS]
        if subject_folders:
            logger.info(
                "%s holds %d BIDS sub-* folder(s); reading the files inside them.",
                path,
                len(subject_folders),
            )
    skipped = [p for p in files if _is_bids_table(p)]
    if skipped:
        logger.info(
            "Skipped %d BIDS table(s) about subjects, not time series: %s",
            len(skipped),
            [p.name for p in skipped[:5]],
        )
    return sorted(p for p in files if p.is_file() and not _is_bids_table(p))


def _list_files(source, pattern: str | None) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            files = _list_folder(path, pattern)
        elif path.is_file():
            if pattern is not None:
                raise ValueError("pattern can only be used when source is a folder.")
            files = [path]
        else:
            raise FileNotFoundError(f"source folder or file {path} does not exist.")
    elif isinstance(source, Sequence):
        if pattern is not None:
            raise ValueError(
                "pattern can only be used when source is a folder; got a list of "
                "files. Filter the list yourself instead."
            )
        if len(source) == 0:
            raise ValueError("source is an empty list; expected at least one file.")
        files = [Path(p) for p in source]
        for p in files:
            if p.is_dir():
                raise IsADirectoryError(
                    f"{p} in the list of files is a folder; pass a folder alone, "
                    "or list its files."
                )
            if not p.is_file():
                raise FileNotFoundError(f"File {p} in source does not exist.")
    else:
        raise ValueError(
            "source must be a folder path or a list of file paths; got "
            f"{type(source).__name__}."
        )
    for p in files:
        if p.suffix.lower() not in _EXTENSIONS:
            raise ValueError(
                f"File {p} has an unknown extension {p.suffix!r}; expected one of "
                f"{list(_EXTENSIONS)}."
            )
    return files


def read_csv_table(path: Path, encoding: str | None = None, **kwargs) -> pd.DataFrame:
    """``pandas.read_csv`` that also reads the latin-1 tables spreadsheets write.

    With ``encoding=None``, UTF-8 is tried first (a byte-order mark, which
    Excel writes, is dropped so that it does not end up in the first column
    name). A file that is not valid UTF-8 is read again as latin-1, which
    decodes any byte, and a warning names the file: its numbers are
    unaffected, only accented text may come out wrong. The encoding used is
    in ``table.attrs["encoding"]``.
    """
    if encoding is None:
        try:
            table = pd.read_csv(path, encoding="utf-8-sig", **kwargs)
            encoding = "utf-8-sig"
        except UnicodeDecodeError as exc:
            logger.warning(
                "%s is not valid UTF-8 (byte %d); read it as latin-1. Re-save it "
                "as UTF-8 if its text (names, labels) looks wrong.",
                path,
                exc.start,
            )
            encoding = "latin-1"
            table = pd.read_csv(path, encoding=encoding, **kwargs)
    else:
        table = pd.read_csv(path, encoding=encoding, **kwargs)
    table.attrs["encoding"] = encoding
    return table


# Cells that mean "no value" rather than text; they become NaN, which the
# finite-value check then reports with the file name.
_MISSING = frozenset(["", "nan", "NaN", "NAN", "NA", "N/A", "n/a", "null", "NULL"])
_UNNAMED = re.compile(r"^Unnamed: \d+$")  # what pandas calls a column without a name


class _Grid(NamedTuple):
    """A table read as text: its cells, their numbers and which cells are text."""

    cells: np.ndarray  # object array of str
    numbers: np.ndarray  # float64, NaN where a cell is not a number
    text: np.ndarray  # bool, True where a cell is neither a number nor missing


def _read_grid(path: Path, sep: str, encoding: str | None) -> tuple[_Grid, str]:
    raw = read_csv_table(
        path, encoding, sep=sep, header=None, dtype=str, na_filter=False
    )
    cells = raw.to_numpy(dtype=object)
    flat = pd.Series(cells.ravel())
    numbers = pd.to_numeric(flat, errors="coerce").to_numpy(dtype=np.float64)
    missing = flat.str.strip().isin(_MISSING).to_numpy()
    text = np.isnan(numbers) & ~missing
    grid = _Grid(cells, numbers.reshape(cells.shape), text.reshape(cells.shape))
    return grid, raw.attrs["encoding"]


def _is_counter(values: np.ndarray) -> bool:
    """Whether ``values`` count 0, 1, 2, ... (or 1, 2, 3, ...), as row numbers do."""
    return (
        len(values) >= 3
        and values[0] in (0.0, 1.0)
        and bool(np.all(np.diff(values) == 1.0))
    )


def _is_ramp(values: np.ndarray) -> bool:
    """Whether ``values`` rise in even steps, as frame times (0, 0.72, 1.44, ...) do.

    Steps within 1% of each other allow times printed with few decimals; no
    measured signal rises that evenly.
    """
    if len(values) < 3 or not np.all(np.isfinite(values)):
        return False
    steps = np.diff(values)
    return bool(steps[0] > 0 and np.allclose(steps, steps[0], rtol=0.01, atol=0))


def _all_integers(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size and np.all(finite == np.round(finite)))


def _leading(columns: range, test) -> list[int]:
    """The leading columns for which ``test(j)`` holds, up to the first that fails."""
    found = []
    for j in columns:
        if not test(j):
            break
        found.append(j)
    return found


def _infer_header(grid: _Grid, labels: list[int]) -> tuple[bool, str | None]:
    """Whether the first row names the columns, and why when the guess is not plain.

    ``labels`` are the columns known or guessed to hold row labels, whose
    first cell names them and so says nothing.
    """
    n_rows, n_cols = grid.cells.shape
    rest = [j for j in range(n_cols) if j not in labels]
    if grid.text[0, rest].any():
        return True, None  # e.g. ROI names
    # DataFrame.to_csv writes column labels that are numbers (the default 0,
    # 1, 2, ..., or frame times) as a header, after an empty cell above the
    # index: a header that looks like data. No measured signal counts or rises
    # in even steps along a row.
    corner_empty = not grid.text[0, 0] and np.isnan(grid.numbers[0, 0])
    names = grid.numbers[0, [j for j in rest if not (corner_empty and j == 0)]]
    counts = len(names) > 0 and np.array_equal(names, np.arange(len(names)))
    if counts:
        why = "column numbers 0, 1, 2, ..."
    elif _is_ramp(names):
        why = "column names that rise in even steps, such as frame times"
    else:
        return False, None
    if corner_empty or labels:
        where = "an empty first cell" if corner_empty else "a label column's name"
        return True, f"{why}, after {where}"
    # Without a row label, a row 0, 1, 2, ... could be data, unless the rest
    # of the table is not whole numbers (measured signals never are).
    if len(names) >= 3 and not _all_integers(grid.numbers[1:, rest]):
        return True, why
    return False, None


def _infer_index(grid: _Grid, has_header: bool) -> list[tuple[int, str]]:
    """Leading columns that hold row labels rather than a signal, with the reason.

    The last column is always kept: a table has at least one signal.
    """
    n_rows, n_cols = grid.cells.shape
    body = slice(1 if has_header else 0, None)
    found = []
    if n_rows <= body.start:
        return found  # a header alone: nothing to judge the columns by
    for j in range(n_cols - 1):
        name = grid.cells[0, j].strip() if has_header else None
        numbers = grid.numbers[body, j]
        named = has_header and bool(grid.text[0, j]) and not _UNNAMED.match(name)
        if grid.text[body, j].all():
            reason = "holds text labels"
        elif has_header and (name == "" or _UNNAMED.match(name)):
            reason = "has no name in the header (a pandas index)"
        elif _is_counter(numbers) and (
            named or not _all_integers(grid.numbers[body, j + 1 :])
        ):
            reason = "counts the rows (0, 1, 2, ...)"
        elif named and _is_ramp(numbers):
            reason = "rises in even steps (frame times)"
        else:
            break
        found.append((j, reason))
    return found


class _Notes:
    """What was inferred from tables, logged once per kind over many files.

    A cohort's files are usually written alike: one INFO line saying what was
    guessed in the first file and in how many others is more useful than a
    line per file.
    """

    def __init__(self):
        self._seen: dict[str, list] = {}

    def add(self, path: Path, note: str) -> None:
        self._seen.setdefault(note, [path, 0])[1] += 1

    def log(self) -> None:
        for note, (path, count) in self._seen.items():
            more = f" (the same in {count - 1} other file(s))" if count > 1 else ""
            logger.info("File %s: %s%s.", path, note, more)
        self._seen.clear()


def _index_columns(index_col) -> tuple[int, ...]:
    if index_col is None:
        return ()
    if isinstance(index_col, (int, np.integer)) and not isinstance(index_col, bool):
        return (int(index_col),)
    return tuple(int(j) for j in index_col)


def _parse_table(
    path: Path, sep: str, header, index_col, encoding: str | None, notes=None
) -> tuple[np.ndarray, tuple]:
    """Read a table as text, resolving ``"infer"`` options from its cells.

    What was inferred goes to ``notes`` (a :class:`_Notes`), or is logged at
    once when it is None.
    """
    own_notes = notes is None
    notes = _Notes() if own_notes else notes
    try:
        grid, encoding = _read_grid(path, sep, encoding)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise ValueError(f"File {path} could not be parsed as a table: {exc}") from exc
    n_rows, n_cols = grid.cells.shape
    if index_col == "infer":
        labels = _leading(
            range(n_cols - 1), lambda j: n_rows > 1 and grid.text[1:, j].all()
        )
    else:
        labels = list(_index_columns(index_col))
        if any(not 0 <= j < n_cols for j in labels):
            raise ValueError(
                f"index_col={index_col!r} is not a column of {path}, which has "
                f"{n_cols} column(s)."
            )
    if header == "infer":
        header, why = _infer_header(grid, labels)
        if why:
            notes.add(path, f"first row read as a header ({why})")
    if index_col == "infer":
        found = _infer_index(grid, header)
        for j, reason in found:
            name = f" ({grid.cells[0, j]!r})" if header else ""
            notes.add(
                path,
                f"column {j}{name} {reason}; dropped it as row labels (pass "
                "index_col=None to keep it as data)",
            )
        index_cols = tuple(j for j, _ in found)
    else:
        index_cols = tuple(labels)
    rows = slice(1 if header else 0, None)
    keep = [j for j in range(n_cols) if j not in index_cols]
    text = grid.text[rows][:, keep]
    if text.any():
        r, c = np.argwhere(text)[0]
        cell = grid.cells[rows][r, keep[c]]
        hint = (
            f" The cells hold {sep!r}-separated fields: pass delimiter."
            if any(d in cell for d in ",;\t|" if d != sep)
            else ""
        )
        raise ValueError(
            f"File {path} contains non-numeric values (e.g. {cell!r} in row "
            f"{r + 1 + rows.start}, column {keep[c] + 1}). If its first row holds "
            "names, pass header=True; if a column holds labels (e.g. ROI names or "
            f"times), pass index_col.{hint}"
        )
    if own_notes:
        notes.log()
    return grid.numbers[rows][:, keep], (bool(header), index_cols, encoding)


def _read_table(
    path: Path,
    delimiter: str | None,
    header,
    index_col,
    encoding: str | None = None,
    notes=None,
) -> tuple[np.ndarray, tuple]:
    """A ``.csv``/``.tsv`` table as numbers, and the options it was read with.

    Returns the values as stored (no layout applied) and ``(header,
    index_columns, encoding)``: the inferred options made explicit, so that
    later reads of the same file (windows of a :class:`FileSource`) skip the
    guessing and its messages. ``notes`` collects what was inferred, as in
    :func:`_parse_table`.
    """
    suffix = path.suffix.lower()
    sep = delimiter if delimiter is not None else _DEFAULT_SEPARATORS[suffix]
    if header == "infer" or index_col == "infer":
        return _parse_table(path, sep, header, index_col, encoding, notes)
    index_cols = _index_columns(index_col)
    try:
        df = read_csv_table(path, encoding, sep=sep, header=None, skiprows=int(header))
        if index_cols:
            df = df.drop(columns=[df.columns[j] for j in index_cols])
        values = df.to_numpy(dtype=np.float64)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, ValueError, IndexError):
        # The text reader names the offending cell, or says why the file
        # cannot be parsed.
        return _parse_table(path, sep, header, index_cols, encoding)
    return values, (bool(header), index_cols, df.attrs["encoding"])


def _check_table_options(header, index_col) -> None:
    """Refuse ``header``/``index_col`` values that the table reader cannot use."""
    if not (header == "infer" or isinstance(header, bool)):
        raise ValueError(f"header must be 'infer', True or False; got {header!r}.")
    if index_col is None or (isinstance(index_col, str) and index_col == "infer"):
        return
    columns = [index_col] if not isinstance(index_col, (list, tuple)) else index_col
    if not columns or not all(
        isinstance(j, (int, np.integer)) and not isinstance(j, bool) and j >= 0
        for j in columns
    ):
        raise ValueError(
            "index_col must be 'infer', None, a column position (int >= 0) or a "
            f"list of them; got {index_col!r}."
        )


def _read_npz(path: Path, npz_key: str | None) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.files)
        if npz_key is not None:
            if npz_key not in keys:
                raise ValueError(
                    f"File {path} has no array named npz_key={npz_key!r}; it holds "
                    f"{keys}."
                )
            return archive[npz_key]
        if len(keys) != 1:
            raise ValueError(
                f"File {path} holds {len(keys)} arrays {keys}; pass npz_key to say "
                "which one is the time series."
            )
        return archive[keys[0]]


def _read_subject(
    path: Path,
    *,
    layout,
    npz_key,
    delimiter,
    header,
    index_col,
    encoding=None,
    notes=None,
) -> tuple[np.ndarray, tuple | None]:
    """One subject as (n_rois, n_timepoints), checked, and how its table was read.

    The second value is ``(header, index_columns, encoding)`` for a
    ``.csv``/``.tsv`` file (pass them back to read it again without guessing)
    and None for ``.npy``/``.npz``. ``notes`` collects what was inferred from
    a table (see :class:`_Notes`); None logs it at once.
    """
    suffix = path.suffix.lower()
    table_format = None
    if suffix == ".csv" or suffix == ".tsv":
        arr, table_format = _read_table(
            path, delimiter, header, index_col, encoding, notes
        )
    else:
        try:
            if suffix == ".npy":
                arr = np.load(path, allow_pickle=False)
            else:
                arr = _read_npz(path, npz_key)
        except ValueError as exc:
            if "allow_pickle" not in str(exc):
                raise
            # Object arrays need pickle, which can run arbitrary code on load.
            raise ValueError(
                f"File {path} could not be loaded safely: it stores Python objects "
                "(pickle), which are refused. Save plain numeric arrays instead."
            ) from exc
    if (
        arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool)
        or np.iscomplexobj(arr)
    ):
        raise ValueError(f"File {path} must hold real numbers; got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(
            f"File {path} holds an array of shape {arr.shape}; expected a 2-D "
            f"{layout.replace('_x_', ' x ')} array (one subject per file)."
        )
    if 0 in arr.shape:
        raise ValueError(f"File {path} holds an empty array of shape {arr.shape}.")
    if arr.dtype != np.float32:
        arr = arr.astype(np.float64)
    if layout == "time_x_rois":
        arr = arr.T
    n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    if n_bad:
        raise ValueError(
            f"File {path} contains {n_bad} NaN or infinite value(s); expected "
            "finite values. Impute or drop the affected ROIs/frames first."
        )
    return np.ascontiguousarray(arr), table_format


_ENTITY = re.compile(r"^([A-Za-z0-9]+)-([A-Za-z0-9]+)$")
_BIDS_ID = re.compile(r"^sub-([A-Za-z0-9]+)((?:_[A-Za-z0-9]+-[A-Za-z0-9]+)*)$")
# How far up a file's folders a BIDS "sub-"/"ses-" folder is looked for:
# sub-01/ses-1/func/file is three levels. Further up, a folder named "sub-x"
# is not the subject's.
_ENTITY_DEPTH = 3


def _entities(path: Path) -> dict[str, str]:
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


def _subject_ids(files: Sequence[Path]) -> list[str]:
    """One id per file: ``sub-<label>`` (BIDS) where the path has one, else the stem.

    When a subject has several files, its ids also get the entities whose
    values tell them apart, in the file name's order: ``sub-01_ses-1`` and
    ``sub-01_ses-2`` for two sessions, ``sub-01_run-1`` for runs. Files that
    still share an id are refused, since every table the ids label needs one
    row per file.
    """
    entities = [_entities(p) for p in files]
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


def _align_phenotypes(table: pd.DataFrame, subject_ids: list[str]) -> pd.DataFrame:
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


def load_timeseries(
    source,
    *,
    layout: str = "rois_x_time",
    phenotypes=None,
    subject_id_column: str | None = None,
    pattern: str | None = None,
    npz_key: str | None = None,
    delimiter: str | None = None,
    header="infer",
    index_col="infer",
) -> Cohort:
    """Load one ROI time-series file per subject, plus an optional phenotype table.

    Parameters
    ----------
    source : str, path-like or list of path-like
        A folder, in which case every ``.npy``, ``.npz``, ``.csv`` and ``.tsv``
        file in it (not in sub-folders) is one subject, in sorted path
        order; or a list of files, kept in the given order. A phenotype file
        passed as ``phenotypes`` is skipped if it sits in the folder. A BIDS
        folder (one holding ``sub-*`` folders) is searched inside those
        folders too, and its ``participants``, ``*_sessions`` and ``*_scans``
        tables are skipped.
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How the files store each subject: one row per ROI (``"rois_x_time"``)
        or one row per frame (``"time_x_rois"``, common for CSV exports with
        ROI names as column headers). Arrays are transposed to
        (n_rois, n_timepoints) as needed; the layout cannot be guessed
        reliably, so it must be stated.
    phenotypes : str, path-like, pandas.DataFrame or None, default=None
        Phenotype table (``.tsv`` files are tab-separated, anything else is read
        as comma-separated). Its rows are matched to the subject ids.
    subject_id_column : str or None, default=None
        Column of ``phenotypes`` holding the subject ids. If None, the ids are
        the DataFrame's index, or the ``participant_id`` column of a phenotype
        file (BIDS ``participants.tsv``), else its first column. Ids are
        compared as strings, and BIDS ids in either form: ``sub-01`` matches
        a row ``01`` and the other way round, and a session
        ``sub-01_ses-1`` takes the row of ``sub-01``.
    pattern : str or None, default=None
        Glob pattern selecting files inside the ``source`` folder, e.g.
        ``"sub-*_bold.tsv"`` or ``"**/*.npy"`` (recursive). Every selected file
        must have one of the supported extensions.
    npz_key : str or None, default=None
        Name of the array to read from ``.npz`` files. If None, each ``.npz``
        must hold exactly one array.
    delimiter : str or None, default=None
        Field separator of ``.csv``/``.tsv`` files. If None, ``","`` for
        ``.csv`` and a tab for ``.tsv``.
    header : "infer" or bool, default="infer"
        Whether ``.csv``/``.tsv`` files start with a header row. ``"infer"``
        treats the first row as a header when any of its cells outside label
        columns is not a number, e.g. ROI names, or when it holds the column
        numbers 0, 1, 2, ... that ``DataFrame.to_csv`` writes (after an empty
        cell, or with at least three columns of non-integer data); any other
        numeric first row is data.
    index_col : "infer", int, list of int or None, default="infer"
        Position(s) of ``.csv``/``.tsv`` columns holding row labels (e.g. ROI
        names, frame numbers or times), which are dropped from the data.
        ``"infer"`` drops the leading columns that are text (labels), have no
        name in the header (as ``DataFrame.to_csv`` writes its index), count
        the rows 0, 1, 2, ... (or 1, 2, 3, ...), or, under a text header such
        as ``"time"``, rise in even steps; each drop is logged (``logging``
        INFO). None keeps every column as data.

    Returns
    -------
    cohort : Cohort
        A named tuple ``(X, subject_ids, phenotypes)``:

        - ``X`` : ndarray of shape (n_subjects, n_rois, n_timepoints) when all
          subjects have the same number of frames, otherwise a list of arrays
          of shape (n_rois, n_timepoints_i). float32 if every file stores
          float32, float64 otherwise.
        - ``subject_ids`` : list of str. ``sub-<label>`` when the file's name
          or one of its three nearest folders carries a BIDS ``sub-`` entity,
          plus the entities that tell that subject's files apart when it has
          several (``sub-01_ses-1``, ``sub-01_ses-2``; ``sub-01_run-1``);
          else the file name without extension.
        - ``phenotypes`` : pandas.DataFrame aligned to ``subject_ids`` (same
          order; rows of other subjects dropped) or None.

    Raises
    ------
    FileNotFoundError
        If ``source`` (or a listed file, or the phenotype file) does not exist,
        or the folder holds no matching file.
    ValueError
        On an unknown extension, an array that is not 2-D, non-numeric or
        NaN/infinite values, ROI counts that differ between files, two files
        with the same subject id (both are named), an ``.npz`` with several
        arrays and no ``npz_key``, or subjects without a phenotype row.
        Messages name the file or ids.

    See Also
    --------
    make_brain_dynamics : Simulated cohort in the same format.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from sk_brainjepa.datasets import load_timeseries
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(3):
    ...     np.save(folder / f"sub-{i:02d}.npy", np.ones((10, 50)) * i)
    >>> X, ids, pheno = load_timeseries(folder)
    >>> X.shape, ids
    ((3, 10, 50), ['sub-00', 'sub-01', 'sub-02'])
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {list(_LAYOUTS)}; got {layout!r}.")
    _check_table_options(header, index_col)
    files = _list_files(source, pattern)
    if isinstance(phenotypes, (str, os.PathLike)):
        pheno_path = Path(phenotypes).resolve()
        files = [p for p in files if p.resolve() != pheno_path]
    if not files:
        what = (
            f"matching pattern {pattern!r}"
            if pattern
            else (f"with an extension in {list(_EXTENSIONS)}")
        )
        raise FileNotFoundError(f"No time-series files {what} in {source}.")

    subject_ids = _subject_ids(files)

    subjects, notes = [], _Notes()
    for path in files:
        arr, _ = _read_subject(
            path,
            layout=layout,
            npz_key=npz_key,
            delimiter=delimiter,
            header=header,
            index_col=index_col,
            notes=notes,
        )
        if subjects and arr.shape[0] != subjects[0].shape[0]:
            raise ValueError(
                f"File {path} has {arr.shape[0]} ROIs but {files[0]} has "
                f"{subjects[0].shape[0]} (layout={layout!r}). All subjects need "
                "the same ROIs; check the layout."
            )
        subjects.append(arr)
    notes.log()

    dtype = np.result_type(*subjects)
    subjects = [s.astype(dtype, copy=False) for s in subjects]
    if len({s.shape for s in subjects}) == 1:
        X = check_timeseries(np.stack(subjects))
    else:
        X = check_timeseries(subjects)
    logger.debug("Loaded %d subject(s) from %s.", len(subjects), source)

    table = None
    if phenotypes is not None:
        table = _align_phenotypes(
            read_phenotype_table(phenotypes, subject_id_column), subject_ids
        )
    return Cohort(X, subject_ids, table)
