"""The simulators referee our clients, so they share no code with them (or with the app)."""

from __future__ import annotations

import ast
from pathlib import Path

import cryptotrack.simulators

SIMULATORS = Path(cryptotrack.simulators.__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_simulators_import_nothing_of_cryptotrack_but_the_simulators() -> None:
    offenders = {
        f"{path.relative_to(SIMULATORS)}: {module}"
        for path in SIMULATORS.rglob("*.py")
        for module in _imported_modules(path)
        if module.startswith("cryptotrack") and not module.startswith("cryptotrack.simulators")
    }
    assert offenders == set()
