"""Parameters renamed in 0.2, on the estimators that keep their old names for a release.

:class:`RenamedParamsMixin` gives the embedder and the fine-tuners what every
such estimator needs: objects pickled before the rename come back under the
new names, the deprecated ``n_timepoints_`` attribute still reads
``window_length_``, and :meth:`~RenamedParamsMixin._renamed_value` reads a
parameter the way :func:`~sk_brainjepa._utils._deprecation.renamed_param`
does, with the default taken from whichever ``__init__`` declares it (the
fine-tuners' own ``__init__`` only forwards ``**kwargs``).
"""

from __future__ import annotations

import inspect
import warnings

from sk_brainjepa._utils._deprecation import (
    DEPRECATED,
    REMOVED_IN,
    renamed_param,
    translate_renamed,
)

__all__ = ["RenamedParamsMixin"]


class RenamedParamsMixin:
    """Old parameter names kept for one release (see ``_utils._deprecation``).

    A subclass sets ``_renames``, old name -> new name; it must come before
    the class whose ``__setstate__`` restores the object (scikit-learn's or
    skorch's) in the bases.
    """

    _renames: dict[str, str] = {}

    def __setstate__(self, state):
        """Unpickle, moving the names of objects pickled before 0.2 to the new ones.

        Such an object holds the old names as set values (the old defaults
        included) and ``n_timepoints_``; read as they are, every call would
        warn and the new names would be missing.
        """
        if any(new not in state for new in self._renames.values()):
            state = translate_renamed(state, self._renames)
            state.update(dict.fromkeys(self._renames, DEPRECATED))
            if "n_timepoints_" in state:
                state["window_length_"] = state.pop("n_timepoints_")
        super().__setstate__(state)

    @property
    def n_timepoints_(self) -> int:
        """The model window in frames.

        .. deprecated:: 0.2
           Use ``window_length_``; removed in 0.3.
        """
        warnings.warn(
            f"{type(self).__name__}.n_timepoints_ was renamed window_length_ and "
            f"will be removed in {REMOVED_IN}; read window_length_ instead.",
            FutureWarning,
            stacklevel=2,
        )
        return self.window_length_

    def _renamed_value(self, old: str, new: str, *, stacklevel: int = 4):
        """The value of ``new``, or of ``old`` when a caller still sets it.

        Parameters
        ----------
        old, new : str
            A pair of ``_renames``.
        stacklevel : int, default=4
            Of the ``FutureWarning``: 4 names the line that called the method
            (``fit``, ``transform``) that calls this one.
        """
        return renamed_param(
            self, old, new, init=self._declaring_init(new), stacklevel=stacklevel
        )

    def _renamed_params(self) -> dict:
        """Every renamed parameter under its new name, old names resolved.

        For code that reads them outside the class (``resolve_model``, the
        attention maps, ``linear_probe``): a caller still passing an old name
        gets its value (with the ``FutureWarning``), so numbers do not change.

        Returns
        -------
        values : dict
            New name -> value.

        Raises
        ------
        ValueError
            When an old and its new name were both given different values.
        """
        return {
            new: self._renamed_value(old, new, stacklevel=5)
            for old, new in self._renames.items()
        }

    @classmethod
    def _declaring_init(cls, name: str):
        """The first ``__init__`` in the MRO that declares parameter ``name``."""
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is not None and name in inspect.signature(init).parameters:
                return init
        raise AttributeError(f"no __init__ of {cls.__name__} declares {name!r}")
