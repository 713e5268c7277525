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


# Each package's __init__ is its only door: another package imports what it
# exports there, never one of its private modules. ``_utils`` is the shared
# private toolbox of every package and is exempt.
SHARED_PRIVATE = ("_utils",)


LIBRARY = Path(sk_brainjepa.__file__).parent


def _library_files(root: Path = LIBRARY):
    for path in sorted(root.rglob("*.py")):
        yield root, path, path.relative_to(root).parts[0].removesuffix(".py")


def _module_name(root: Path, path: Path) -> str:
    parts = ["sk_brainjepa", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (never imported at run time)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _imports(root: Path, path: Path):
    """(line, module, names) of every import in a file, relative ones resolved.

    Function-level imports count too: deferring an import into a function
    hides a dependency without removing it.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = _module_name(root, path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield node.lineno, module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []


def test_no_package_reaches_into_another_packages_private_modules():
    reaching = _private_reaches(LIBRARY)
    assert not reaching, "\n".join(reaching)


def _private_reaches(library: Path) -> list[str]:
    """Imports of another package's private module or name, one line each."""
    reaching = []
    for root, path, own in _library_files(library):
        for line, module, names in _imports(root, path):
            parts = module.split(".")
            if parts[0] != "sk_brainjepa" or len(parts) < 2:
                continue
            target = parts[1]
            if target == own or target in SHARED_PRIVATE:
                continue
            private = [p for p in parts[2:] if p.startswith("_")]
            private += [n for n in names if n.startswith("_") and not n.endswith("__")]
            if private:
                reaching.append(
                    f"{path.relative_to(root)}:{line} imports {module} "
                    f"({', '.join(private)}) from outside {target}"
                )
    return reaching


def _deprecation_hook(node, tree, package: str) -> bool:
    """Whether ``node`` is a subpackage's deprecation ``__getattr__``.

    The one form allowed: ``def __getattr__(name): return f(__name__, name)``
    where ``f`` comes from the package's own ``_deprecated`` module, which
    hands out the package's former names with a FutureWarning (nothing from
    another package, so the layer check misses nothing).
    """
    if not isinstance(node, ast.FunctionDef) or len(node.body) != 1:
        return False
    statement = node.body[0]
    if not (
        isinstance(statement, ast.Return)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
    ):
        return False
    helper = statement.value.func.id
    own = f"sk_brainjepa.{package}._deprecated"
    return any(
        isinstance(n, ast.ImportFrom)
        and n.module == own
        and any(alias.name == helper for alias in n.names)
        for n in tree.body
    )


def test_no_package_reexports_names_as_strings():
    """Only the top-level package resolves names lazily from strings.

    A subpackage mapping names to another package's import string (a PEP 562
    ``__getattr__``) hides that dependency from the layer check above. A
    deprecation hook that returns the package's own former names is allowed
    (see ``_deprecation_hook``).
    """
    found = _string_reexports(LIBRARY)
    assert not found, "\n".join(found)


def _string_reexports(root: Path) -> list[str]:
    """Subpackage ``__init__`` files that resolve names from import strings."""
    found = []
    for init in sorted(root.glob("*/__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        where = init.relative_to(root)
        for node in tree.body:
            targets = []
            if isinstance(node, ast.Assign):
                targets = [ast.unparse(t) for t in node.targets]
            elif isinstance(node, ast.FunctionDef):
                targets = [node.name]
            if any("__getattr__" in t for t in targets) and not _deprecation_hook(
                node, tree, init.parent.name
            ):
                found.append(f"{where}:{node.lineno} defines a module __getattr__")
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                strings = [
                    v.value
                    for v in node.values
                    if isinstance(v, ast.Constant) and isinstance(v.value, str)
                ]
                if any(s.startswith("sk_brainjepa") for s in strings):
                    found.append(f"{where}:{node.lineno} maps names to import strings")
    return found


def _package_graph(library: Path = LIBRARY) -> dict[str, set[str]]:
    """module -> the modules of its own package that it imports."""
    graph = {}
    files = list(_library_files(library))
    modules = {_module_name(root, path) for root, path, _ in files}
    for root, path, _ in files:
        name = _module_name(root, path)
        if path.name == "__init__.py":
            continue  # a package's door imports its modules, never the reverse
        package = name.rpartition(".")[0]
        edges = set()
        for _, module, names in _imports(root, path):
            for target in [module, *(f"{module}.{n}" for n in names)]:
                if (
                    target in modules
                    and target != name
                    and target.rpartition(".")[0] == package
                ):
                    edges.add(target)
        graph[name] = edges
    return graph


def test_no_import_cycle_between_modules_of_a_package():
    cycles = _cycles(LIBRARY)
    assert not cycles, "\n".join(cycles)


def _cycles(library: Path) -> list[str]:
    """Import cycles between the modules of one package, as ``a -> b -> a``."""
    graph = _package_graph(library)
    state, stack, cycles = {}, [], []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_the_checks_catch_planted_violations(tmp_path):
    """Each check fails on a small tree that breaks its rule (and passes without)."""
    library = tmp_path / "sk_brainjepa"
    files = {
        "alpha/__init__.py": "from sk_brainjepa.alpha._one import f\n",
        # A private module of another package, and a two-module cycle.
        "alpha/_one.py": "from sk_brainjepa.beta._hidden import g\n"
        "from sk_brainjepa.alpha._two import h\n",
        "alpha/_two.py": "def h():\n    from sk_brainjepa.alpha._one import f\n",
        # Names resolved from import strings in a package's door.
        "beta/__init__.py": "_LAZY = {'g': 'sk_brainjepa.beta._hidden'}\n"
        "def __getattr__(name):\n    return _LAZY[name]\n",
        "beta/_hidden.py": "def g():\n    pass\n",
    }
    for name, text in files.items():
        (library / name).parent.mkdir(parents=True, exist_ok=True)
        (library / name).write_text(text, encoding="utf-8")
    assert _private_reaches(library) == [
        "alpha/_one.py:1 imports sk_brainjepa.beta._hidden (_hidden) from outside beta"
    ]
    assert len(_string_reexports(library)) == 2  # the __getattr__ and the dict
    assert _cycles(library) == [
        "sk_brainjepa.alpha._one -> sk_brainjepa.alpha._two -> sk_brainjepa.alpha._one"
    ]
    # The same tree without the violations passes every check.
    (library / "alpha/_one.py").write_text("def f():\n    pass\n", encoding="utf-8")
    (library / "beta/__init__.py").write_text(
        "from sk_brainjepa.beta._hidden import g\n", encoding="utf-8"
    )
    assert not _private_reaches(library)
    assert not _string_reexports(library)
    assert not _cycles(library)
