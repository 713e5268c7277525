"""Read ``.csv``/``.tsv`` time-series tables: encoding, header and index columns.

A table may start with a header row (ROI names, or the column numbers and
frame times ``DataFrame.to_csv`` writes) and with columns of row labels (ROI
names, frame numbers, times). With ``header="infer"``/``index_col="infer"``
both are told apart from the signal by their cells; what was inferred is
logged once per kind over a cohort's files (:class:`ReadingNotes`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

_DEFAULT_SEPARATORS = {".csv": ",", ".tsv": "\t"}


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


class ReadingNotes:
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

    What was inferred goes to ``notes`` (a :class:`ReadingNotes`), or is logged at
    once when it is None.
    """
    own_notes = notes is None
    notes = ReadingNotes() if own_notes else notes
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


def check_table_options(header, index_col) -> None:
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
