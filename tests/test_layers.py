"""The layers README's layout table names, kept: no package imports a package above it, and no module
imports itself back through others, counting imports inside functions too (those once hid a circle)."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

LAYERS = ["core", "models", "data", "tuning", "inference", "ui"]  # lowest first; app.py sits on top


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports, anywhere in it (`from pkg import module` counts as the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def test_no_package_imports_a_package_above_it():
    modules = project_modules()
    upward = []
    for name, path in modules.items():
        layer = LAYERS.index(name.split(".")[0])
        for imported in imports_of(path, modules):
            if LAYERS.index(imported.split(".")[0]) > layer:
                upward.append(f"{name} imports {imported}")
    assert not upward, upward


def test_there_is_no_import_circle_between_modules():
    modules = project_modules()
    graph = {name: {imported for imported in imports_of(path, modules) if imported != name
                    and not name.startswith(imported + ".")}  # a module may use its own package's __init__
             for name, path in modules.items()}
    circles = []

    def visit(name: str, trail: list[str]) -> None:
        for imported in graph[name]:
            if imported in trail:
                circles.append(" -> ".join(trail[trail.index(imported):] + [imported]))
            elif imported not in done:
                visit(imported, trail + [imported])
        done.add(name)

    done: set[str] = set()
    for name in graph:
        if name not in done:
            visit(name, [name])
    assert not circles, circles


def test_every_module_says_what_it_is_for():
    undocumented = [name for name, path in project_modules().items()
                    if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))]
    assert not undocumented, undocumented
