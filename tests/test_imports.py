"""The package's import structure: lazy top level, no torch below the model."""

import ast
import subprocess
import sys
from pathlib import Path

import sk_brainjepa


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_preprocessing_and_gradients_import_without_torch():
    for package in ("sk_brainjepa.preprocessing", "sk_brainjepa.gradients"):
        loaded = _modules_after(f"import {package}")
        assert "torch" not in loaded, package
        assert "skorch" not in loaded, package


def test_sources_and_datasets_import_without_torch():
    for package in ("sk_brainjepa.sources", "sk_brainjepa.datasets"):
        code = f"import sys, {package}; print('torch' in sys.modules)"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "False", package


def test_top_level_names_resolve_lazily():
    loaded = _modules_after("import sk_brainjepa")
    assert "torch" not in loaded
    for name in sk_brainjepa.__all__:
        assert getattr(sk_brainjepa, name) is not None, name
    assert set(sk_brainjepa.__all__) <= set(dir(sk_brainjepa))


def test_unknown_top_level_name_is_an_attribute_error():
    try:
        sk_brainjepa.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("no AttributeError")


# Each subpackage may import only from those before it: data flows up from
# time-series sources to the command line, never back down.
LAYERS = (
    "_utils",
    "sources",
    "datasets",
    "preprocessing",
    "imaging",
    "gradients",
    "masking",
    "nn",
    "training",
    "estimators",
    "model_selection",
    "baselines",
    "inspection",
    "plotting",
    "cli",
)


def _imported_subpackages(path: Path):
    """(line, subpackage) of every ``sk_brainjepa.<sub>`` import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "sk_brainjepa" and len(parts) > 1:
                yield node.lineno, parts[1]


def test_imports_never_climb_the_layers():
    root = Path(sk_brainjepa.__file__).parent
    rank = {name: i for i, name in enumerate(LAYERS)}
    rank["_version"] = 0
    subpackages = {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    assert subpackages <= set(LAYERS), subpackages - set(LAYERS)
    climbing = []
    for path in sorted(root.rglob("*.py")):
        own = path.relative_to(root).parts[0].removesuffix(".py")
        if own not in rank:  # the lazy top-level __init__ and __main__
            continue
        for line, target in _imported_subpackages(path):
            if rank.get(target, -1) > rank[own]:
                climbing.append(f"{path.relative_to(root)}:{line} imports {target}")
    assert not climbing, "\n".join(climbing)
