"""Package version (kept apart so that submodules can read it without import cycles)."""

__version__ = "0.1.0.dev0"
