"""Names a package imports on first use (PEP 562), for light package imports."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_attributes(
    package: str, exports: Mapping[str, str], namespace: dict
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` that import names on first use.

    Parameters
    ----------
    package : str
        The package's name, for the ``AttributeError`` message.
    exports : mapping of str to str
        Public name -> the module (full dotted name) that defines it.
    namespace : dict
        The package's ``globals()``: an imported name is stored there, so
        later lookups skip ``__getattr__``.

    Returns
    -------
    __getattr__, __dir__ : callable
        To assign to the package's module-level names of the same names.
    """

    def __getattr__(name: str):
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(
                f"module {package!r} has no attribute {name!r}"
            ) from None
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *exports])

    return __getattr__, __dir__
