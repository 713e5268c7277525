"""Subjects held in arrays: a 3-D array, an ``np.memmap`` or a list of 2-D arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sk_brainjepa._utils._reading import layout_hint
from sk_brainjepa._utils._validation import SUBJECT_CONTRACT, check_ndim
from sk_brainjepa.sources._base import TimeSeriesSource, _check_real_dtype
from sk_brainjepa.sources._fileview import _FileView, _is_mapped

_STACK_OR_LIST = (
    "a 3-D array of shape (n_subjects, n_rois, n_timepoints) or a list of 2-D arrays"
)


class ArraySource(TimeSeriesSource):
    """Subjects held in a 3-D array (or ``np.memmap``) or a list of 2-D arrays.

    The arrays are kept, never copied. Memory-mapped ones are read with plain
    file reads of the bytes a window needs, so pages read do not pile up in
    this process's memory, and they pickle as their file location.

    Parameters
    ----------
    X : ndarray of shape (n_subjects, n_rois, n_timepoints) or list of ndarray
        A list holds arrays of shape (n_rois, n_timepoints_i).
    name : str, default="X"
        Name used in messages (``X[3]``).
    in_memory : bool or None, default=None
        None decides from the data: True unless an array is memory-mapped.
        Values are checked for NaN only when read; validate plain arrays
        beforehand (:func:`as_source` does).
    """

    def __init__(self, X, *, name: str = "X", in_memory: bool | None = None):
        self.name = name
        if isinstance(X, np.ndarray):
            check_ndim(X, name, 3, _STACK_OR_LIST, say_ndim=True)
            _check_real_dtype(X.dtype, name)
            self._stack, self._subjects = X, None
            self.n_rois = int(X.shape[1])
            self.lengths = np.full(X.shape[0], X.shape[2], dtype=np.int64)
            self._views = [_FileView.of(X)] if _is_mapped(X) else [None]
            mapped = _is_mapped(X)
        elif isinstance(X, Sequence) and not isinstance(X, (str, bytes)):
            if len(X) == 0:
                raise ValueError(f"{name} is an empty list; expected 2-D arrays.")
            subjects = [x if isinstance(x, np.ndarray) else np.asarray(x) for x in X]
            for i, x in enumerate(subjects):
                where = f"{name}[{i}]"
                check_ndim(x, where, 2, SUBJECT_CONTRACT)
                _check_real_dtype(x.dtype, where)
                if x.shape[0] != subjects[0].shape[0]:
                    raise ValueError(
                        f"{where} has {x.shape[0]} ROIs but {name}[0] has "
                        f"{subjects[0].shape[0]}; all subjects need the same ROIs "
                        f"(read as (n_rois, n_timepoints): shapes {x.shape} and "
                        f"{subjects[0].shape}). {layout_hint()}"
                    )
            self._stack, self._subjects = None, subjects
            self.n_rois = int(subjects[0].shape[0])
            self.lengths = np.array([x.shape[1] for x in subjects], dtype=np.int64)
            self._views = [_FileView.of(x) if _is_mapped(x) else None for x in subjects]
            mapped = any(_is_mapped(x) for x in subjects)
        else:
            raise TypeError(
                f"{name} must be a 3-D ndarray or a list of 2-D arrays; got "
                f"{type(X).__name__}."
            )
        self.in_memory = (not mapped) if in_memory is None else bool(in_memory)

    def subject_name(self, index: int) -> str:
        return f"{self.name}[{index}]"

    def _read(self, index: int, frames: slice) -> np.ndarray:
        if self._subjects is None:
            view = self._views[0]
            if view is not None:
                return view.read((index, slice(None), frames))
            return self._stack[index, :, frames]
        view = self._views[index]
        if view is not None:
            return view.read((slice(None), frames))
        return self._subjects[index][:, frames]

    @property
    def data(self):
        """The wrapped 3-D array or list (re-mapped from file after unpickling)."""
        if self._subjects is None:
            return self._stack if self._stack is not None else self._views[0].open()
        return [
            x if x is not None else v.open()
            for x, v in zip(self._subjects, self._views, strict=True)
        ]

    def __getstate__(self):
        state = dict(self.__dict__)
        # Mapped arrays travel as their file location, not as a copy of the data.
        if self._subjects is None:
            if self._views[0] is not None:
                state["_stack"] = None
        else:
            state["_subjects"] = [
                None if v is not None else x
                for x, v in zip(self._subjects, self._views, strict=True)
            ]
        return state
