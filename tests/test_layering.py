"""The package layout is the architecture: each layer imports only the layers below it, and no
module imports itself back through others. Read from the source (every import, including those
inside functions), so a lazy import cannot hide a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PIPELINE = REPO / "pipeline"

FORBIDDEN: dict[str, set[str]] = {
    # reading raw input knows nothing of articles, batches, storage or SQL
    "ingest": {"transform", "enrich", "batch", "warehouse", "catalog", "report", "cli",
               "stages"},
    # record -> article: pure functions of a record
    "transform": {"enrich", "batch", "warehouse", "catalog", "report", "cli", "stages"},
    "enrich": {"ingest", "transform", "batch", "warehouse", "catalog", "report", "cli",
               "stages"},
    # storage and the gate's checks: no parsing rules, no orchestration
    "warehouse": {"ingest", "transform", "enrich", "batch", "catalog", "report", "cli",
                  "stages"},
    "catalog": {"ingest", "transform", "enrich", "batch", "report", "cli", "stages"},
    "report": {"ingest", "transform", "enrich", "batch", "warehouse", "cli", "stages"},
    # orchestration: everything below it, never the front ends
    "batch": {"report", "cli"},
    "progress": {"ingest", "transform", "enrich", "batch", "warehouse", "catalog", "report",
                 "cli", "stages", "settings"},
}
"""Layer -> layers it must not import. ``settings`` may be imported by every layer; it imports
two leaf modules itself, lazily, to validate (``ingest.base`` for reading options,
``warehouse.quality`` for check names); neither imports it back (the cycle check below)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every ``pipeline.*`` module ``path`` imports, at any depth of its code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pipeline"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: resolve against this package
                package = here.split(".")[: -node.level or None]
                base = ".".join([*package, node.module])
            if base.startswith("pipeline"):
                for alias in node.names:  # `from pipeline.x import y`: y may be a module
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if _is_module(candidate) else base)
    return found


def _is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def graph() -> dict[str, set[str]]:
    return {module_name(p): {m for m in imports_of(p) if m != module_name(p)}
            for p in PIPELINE.rglob("*.py")}


def violations(edges: dict[str, set[str]]) -> list[str]:
    out = []
    for module, targets in sorted(edges.items()):
        banned = FORBIDDEN.get(layer(module), set())
        out += [f"{module} imports {t}" for t in sorted(targets) if layer(t) in banned]
    return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_layer_imports_a_layer_it_must_not() -> None:
    assert violations(graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_no_reader_imports_another_reader() -> None:
    readers = {"pipeline.ingest.text", "pipeline.ingest.structured", "pipeline.ingest.html",
               "pipeline.ingest.feeds"}
    edges = graph()
    assert {(r, t) for r in readers for t in edges[r] if t in readers} == set()


def test_the_checks_catch_what_they_should() -> None:
    """The rules bite: a forbidden import and a cycle added to a copy of the graph are found."""
    edges = graph()
    edges["pipeline.ingest.readers"] = {*edges["pipeline.ingest.readers"],
                                        "pipeline.batch.plan"}
    assert violations(edges) == ["pipeline.ingest.readers imports pipeline.batch.plan"]
    edges["pipeline.warehouse.schemas"] = {"pipeline.warehouse.storage"}
    assert ["pipeline.warehouse.schemas", "pipeline.warehouse.storage"] in cycles(edges)


def test_only_dags_import_airflow() -> None:
    hits = []
    for folder in ("pipeline", "bench", "training"):
        for path in (REPO / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                hits += [f"{path.relative_to(REPO)}: {n}" for n in names
                         if n.split(".")[0] == "airflow"]
    assert hits == []


def test_no_module_over_500_lines() -> None:
    long = {str(p.relative_to(REPO)): n for p in PIPELINE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert long == {}
