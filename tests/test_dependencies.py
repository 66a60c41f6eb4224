"""Runtime dependencies are declared as used (a plain-Python equivalent of `deptry pipeline dags`).

* Every third-party module that pipeline/ or dags/ imports (anywhere in the file, including imports
  inside functions and ``importlib.import_module("...")`` with a literal name) is provided by a
  distribution in [project.dependencies]: not only transitively (numpy, lxml, pendulum came with
  pandas, trafilatura and Airflow) and not only from a dependency group (pyyaml was dev-only, yet
  `newsetl` reads sql/models.yml with it; the Docker image installs no groups).
* Every distribution in [project.dependencies] is imported by pipeline/ or dags/, or is listed in
  NOT_IMPORTED with the reason it is still a runtime dependency.

The directories are scanned recursively, so modules may move between subpackages freely. Modules
are mapped to distributions with the installed metadata (importlib.metadata), so this runs in the
project's venv (`uv sync`), where every declared dependency is installed.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import defaultdict
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_DIRS = ("pipeline", "dags")
# Top-level packages of this repository (only pipeline/ is in the wheel; the others run from a
# checkout).
FIRST_PARTY = frozenset({"pipeline", "dags", "bench", "training", "tests"})

# Declared runtime dependencies that pipeline/ and dags/ do not import, and why they stay declared.
NOT_IMPORTED = {
    "pandas": "DuckDB returns query results as pandas DataFrames (`.df()`, README 'From a "
              "notebook'), and duckdb requires pandas only under an extra",
    "duckdb-cli": "ships the `duckdb` command for analysts (README); tests/test_catalog_paths.py "
                  "runs it on the catalog",
    "cartopy": "ships the Natural Earth relief the report's map is drawn on, read as a package "
               "resource (pipeline/report/charts.py), not imported",
}


def _norm(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _parse(requirement: str) -> tuple[str, set[str]]:
    """(normalised name, requested extras) of a PEP 508 requirement string."""
    match = _REQUIREMENT.match(requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    extras = {_norm(e) for e in (match.group(2) or "").split(",") if e.strip()}
    return _norm(match.group(1)), extras


@cache
def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@cache
def _declared() -> dict[str, set[str]]:
    """[project.dependencies]: normalised name -> requested extras."""
    return dict(_parse(r) for r in _pyproject()["project"]["dependencies"])


def _groups_declaring(name: str) -> list[str]:
    """Dependency groups (PEP 735) and optional extras that declare ``name``, for messages."""
    pyproject = _pyproject()
    found = []
    for kind, table in (("dependency-group", pyproject.get("dependency-groups", {})),
                        ("optional extra", pyproject["project"].get("optional-dependencies", {}))):
        for group, requirements in table.items():
            names = {_parse(r)[0] for r in requirements if isinstance(r, str)}
            if name in names:
                found.append(f"{kind} {group!r}")
    return found


@cache
def _providers() -> dict[str, frozenset[str]]:
    """Top-level module -> normalised names of the installed distributions that ship it."""
    return {module: frozenset(_norm(d) for d in dists)
            for module, dists in packages_distributions().items()}


@cache
def _stands_for(name: str, extras: frozenset[str]) -> frozenset[str]:
    """The distributions a declared dependency provides modules through: itself, and for a
    meta-package that ships no modules of its own (apache-airflow: its `airflow` namespace is split
    over apache-airflow-core, -task-sdk and the providers it pins) its requirements for the
    requested extras."""
    shipping = set().union(*_providers().values())
    if name in shipping:
        return frozenset({name})
    try:
        requires = distribution(name).requires or []
    except PackageNotFoundError:
        return frozenset({name})
    members = {name}
    for requirement in requires:
        spec, _, marker = requirement.partition(";")
        wanted = {_norm(e) for e in _EXTRA_MARKER.findall(marker)}
        if not wanted or wanted & extras:
            members.add(_parse(spec)[0])
    return frozenset(members)


def _imported_names(tree: ast.AST) -> list[tuple[str, int]]:
    """(dotted module name, line) of every absolute import in ``tree``, at any depth."""
    names: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.append((node.module, node.lineno))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            func = node.func
            called = (func.attr if isinstance(func, ast.Attribute)
                      else func.id if isinstance(func, ast.Name) else None)
            if called in ("import_module", "__import__") and not node.args[0].value.startswith("."):
                names.append((node.args[0].value, node.lineno))
    return names


@cache
def _runtime_imports() -> dict[str, tuple[str, ...]]:
    """Third-party top-level module -> where pipeline/ and dags/ import it ("path:line")."""
    found: dict[str, list[str]] = defaultdict(list)
    files = sorted(path for directory in RUNTIME_DIRS for path in (ROOT / directory).rglob("*.py")
                   if "__pycache__" not in path.parts)
    assert files, f"no Python files under {RUNTIME_DIRS}"
    for path in files:
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for dotted, line in _imported_names(tree):
            top = dotted.partition(".")[0]
            if top in FIRST_PARTY or top in sys.stdlib_module_names or top == "__future__":
                continue
            found[top].append(f"{path.relative_to(ROOT)}:{line}")
    return {module: tuple(places) for module, places in sorted(found.items())}


def _used_declarations() -> dict[str, list[str]]:
    """Declared dependency -> the imported modules it provides."""
    used: dict[str, list[str]] = defaultdict(list)
    for module in _runtime_imports():
        providers = _providers().get(module, frozenset())
        for name, extras in _declared().items():
            if providers & _stands_for(name, frozenset(extras)):
                used[name].append(module)
    return used


def test_scan_sees_the_runtime() -> None:
    """Guard against a vacuous pass: the scan finds the pipeline's main third-party imports."""
    imports = _runtime_imports()
    assert {"pyarrow", "duckdb", "spacy", "airflow"} <= imports.keys(), sorted(imports)


def test_runtime_imports_are_declared() -> None:
    used = _used_declarations()
    provided = {module for modules in used.values() for module in modules}
    problems = []
    for module, places in _runtime_imports().items():
        if module in provided:
            continue
        where = ", ".join(places[:3]) + (" ..." if len(places) > 3 else "")
        providers = sorted(_providers().get(module, ()))
        if not providers:
            problems.append(f"{module} ({where}): no installed distribution provides it")
            continue
        elsewhere = [g for p in providers for g in _groups_declaring(p)]
        how = (f"declared only in {', '.join(elsewhere)}" if elsewhere
               else "only a transitive dependency")
        problems.append(f"{module} ({where}): from {'/'.join(providers)}, {how}; "
                        "add it to [project.dependencies]")
    assert not problems, "runtime imports not declared in [project.dependencies]:\n  " + \
        "\n  ".join(problems)


def test_declared_dependencies_are_imported() -> None:
    used = _used_declarations()
    unused = sorted(name for name in _declared() if name not in used and name not in NOT_IMPORTED)
    assert not unused, (
        f"declared in [project.dependencies] but never imported by {'/, '.join(RUNTIME_DIRS)}/: "
        f"{unused}; drop them, or list them in NOT_IMPORTED with the reason they are needed")


def test_not_imported_allow_list_is_current() -> None:
    used = _used_declarations()
    stale = {name: ("not declared" if name not in _declared() else f"imported as {used[name]}")
             for name in NOT_IMPORTED if name not in _declared() or name in used}
    assert not stale, f"NOT_IMPORTED entries to remove: {stale}"
