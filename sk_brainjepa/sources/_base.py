"""The lazy view of a cohort that every source implements.

:class:`TimeSeriesSource` (made by :func:`~sk_brainjepa.sources.as_source`) is
a lazy, picklable view of the subjects: it knows every subject's shape
without reading data and returns one subject, or one window of it, as
float32 on demand, so it can be handed to DataLoader workers and cohorts
larger than memory can be streamed. :class:`~sk_brainjepa.sources.ArraySource`
holds arrays or memory maps, :class:`~sk_brainjepa.sources.FileSource`
per-subject files and :class:`~sk_brainjepa.sources.ScaledSource` scales
another source as it is read.
"""

from __future__ import annotations

import numpy as np

from sk_brainjepa._utils._reading import layout_hint, read_as
from sk_brainjepa._utils._validation import check_n_rois, check_real_dtype


def _check_real_dtype(dtype: np.dtype, where: str) -> None:
    if dtype.hasobject:
        raise ValueError(
            f"{where} stores Python objects (pickle), which are refused; save plain "
            "numeric arrays instead."
        )
    check_real_dtype(dtype, where)


class TimeSeriesSource:
    """Lazy view of a cohort: shapes up front, data one subject at a time.

    Build one with :func:`as_source`. Subjects are returned as float32 arrays
    of shape (n_rois, n_timepoints_i), read when asked for; whether their
    values are finite is checked then, on what was read. A source pickles
    without its data (memory-mapped arrays and files are opened again where
    it is unpickled), so it can be handed to DataLoader workers.

    Attributes
    ----------
    n_rois : int
    lengths : ndarray of shape (n_subjects,), int64
        Frames of each subject.
    in_memory : bool
        True when the data already sits in this process's memory (plain
        arrays, validated in full); False for memory-mapped arrays and files,
        which are read lazily.
    layout : {"rois_x_time", "time_x_rois"}
        How the given arrays or files were ordered before they were read as
        (n_rois, n_timepoints); named in the messages about shapes.
    """

    n_rois: int
    lengths: np.ndarray
    in_memory: bool
    # Arrays given straight to a source are (n_rois, n_timepoints); as_source
    # records the layout it read other data with.
    layout: str = "rois_x_time"

    # -- to implement
    def _read(self, index: int, frames: slice) -> np.ndarray:
        """Frames ``frames`` of subject ``index`` as stored (maybe a view)."""
        raise NotImplementedError

    def subject_name(self, index: int) -> str:
        """How messages name subject ``index``."""
        raise NotImplementedError

    # -- shared
    @property
    def n_subjects(self) -> int:
        return len(self.lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def _check_index(self, index) -> int:
        if isinstance(index, (bool, np.bool_)) or not isinstance(
            index, (int, np.integer)
        ):
            raise TypeError(f"Subject index must be an integer; got {index!r}.")
        if not 0 <= index < len(self.lengths):
            raise IndexError(
                f"Subject index {index} is out of range for {len(self.lengths)} "
                "subject(s)."
            )
        return int(index)

    def window(self, index: int, start: int, length: int) -> np.ndarray:
        """Frames ``start`` to ``start + length`` of one subject.

        Parameters
        ----------
        index : int
            Subject.
        start, length : int
            First frame and number of frames.

        Returns
        -------
        window : ndarray of shape (n_rois, length), float32
            A new C-ordered array (never a view of the stored data).

        Raises
        ------
        ValueError
            If the window leaves the run, or holds NaN or infinite values
            (the message names the subject).
        """
        index = self._check_index(index)
        start, stop = int(start), int(start) + int(length)
        if not 0 <= start < stop <= self.lengths[index]:
            raise ValueError(
                f"Frames {start} to {stop} are outside {self.subject_name(index)}, "
                f"which has {self.lengths[index]} frames."
            )
        try:
            raw = self._read(index, slice(start, stop))
            out = np.array(raw, dtype=np.float32, order="C")
        except OSError as exc:
            raise ValueError(
                f"Could not read {self.subject_name(index)}: {exc}"
            ) from exc
        if out.shape != (self.n_rois, stop - start):
            raise ValueError(
                f"{self.subject_name(index)} gave an array of shape {out.shape}; "
                f"expected {(self.n_rois, stop - start)}. Did its file change after "
                "the source was made?"
            )
        finite = np.isfinite(out)
        if not finite.all():
            n_bad = int(out.size - np.count_nonzero(finite))
            raise ValueError(
                f"{self.subject_name(index)} contains {n_bad} NaN or infinite "
                f"value(s) in frames {start} to {stop}; expected finite values. Impute "
                "or drop the affected ROIs/frames first."
            )
        return out

    def __getitem__(self, index) -> np.ndarray:
        """The whole run of one subject, float32 of shape (n_rois, n_timepoints_i)."""
        index = self._check_index(index)
        return self.window(index, 0, self.lengths[index])

    def __iter__(self):
        for index in range(len(self.lengths)):
            yield self[index]

    def check_n_rois(self, expected: int, owner: str) -> None:
        """Raise when the ROI count is not ``expected``, naming ``owner``.

        The frame counts and the layout go along, so the message says how the
        data was read and names data that looks transposed (see
        :func:`~sk_brainjepa._utils._validation.check_n_rois`).
        """
        check_n_rois(
            self.n_rois, expected, owner, n_timepoints=self.lengths, layout=self.layout
        )

    def check_lengths(self, n_timepoints: int) -> None:
        """Raise a ValueError naming the first subject shorter than ``n_timepoints``.

        The message says how the subjects were read, as (n_rois,
        n_timepoints) in ``layout``: a cohort given in the other orientation
        most often first shows as too few frames.
        """
        short = np.flatnonzero(self.lengths < n_timepoints)
        if short.size:
            i = int(short[0])
            name = self.subject_name(i)
            raise ValueError(
                f"{name[:1].upper()}{name[1:]} has {self.lengths[i]} time "
                f"points, fewer than the model window n_timepoints={n_timepoints}"
                f"{f' ({short.size} subjects are)' if short.size > 1 else ''}; "
                f"subjects were read as "
                f"{read_as(self.n_rois, self.lengths, self.layout)}. "
                f"{layout_hint(self.layout)} Otherwise pad or resample first, e.g. "
                f"TemporalResampler(n_timepoints={n_timepoints}, pad='edge'), or "
                "use a smaller n_timepoints."
            )

    def __repr__(self) -> str:
        kind = "in memory" if self.in_memory else "lazy"
        return (
            f"{type(self).__name__}({len(self)} subjects, {self.n_rois} ROIs, "
            f"{self.lengths.min()}-{self.lengths.max()} frames, {kind})"
        )
