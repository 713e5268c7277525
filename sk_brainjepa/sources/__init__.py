"""Time series at the bottom: lazy sources of a cohort, and which frames a model sees.

- :func:`as_source` makes a :class:`TimeSeriesSource` from arrays, memory
  maps, a folder or a list of per-subject ``.npy``/``.npz``/``.csv``/``.tsv``
  files (:class:`ArraySource`, :class:`FileSource`); it knows every
  subject's shape up front and reads one subject, or one window, at a time.
- :class:`ScaledSource` wraps a source with a transform applied as windows
  are read (the transforms are in :mod:`sk_brainjepa.preprocessing`).
- :func:`window_starts`, :func:`crop` and :func:`cut_windows` are the one
  rule for where a model's windows start in a longer run.
- The file and table readers under the sources (:func:`list_timeseries_files`,
  :func:`read_timeseries_file`, :func:`read_csv_table`, the BIDS helpers
  :func:`bids_entities`, :func:`file_subject_ids`, :func:`participant_ids`,
  :func:`read_phenotype_table`, :func:`match_subject_ids` and
  :func:`align_phenotypes`) are public for the loaders of
  :mod:`sk_brainjepa.datasets`, :mod:`sk_brainjepa.imaging` and the command line.

Numpy and pandas only: no torch, no estimators.
"""

from sk_brainjepa.sources._arrays import ArraySource
from sk_brainjepa.sources._as_source import as_source
from sk_brainjepa.sources._base import TimeSeriesSource
from sk_brainjepa.sources._bids import (
    align_phenotypes,
    bids_entities,
    file_subject_ids,
    match_subject_ids,
    participant_ids,
    read_phenotype_table,
)
from sk_brainjepa.sources._files import (
    TIMESERIES_EXTENSIONS,
    FileSource,
    list_timeseries_files,
    read_timeseries_file,
)
from sk_brainjepa.sources._scaled import ScaledSource
from sk_brainjepa.sources._tables import (
    ReadingNotes,
    check_table_options,
    read_csv_table,
)
from sk_brainjepa.sources._windows import WINDOWS, crop, cut_windows, window_starts

__all__ = [
    "TIMESERIES_EXTENSIONS",
    "WINDOWS",
    "ArraySource",
    "FileSource",
    "ReadingNotes",
    "ScaledSource",
    "TimeSeriesSource",
    "align_phenotypes",
    "as_source",
    "bids_entities",
    "check_table_options",
    "crop",
    "cut_windows",
    "file_subject_ids",
    "list_timeseries_files",
    "match_subject_ids",
    "participant_ids",
    "read_csv_table",
    "read_phenotype_table",
    "read_timeseries_file",
    "window_starts",
]
