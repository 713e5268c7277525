"""Time series at the bottom: lazy sources of a cohort, and which frames a model sees.

- :func:`as_source` makes a :class:`TimeSeriesSource` from arrays, memory
  maps, a folder or a list of per-subject ``.npy``/``.npz``/``.csv``/``.tsv``
  files (:class:`ArraySource`, :class:`FileSource`); it knows every
  subject's shape up front and reads one subject, or one window, at a time.
- :class:`ScaledSource` wraps a source with a transform applied as windows
  are read (the transforms are in :mod:`sk_brainjepa.preprocessing`).
- :func:`window_starts`, :func:`crop` and :func:`cut_windows` are the one
  rule for where a model's windows start in a longer run.

Numpy and pandas only: no torch, no estimators.
"""

from sk_brainjepa.sources._arrays import ArraySource
from sk_brainjepa.sources._as_source import as_source
from sk_brainjepa.sources._base import TimeSeriesSource
from sk_brainjepa.sources._files import FileSource
from sk_brainjepa.sources._scaled import ScaledSource
from sk_brainjepa.sources._windows import WINDOWS, crop, cut_windows, window_starts

__all__ = [
    "WINDOWS",
    "ArraySource",
    "FileSource",
    "ScaledSource",
    "TimeSeriesSource",
    "as_source",
    "crop",
    "cut_windows",
    "window_starts",
]
