"""Parameter texts shared by several docstrings, written once (nilearn's idea).

A docstring holds a placeholder ``%(name)s`` alone on a line, indented as the
parameter it stands for; :func:`fill_doc` replaces it at import with
``DOCDICT[name]``, every line of the text indented the same way::

    @fill_doc
    class Embedder:
        '''...

        Parameters
        ----------
        %(device)s
        '''

A placeholder without an entry raises at import, so a typo cannot ship a
docstring with ``%(`` left in it.
"""

from __future__ import annotations

import re

DOCDICT: dict[str, str] = {
    "device": """\
device : str, default="auto"
    ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.""",
    "gradients_official": """\
gradients : None, array-like or path, default=None
    Gradients of an official checkpoint.""",
    "layout_output_free": """\
layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
    How each subject's 2-D input array is ordered. The output does not
    depend on it.""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<name>\w+)\)s[ \t]*$", re.M)


def fill_docstring(doc: str | None) -> str | None:
    """``doc`` with every ``%(name)s`` line replaced by its indented text.

    Parameters
    ----------
    doc : str or None

    Returns
    -------
    filled : str or None
        None stays None (docstrings stripped by ``python -OO``).

    Raises
    ------
    KeyError
        For a placeholder that names no entry of ``DOCDICT``.
    ValueError
        For a ``%(`` left anywhere else than alone on its line.
    """
    if doc is None:
        return None

    def fill(match: re.Match) -> str:
        name = match["name"]
        if name not in DOCDICT:
            raise KeyError(
                f"docstring placeholder %({name})s has no entry; known: "
                f"{sorted(DOCDICT)}."
            )
        indent = match["indent"]
        return "\n".join(
            indent + line if line else line for line in DOCDICT[name].split("\n")
        )

    filled = _PLACEHOLDER.sub(fill, doc)
    if "%(" in filled:
        raise ValueError("docstring placeholders must stand alone on their line.")
    return filled


def fill_doc(obj):
    """Decorator: fill the ``%(name)s`` placeholders of ``obj``'s docstring.

    Parameters
    ----------
    obj : function or class

    Returns
    -------
    obj
        The same object, its ``__doc__`` filled.
    """
    obj.__doc__ = fill_docstring(obj.__doc__)
    return obj
