"""``sk-brainjepa``: gradients, pretraining, embedding and probing from the shell.

:func:`main` parses the command line, sets up logging and runs the command;
an error of the user's making ends it with one line and exit status 2.
The parser is in :mod:`._parser`, the commands in :mod:`._commands` and the
files they read and write in :mod:`._inputs`.
"""

from __future__ import annotations

import logging
import sys

from sk_brainjepa.cli._inputs import CommandError, is_main_rank
from sk_brainjepa.cli._parser import build_parser
from sk_brainjepa.cli._wording import as_options

__all__ = ["build_parser", "main"]

# What a user's files and paths raise when they are missing, folders, not
# readable or not text: reported as one line. Anything else is a bug and keeps
# its traceback.
_USER_OS_ERRORS = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    UnicodeDecodeError,
)


def _user_error_message(exc: BaseException) -> str:
    """One line for an error about a user's file."""
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"a file is not text in a known encoding ({exc.reason} at byte "
            f"{exc.start}); check that each option names the right file."
        )
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


def main(argv=None) -> int:
    """Run ``sk-brainjepa``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet or not is_main_rank() else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    # Warnings (e.g. an ambiguous probe task) as log lines, not source lines;
    # restored after, for callers that run main() in their own process.
    logging.captureWarnings(True)
    try:
        args.handler(args)
    except CommandError as exc:
        message = str(exc)
    except _USER_OS_ERRORS as exc:
        message = _user_error_message(exc)
    else:
        return 0
    finally:
        logging.captureWarnings(False)
    # One line: a message spread over lines would read as several errors;
    # in options, not the Python arguments the library's messages name.
    message = as_options(" ".join(message.split()), getattr(args, "option_names", {}))
    print(f"sk-brainjepa {args.command}: error: {message}", file=sys.stderr)
    return 2
