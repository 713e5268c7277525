"""A source whose subjects are scaled, by any callable, as they are read.

The scalings themselves come from :mod:`sk_brainjepa.preprocessing`, each
scaler's ``to_window_transform()``; this wrapper knows only that a transform
keeps the shape and may need the whole run (``needs_full_run``). It is the
library's one way to transform windows as they are read.
"""

from __future__ import annotations

import numpy as np

from sk_brainjepa.sources._as_source import as_source
from sk_brainjepa.sources._base import TimeSeriesSource


class ScaledSource(TimeSeriesSource):
    """A source whose subjects are scaled as they are read.

    Wrap a cohort once and hand the result to ``fit``, ``transform``, the
    embedder or ``linear_probe``: every window the model sees (in training
    batches, in DataLoader workers, when embedding) is scaled on the fly, and
    the scaled cohort never exists in memory.

    Parameters
    ----------
    source : TimeSeriesSource or anything :func:`as_source` accepts
    transform : callable
        Maps a float32 array of shape (n_rois, n_frames) to one of the same
        shape, e.g. the ``to_window_transform()`` of
        :class:`~sk_brainjepa.preprocessing.SubjectRobustScaler`,
        :class:`~sk_brainjepa.preprocessing.SampleZScore` or a fitted
        :class:`~sk_brainjepa.preprocessing.ROIRobustScaler`. One with
        ``needs_full_run = True`` sees the whole run, then the window is cut
        from the result. Must be picklable to run in workers.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.preprocessing import SubjectRobustScaler
    >>> X = np.random.default_rng(0).normal(5.0, 2.0, (3, 4, 50))
    >>> scaled = ScaledSource(X, SubjectRobustScaler().to_window_transform())
    >>> bool(abs(np.median(scaled[0], axis=1)).max() < 1e-6)
    True
    """

    def __init__(self, source, transform):
        if not callable(transform):
            raise TypeError(f"transform must be callable; got {transform!r}.")
        self.source = as_source(source)
        self.transform = transform
        self.n_rois = self.source.n_rois
        self.lengths = self.source.lengths
        self.layout = self.source.layout
        self.in_memory = False  # scaled lazily, window by window

    @property
    def subject_ids(self):
        return getattr(self.source, "subject_ids", None)

    def subject_name(self, index: int) -> str:
        return self.source.subject_name(index)

    def window(self, index: int, start: int, length: int) -> np.ndarray:
        index = self._check_index(index)
        if not 0 <= int(start) < int(start) + int(length) <= self.lengths[index]:
            raise ValueError(
                f"Frames {start} to {int(start) + int(length)} are outside "
                f"{self.subject_name(index)}, which has {self.lengths[index]} frames."
            )
        if getattr(self.transform, "needs_full_run", False):
            raw, offset = self.source[index], int(start)
        else:
            raw, offset = self.source.window(index, start, length), 0
        try:
            out = self.transform(raw)
        except ValueError as exc:
            raise ValueError(
                f"{self.transform!r} failed on {self.subject_name(index)}: {exc}"
            ) from exc
        if out.shape != raw.shape:
            raise ValueError(
                f"transform returned shape {out.shape} for {self.subject_name(index)} "
                f"of shape {raw.shape}; it must keep the shape."
            )
        return np.ascontiguousarray(
            out[:, offset : offset + int(length)], dtype=np.float32
        )

    def __repr__(self) -> str:
        return f"ScaledSource({self.source!r}, {self.transform!r})"
