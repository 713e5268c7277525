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
import warnings

from sk_brainjepa._utils._deprecation import DEPRECATED, REMOVED_IN

_PARAM_LINE = re.compile(r"^(?P<names>[A-Za-z_][\w, ]*?)\s*:\s*(?P<kind>.*)$")
# The default a type line states (", default=..." to its end).
_DEFAULT = re.compile(r",?\s*default\s*=.*$")
# A renamed parameter's old name is documented ".. deprecated:: 0.2 Use ``new``".
_RENAMED_TO = re.compile(r"\.\. deprecated::.*?Use ``(?P<new>\w+)``")


class StoreGiven(argparse.Action):
    """argparse's ``store`` that also notes which options were typed.

    ``namespace.given_options`` maps each given option's destination to the
    option as typed, so a command can refuse an option that cannot apply to
    its input (``probe FEATURES.csv --source-encoder online``) even when its
    value equals the default.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        if option_string is not None:
            given = dict(getattr(namespace, "given_options", {}))
            given[self.dest] = option_string
            namespace.given_options = given


class _DeprecatedAlias(StoreGiven):
    """An option's name before a rename: warns, then stores as the new option."""

    def __init__(self, option_strings, dest, *, new_option, **kwargs):
        self.new_option = new_option
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        warnings.warn(
            f"{option_string} was renamed {self.new_option} and will be removed "
            f"in {REMOVED_IN}; use {self.new_option} instead.",
            FutureWarning,
            stacklevel=2,
        )
        super().__call__(parser, namespace, values, option_string)


def add_deprecated_alias(parser, old: str, new: argparse.Action) -> None:
    """Keep ``old`` working as the renamed option ``new`` for one release.

    The old flag stores into the new option's destination (with its type and
    choices), so the command sees one value whichever name was typed; it is
    hidden from ``--help`` and warns with a ``FutureWarning`` when given.

    Parameters
    ----------
    parser : argparse.ArgumentParser or argument group
        Where ``new`` was added.
    old : str
        The old flag, e.g. ``"--window"``.
    new : argparse.Action
        The action ``add_argument`` returned for the new flag.
    """
    parser.add_argument(
        old,
        dest=new.dest,
        action=_DeprecatedAlias,
        new_option=new.option_strings[0],
        type=new.type,
        choices=new.choices,
        metavar=new.metavar,
        # The new option's default applies; the alias only stores when typed.
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )


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
    estimator's default. A renamed parameter's old name (default
    ``"deprecated"``, documented ``.. deprecated:: ... Use ``new``...``)
    becomes a hidden alias of the new name's option (see
    :func:`add_deprecated_alias`); an old name without a documented new one
    gets a hidden option of its own, passed on for the estimator to warn
    about.

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
    added, actions, renames = [], {}, {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or name in skip or param.kind is param.VAR_KEYWORD:
            continue
        default = param.default
        renamed = _RENAMED_TO.search(docs.get(name, ""))
        if isinstance(default, str) and default == DEPRECATED and renamed:
            # An old name: an alias of its new option, added below.
            renames[name] = renamed.group("new")
            continue
        flag = "--" + name.replace("_", "-")
        help_text = textwrap.shorten(docs.get(name, ""), 400, placeholder=" ...")
        if "default=" not in help_text:
            help_text = f"{help_text} (default: {_shown_default(default)})"
        help_text = help_text.replace("%", "%%")
        if isinstance(default, str) and default == DEPRECATED:
            # An old name the estimator still takes (and warns about) for one
            # release: it works, but --help shows only the new name.
            help_text = argparse.SUPPRESS
        if isinstance(default, bool):
            actions[name] = group.add_argument(
                flag,
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            actions[name] = group.add_argument(
                flag,
                dest=name,
                type=parse_value,
                default=argparse.SUPPRESS,
                metavar=name.upper(),
                help=help_text,
            )
        added.append(name)
    # A new name in ``skip`` (the command sets it) takes its old name along.
    for old, new in renames.items():
        if new in actions:
            add_deprecated_alias(group, "--" + old.replace("_", "-"), actions[new])
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
