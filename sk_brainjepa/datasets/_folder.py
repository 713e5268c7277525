"""Load a cohort of ROI time series from a folder (or a list) of per-subject files.

The files are listed and read by :mod:`sk_brainjepa.sources`, which also
streams them lazily (:func:`~sk_brainjepa.sources.as_source`); this module
loads them all into memory, with their phenotype table.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from sk_brainjepa._utils._validation import LAYOUTS, check_timeseries
from sk_brainjepa.sources import (
    TIMESERIES_EXTENSIONS,
    ReadingNotes,
    align_phenotypes,
    check_table_options,
    file_subject_ids,
    list_timeseries_files,
    participant_ids,
    read_phenotype_table,
    read_timeseries_file,
)

logger = logging.getLogger(__name__)


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
    participant_ids : list of str
        Not a field (the cohort still unpacks as ``X, ids, pheno``): the
        participant of each row, ``sub-01`` for ``sub-01_ses-1`` and
        ``sub-01_run-2``; an id that is not BIDS is its own participant.
        Pass it as ``groups=`` so that one person's runs stay on one side of
        every split.
    """

    X: np.ndarray | list
    subject_ids: list
    phenotypes: pd.DataFrame | None

    @property
    def participant_ids(self) -> list[str]:
        """The participant of each row (``sub-01`` for ``sub-01_run-2``)."""
        return participant_ids(self.subject_ids)


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
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}; got {layout!r}.")
    check_table_options(header, index_col)
    files = list_timeseries_files(source, pattern)
    if isinstance(phenotypes, (str, os.PathLike)):
        pheno_path = Path(phenotypes).resolve()
        files = [p for p in files if p.resolve() != pheno_path]
    if not files:
        what = (
            f"matching pattern {pattern!r}"
            if pattern
            else (f"with an extension in {list(TIMESERIES_EXTENSIONS)}")
        )
        raise FileNotFoundError(f"No time-series files {what} in {source}.")

    subject_ids = file_subject_ids(files)

    subjects, notes = [], ReadingNotes()
    for path in files:
        arr, _ = read_timeseries_file(
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
        table = align_phenotypes(
            read_phenotype_table(phenotypes, subject_id_column), subject_ids
        )
    return Cohort(X, subject_ids, table)
