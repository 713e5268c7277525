"""``docs/api.md`` lists exactly the names of every public ``__all__``."""

import importlib
import pkgutil
import re
from pathlib import Path

import sk_brainjepa

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _public_packages() -> list[str]:
    return ["sk_brainjepa"] + [
        f"sk_brainjepa.{info.name}"
        for info in pkgutil.iter_modules(sk_brainjepa.__path__)
        if info.ispkg and not info.name.startswith("_")
    ]


def _documented() -> dict[str, set[str]]:
    """Package -> the names in its table on the API page."""
    sections, current = {}, None
    for line in API_PAGE.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## `([\w.]+)`", line.strip())
        if heading:
            current = sections.setdefault(heading.group(1), set())
            continue
        if line.startswith("## "):  # a section that is no package's table
            current = None
            continue
        row = re.match(r"\| `(\w+)` \|", line)
        if row and current is not None:
            current.add(row.group(1))
    return sections


def test_api_page_lists_every_public_name_and_nothing_else():
    documented = _documented()
    packages = _public_packages()
    assert sorted(documented) == sorted(packages)
    differences = []
    for package in packages:
        exported = set(importlib.import_module(package).__all__)
        missing = sorted(exported - documented[package])
        extra = sorted(documented[package] - exported)
        if missing or extra:
            differences.append(f"{package}: missing {missing}, not exported {extra}")
    assert not differences, "\n".join(differences)


def test_api_page_gives_each_name_a_summary():
    rows = re.findall(
        r"^\| `\w+` \| *(.*?) *\|$", API_PAGE.read_text(encoding="utf-8"), re.M
    )
    assert rows and all(rows), "a name without its one-line summary"
