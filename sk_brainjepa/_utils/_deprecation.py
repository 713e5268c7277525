"""Renamed estimator parameters, kept for one release with a ``FutureWarning``.

scikit-learn's way: the old parameter stays in ``__init__`` with the default
``"deprecated"`` (so ``get_params``, ``clone`` and grids still see it), the
new one carries the real default, and the estimator reads the value through
:func:`renamed_param`, which warns when the old name was set. Saved models
record their parameters by name; :func:`translate_renamed` maps the old names
of files written before a rename onto the new ones, silently, because the user
did nothing wrong by loading an old file.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings

__all__ = [
    "DEPRECATED",
    "REMOVED_IN",
    "former_attribute",
    "renamed_keywords",
    "renamed_param",
    "translate_renamed",
]

#: Default of a renamed parameter's old name: "not given".
DEPRECATED = "deprecated"

#: Release in which the old names go.
REMOVED_IN = "0.3"


def _is_unset(value) -> bool:
    return isinstance(value, str) and value == DEPRECATED


def renamed_param(est, old: str, new: str, *, init=None, stacklevel: int = 3):
    """The value of parameter ``new``, or of ``old`` when a caller still sets it.

    Parameters
    ----------
    est : estimator
        Has both attributes; ``old`` defaults to :data:`DEPRECATED`.
    old, new : str
        The parameter's old and new names.
    init : callable or None, default=None
        The ``__init__`` that declares ``new`` with its default; None reads
        ``type(est).__init__``.
    stacklevel : int, default=3
        Of the warning: 3 points at the caller of the method that calls this
        function; add one per function in between, so that the warning names
        the user's line.

    Returns
    -------
    value : object
        ``getattr(est, old)`` when it was set (with a ``FutureWarning``),
        else ``getattr(est, new)``.

    Raises
    ------
    ValueError
        When both names were given different values.
    """
    old_value = getattr(est, old)
    new_value = getattr(est, new)
    if _is_unset(old_value):
        return new_value
    init = type(est).__init__ if init is None else init
    default = inspect.signature(init).parameters[new].default
    if new_value != default and new_value != old_value:
        raise ValueError(
            f"{type(est).__name__}: {old}={old_value!r} and {new}={new_value!r} "
            f"were both given; {old!r} is the old name of {new!r}. Pass only "
            f"{new}."
        )
    warnings.warn(
        f"{type(est).__name__}: the parameter {old!r} was renamed {new!r} and "
        f"will be removed in {REMOVED_IN}; pass {new}={old_value!r} instead.",
        FutureWarning,
        stacklevel=stacklevel,
    )
    return old_value


def translate_renamed(params: dict, renames: dict[str, str]) -> dict:
    """Parameters read from a file, with renamed ones under their new names.

    Parameters
    ----------
    params : dict
        Parameter values by name, as a saved model recorded them.
    renames : dict of str to str
        Old name -> new name.

    Returns
    -------
    params : dict
        A copy where a set old name (not :data:`DEPRECATED`) moves to its new
        name and the old name is dropped (the estimator's default,
        ``"deprecated"``, then applies).
    """
    params = dict(params)
    for old, new in renames.items():
        if old not in params:
            continue
        value = params.pop(old)
        if not _is_unset(value):
            params[new] = value
    return params


def renamed_keywords(renames: dict[str, str]):
    """Decorator: a function's renamed keywords still accepted for one release.

    Parameters
    ----------
    renames : dict of str to str
        Old keyword -> new keyword of the decorated function.

    Returns
    -------
    decorate : callable
        Wraps the function so that an old keyword is passed on under its new
        name, with a ``FutureWarning`` naming the caller's line; an old and
        its new keyword both given raise ``TypeError``, as Python does for a
        keyword given twice.
    """

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(
                        f"{func.__name__}() got {old}= and {new}=; {old!r} is the "
                        f"old name of {new!r}. Pass only {new}."
                    )
                warnings.warn(
                    f"{func.__name__}(): the keyword {old!r} was renamed {new!r} "
                    f"and will be removed in {REMOVED_IN}; pass {new}= instead.",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate


def former_attribute(module_name: str, name: str, former: dict, *, package: str):
    """What a former public name of ``package`` stands for, with a FutureWarning.

    The one lookup behind each subpackage's deprecation ``__getattr__``
    (PEP 562), so that ``from package import OldName`` and pickles that
    recorded the old name keep working for one release.

    Parameters
    ----------
    module_name : str
        The module whose attribute lookup failed.
    name : str
        The attribute looked up.
    former : dict
        Former name -> ``(target, replacement)``: ``target`` is the object,
        or the name of the attribute of ``module_name`` that holds it now
        (read at lookup, so that nothing is imported and no cycle arises);
        ``replacement`` is the spelling the warning recommends.
    package : str
        The public package named in the warning.

    Returns
    -------
    obj : object

    Raises
    ------
    AttributeError
        If ``name`` is no former name.
    """
    if name not in former:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    target, replacement = former[name]
    # stacklevel 4: this function, the package's helper, its __getattr__, the user.
    warnings.warn(
        f"{package}.{name} is deprecated and will be removed in {REMOVED_IN}; "
        f"use {replacement}.",
        FutureWarning,
        stacklevel=4,
    )
    if isinstance(target, str):
        return getattr(sys.modules[module_name], target)
    return target
