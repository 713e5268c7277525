"""Error messages in the command line's terms: options, not Python arguments.

The library's messages name the parameter a Python caller can change
(``pass npz_key``, ``confounds_strategy=None``, ``The 'batch_size' parameter
of BrainJEPAEmbedder``). A command-line user changes an option instead, so
:func:`as_options` rewrites those names into the options of the command that
failed (``pass --npz-key``, ``--confounds none``, ``--batch-size``).
"""

from __future__ import annotations

import argparse
import re

# Python arguments whose option has another name.
_ALIASES = {
    "confounds_strategy": "confounds",
    "strategy": "confounds",
    "subject_id_column": "id_column",
}

# A value as the library writes it after ``name=``: quoted, a tuple or list,
# or a bare word or number.
_VALUE = r"""('[^']*'|"[^"]*"|\([^)]*\)|\[[^\]]*\]|[^\s,;)]+)"""

_WORDS = {"None": "none", "True": "yes", "False": "no"}


def option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each optional argument's destination -> its long option (``--npz-key``).

    The first option of a destination wins: a renamed option's old name,
    added after it as a hidden alias, is not what messages should suggest.
    """
    names = {}
    for action in parser._actions:
        long = [s for s in action.option_strings if s.startswith("--")]
        if long and action.dest != "help":
            names.setdefault(action.dest, long[0])
    return names


def _value(text: str) -> str:
    """A Python value as it is typed after an option."""
    text = text.strip()
    if text[:1] in "'\"" and text[-1:] == text[:1]:
        return text[1:-1]
    if text[:1] in "([" and text[-1:] in ")]":
        return ",".join(_value(part) for part in text[1:-1].split(",") if part.strip())
    return _WORDS.get(text, text)


def as_options(message: str, options: dict[str, str]) -> str:
    """``message`` with the Python names of ``options`` written as the options.

    Parameters
    ----------
    message : str
        An error message of the library.
    options : dict of str to str
        Parameter name -> option, from :func:`option_names`.

    Returns
    -------
    message : str
    """
    names = {**{p: options[d] for p, d in _ALIASES.items() if d in options}, **options}
    # Longest first, so that final_lr is rewritten before lr could be.
    for name in sorted(names, key=len, reverse=True):
        option = names[name]
        message = re.sub(rf"[Tt]he '{name}' parameter of \w+", f"{option}", message)
        message = re.sub(
            rf"(?<![\w-]){name}={_VALUE}",
            lambda m, option=option: f"{option} {_value(m.group(1))}",
            message,
        )
        # "needs sites=, the site of ...": the parameter without a value.
        message = re.sub(rf"(?<![\w-]){name}=(?=[\s,;)]|$)", option, message)
        message = re.sub(
            rf"\b([Pp]ass|[Ss]et|[Gg]ive) {name}\b", rf"\1 {option}", message
        )
    return message
