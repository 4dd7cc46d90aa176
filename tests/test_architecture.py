"""Imports only go down: adapters (clinic, cli) on top, then monitoring/analytics/interop, then the ground floor."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "alliance"
FLOOR = {
    "instruments": 0, "change": 0, "transcripts": 0,
    "monitoring": 1, "analytics": 1, "interop": 1,
    "clinic": 2, "cli": 2,
}  # fmt: skip
FORBIDDEN_IN_PURE = ("django", "ninja", "typer", "rich", "click")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def package_of(path: Path) -> str | None:
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else None


PURE_FILES = [p for p in SRC.rglob("*.py") if FLOOR.get(package_of(p) or "", 2) < 2]


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_pure_packages_import_no_framework_and_nothing_above_them(path: Path) -> None:
    own = FLOOR[package_of(path) or ""]
    for name in imported_modules(path):
        top = name.split(".")[0]
        assert top not in FORBIDDEN_IN_PURE, f"{path.relative_to(SRC)} imports {name}"
        if top == "alliance" and "." in name:
            target = name.split(".")[1]
            if target in FLOOR:
                assert FLOOR[target] <= own, f"{path.relative_to(SRC)} imports {name} from a higher floor"


def test_the_walk_sees_the_pure_packages() -> None:
    assert {package_of(p) for p in PURE_FILES} >= {"instruments", "change", "interop"}


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import django\nfrom alliance.clinic import models\n")
    assert imported_modules(bad) == ["django", "alliance.clinic"]
