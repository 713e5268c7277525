"""Command-line options made from an estimator's signature and numpydoc docstring.

Every parameter of an estimator becomes an option (``max_epochs`` ->
``--max-epochs``) whose help is the docstring's description, so the command
line can never fall behind the Python API.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import textwrap

_PARAM_LINE = re.compile(r"^(?P<names>[A-Za-z_][\w, ]*?)\s*:\s*(?P<kind>.*)$")
# The default a type line states (", default=..." to its end).
_DEFAULT = re.compile(r",?\s*default\s*=.*$")


def parameter_docs(cls) -> dict[str, str]:
    """Map each parameter name to ``"<type line>. <description>"`` from the docstring.

    Parameters
    ----------
    cls : type
        A class with a numpydoc ``Parameters`` section.

    Returns
    -------
    docs : dict of str to str
        Lines such as ``"weight_decay, final_weight_decay : float"`` document
        each name they list.
    """
    doc = inspect.cleandoc(cls.__doc__ or "")
    match = re.search(r"^Parameters\n-+\n(.*?)(?:^\w[\w ]*\n-+\n|\Z)", doc, re.S | re.M)
    if not match:
        return {}
    docs: dict[str, str] = {}
    names: list[str] = []
    kind, lines = "", []

    def flush():
        text = " ".join(line.strip() for line in lines).strip()
        # "a, b : float, default=0.04, 0.4" gives each name one of the
        # defaults: dropped, so the option shows its own from the signature.
        shown = _DEFAULT.sub("", kind) if len(names) > 1 else kind
        for name in names:
            docs[name] = f"{shown}. {text}".strip(" .") if text else shown

    for line in match.group(1).splitlines():
        header = _PARAM_LINE.match(line) if not line.startswith(" ") else None
        if header:
            flush()
            names = [n.strip() for n in header.group("names").split(",")]
            kind, lines = header.group("kind").strip(), []
        elif names:
            lines.append(line)
    flush()
    return docs


def parse_value(text: str):
    """An option's value: JSON when it parses (numbers, true/false/null, lists,
    dicts), else the string itself (paths, names)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def add_estimator_options(
    parser: argparse.ArgumentParser, cls, *, skip=(), title=None
) -> list[str]:
    """Add one ``--option`` per ``__init__`` parameter of ``cls``.

    Booleans get ``--name/--no-name``; every other value is read by
    :func:`parse_value`, so ``--ema "[0.99, 1.0]"`` and
    ``--model-params '{"depth": 4}'`` work. Options not given keep the
    estimator's default.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    cls : type
        A scikit-learn estimator class.
    skip : iterable of str
        Parameters that the command sets itself.
    title : str or None
        Title of the option group.

    Returns
    -------
    names : list of str
        The parameters that were added (their ``dest`` is the parameter name).
    """
    docs = parameter_docs(cls)
    group = parser.add_argument_group(title or f"{cls.__name__} parameters")
    added = []
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or name in skip or param.kind is param.VAR_KEYWORD:
            continue
        flag = "--" + name.replace("_", "-")
        default = param.default
        help_text = textwrap.shorten(docs.get(name, ""), 400, placeholder=" ...")
        if "default=" not in help_text:
            help_text = f"{help_text} (default: {_shown_default(default)})"
        help_text = help_text.replace("%", "%%")
        if isinstance(default, bool):
            group.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            group.add_argument(
                flag,
                dest=name,
                type=parse_value,
                default=argparse.SUPPRESS,
                metavar=name.upper(),
                help=help_text,
            )
        added.append(name)
    return added


def _shown_default(value) -> str:
    """A default as it would be typed: JSON where it parses back (tuples as lists)."""
    try:
        return json.dumps(list(value) if isinstance(value, tuple) else value)
    except TypeError:
        return repr(value)


def collect(args: argparse.Namespace, names) -> dict:
    """The estimator parameters the user gave on the command line."""
    return {name: getattr(args, name) for name in names if hasattr(args, name)}
