"""The ``sk-brainjepa`` command line (``python -m sk_brainjepa`` runs it too)."""

from sk_brainjepa.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
