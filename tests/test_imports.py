"""The package's import structure: lazy top level, no torch below the model."""

import subprocess
import sys

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
