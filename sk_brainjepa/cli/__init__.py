"""The ``sk-brainjepa`` command line (``python -m sk_brainjepa`` runs it too)."""

from sk_brainjepa.cli._main import main
from sk_brainjepa.cli._parser import build_parser

__all__ = ["build_parser", "main"]
