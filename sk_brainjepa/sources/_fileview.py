"""Find where an array lies in a file, and read parts of it with plain reads.

Lazy sources need two things from files on disk without loading them: the
shape and dtype of a ``.npy`` array (alone or inside an ``.npz`` archive),
read from its header, and the bytes of one window of a memory-mapped array
or ``.npy`` file. :class:`_FileView` describes such an array in a few
numbers, so it pickles small, and reads the bytes a window needs with a
plain file read, so pages read do not stay mapped in this process.
"""

from __future__ import annotations

import mmap
import operator
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _is_mapped(arr: np.ndarray) -> bool:
    """Whether ``arr`` is, or views, a memory-mapped file."""
    obj = arr
    while isinstance(obj, np.ndarray):
        if isinstance(obj, np.memmap):
            return True
        obj = obj.base
    return isinstance(obj, mmap.mmap)


@dataclass(frozen=True)
class _FileView:
    """Where an array (or a view of one) lies in a file, to read parts of it.

    :meth:`read` reads just the bytes a window needs with a plain file read.
    Reading through the user's long-lived ``np.memmap`` instead would keep
    every page ever touched mapped, so this process's resident memory would
    grow with the data read. The description is a few numbers, so a source
    crosses to a DataLoader worker without a pickled copy of the data.
    """

    filename: str
    file_offset: int  # byte offset in the file of the mapped array
    nbytes: int  # size of the mapped array in bytes
    view_offset: int  # bytes from the mapped array's start to the view's first item
    shape: tuple
    strides: tuple
    dtype: np.dtype

    @classmethod
    def of(cls, arr: np.ndarray) -> _FileView | None:
        """Describe ``arr``, or None if it does not view a file it can re-map."""
        top = arr
        while isinstance(top, np.ndarray) and not isinstance(top.base, mmap.mmap):
            top = top.base
        if (
            not isinstance(top, np.memmap)
            or top.filename is None
            # Copy-on-write changes live only in the user's mapping.
            or top.mode == "c"
        ):
            return None
        view_offset = (
            arr.__array_interface__["data"][0] - top.__array_interface__["data"][0]
        )
        return cls(
            filename=str(top.filename),
            file_offset=int(top.offset),
            nbytes=int(top.nbytes),
            view_offset=int(view_offset),
            shape=tuple(arr.shape),
            strides=tuple(arr.strides),
            dtype=arr.dtype,
        )

    @classmethod
    def of_npy(cls, path: Path, header_end: int, shape, fortran: bool, dtype):
        """Describe the array of a ``.npy`` file from its header."""
        dtype = np.dtype(dtype)
        strides, step = [], dtype.itemsize
        for n in shape if fortran else shape[::-1]:
            strides.append(step)
            step *= n
        strides = strides if fortran else strides[::-1]
        return cls(
            filename=str(path),
            file_offset=int(header_end),
            nbytes=int(np.prod(shape)) * dtype.itemsize,
            view_offset=0,
            shape=tuple(shape),
            strides=tuple(strides),
            dtype=dtype,
        )

    def transposed(self) -> _FileView:
        """The same data with the axes reversed (as ``arr.T``)."""
        return _FileView(
            self.filename,
            self.file_offset,
            self.nbytes,
            self.view_offset,
            self.shape[::-1],
            self.strides[::-1],
            self.dtype,
        )

    def read(self, key) -> np.ndarray:
        """``view[key]`` for basic indexing, read from the file into a new buffer.

        The bytes from the sub-view's first to its last item are read in one
        call (for a window of a row-major run, about the subject's rows).
        """
        if not isinstance(key, tuple) or len(key) != len(self.shape):
            raise TypeError(f"key must index every axis of the view; got {key!r}.")
        # The sub-view's layout: integers drop an axis, slices keep a range.
        first, shape, strides = self.view_offset, [], []
        for k, n, stride in zip(key, self.shape, self.strides, strict=True):
            if isinstance(k, slice):
                start, stop, step = k.indices(n)
                first += start * stride
                shape.append(len(range(start, stop, step)))
                strides.append(stride * step)
            else:
                first += operator.index(k) * stride
        if 0 in shape:
            return np.empty(shape, dtype=self.dtype)
        extents = list(zip(shape, strides, strict=True))
        lo = first + sum(min(0, (n - 1) * st) for n, st in extents)
        hi = first + sum(max(0, (n - 1) * st) for n, st in extents)
        buffer = np.empty(hi - lo + self.dtype.itemsize, dtype=np.uint8)
        with open(self.filename, "rb", buffering=0) as fh:
            fh.seek(self.file_offset + lo)
            view, done = memoryview(buffer), 0
            while done < len(buffer):
                got = fh.readinto(view[done:])
                if not got:
                    raise ValueError(
                        f"{self.filename} ends before the data its header or shape "
                        f"announces ({self.file_offset + lo + done} bytes read of "
                        f"{self.file_offset + hi + self.dtype.itemsize})."
                    )
                done += got
        return np.ndarray(
            tuple(shape),
            dtype=self.dtype,
            buffer=buffer,
            offset=first - lo,
            strides=tuple(strides),
        )

    def open(self) -> np.ndarray:
        """Map the file again (read-only) and rebuild the view on it."""
        flat = np.memmap(
            self.filename,
            dtype=np.uint8,
            mode="r",
            offset=self.file_offset,
            shape=(self.nbytes,),
        )
        return np.ndarray(
            self.shape,
            dtype=self.dtype,
            buffer=flat,
            offset=self.view_offset,
            strides=self.strides,
        )


def _npy_header(fh, where: str) -> tuple[tuple, bool, np.dtype]:
    """Shape, Fortran order and dtype from an open ``.npy`` stream, data unread."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fh)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(fh)
        raise ValueError(f"unsupported .npy format version {version}")
    except ValueError as exc:
        raise ValueError(f"File {where} is not a readable .npy array: {exc}") from exc


def _npz_header(path: Path, npz_key: str | None) -> tuple[tuple, np.dtype]:
    """Shape and dtype of the time series inside an ``.npz``, read from its header."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"File {path} is not a readable .npz archive: {exc}") from exc
    with archive:
        keys = [n[: -len(".npy")] for n in archive.namelist() if n.endswith(".npy")]
        if npz_key is not None:
            if npz_key not in keys:
                raise ValueError(
                    f"File {path} has no array named npz_key={npz_key!r}; it holds "
                    f"{keys}."
                )
            key = npz_key
        elif len(keys) == 1:
            key = keys[0]
        else:
            raise ValueError(
                f"File {path} holds {len(keys)} arrays {keys}; pass npz_key to say "
                "which one is the time series."
            )
        with archive.open(key + ".npy") as fh:
            shape, _, dtype = _npy_header(fh, f"{path}[{key}]")
    return shape, dtype
