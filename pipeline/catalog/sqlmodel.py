"""The SQL model's documentation and data tests (``sql/models.yml``), run against a catalog.

``sql/models.yml`` is the one place where every view and column of ``news.duckdb`` is described,
with dbt-style tests. This module reads it, compiles each test to a query counting the rows that
break it, and checks that the file and the views agree column for column. ``newsetl validate``
and the test suite use it; ``pipeline.catalog.docs`` renders the README's column reference from it.

Test SQL is assembled from identifiers of the YAML file (quoted) and values passed as bind
parameters; an ``expression`` test is SQL by design and trusted like the view files beside it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)
MODELS_FILE = "models.yml"
WILDCARD = "*"
"""A column entry standing for 'every column of the view it is derived from' (articles_dedup)."""


class ModelError(ValueError):
    """``sql/models.yml`` is malformed."""


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    tests: tuple[Any, ...] = ()
    type: str | None = None
    inherits: str | None = None
    """For the wildcard entry: the view whose columns this one passes through."""


@dataclass(frozen=True)
class View:
    name: str
    description: str
    columns: dict[str, Column]
    tests: tuple[Any, ...] = ()


@dataclass(frozen=True)
class DataTest:
    view: str
    name: str
    sql: str
    params: tuple[Any, ...] = ()
    severity: str = "error"


@dataclass
class TestResult:
    test: DataTest
    failures: int = 0
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        if self.failures == 0:
            return "pass"
        return "warn" if self.test.severity == "warn" else "fail"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def load_models(sql_dir: Path) -> dict[str, View]:
    """The views of ``sql_dir/models.yml``, in file order."""
    import yaml

    path = sql_dir / MODELS_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(f"{path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("views"), dict):
        raise ModelError(f"{path}: expected a mapping with a 'views' key")
    views: dict[str, View] = {}
    for name, spec in raw["views"].items():
        if not isinstance(spec, dict) or not spec.get("description"):
            raise ModelError(f"{path}: view {name!r} needs a description")
        columns: dict[str, Column] = {}
        for col, cspec in (spec.get("columns") or {}).items():
            if not isinstance(cspec, dict) or not cspec.get("description"):
                raise ModelError(f"{path}: {name}.{col} needs a description")
            columns[col] = Column(col, str(cspec["description"]),
                                  tuple(cspec.get("tests") or ()), cspec.get("type"),
                                  cspec.get("from"))
        views[name] = View(name, str(spec["description"]), columns,
                           tuple(spec.get("tests") or ()))
    return views


def split_test(spec: Any) -> tuple[str, Any]:
    """``(kind, argument)`` of a test written as a name or a one-key mapping."""
    if isinstance(spec, str):
        return spec, None
    if isinstance(spec, dict) and len(spec) == 1:
        return next(iter(spec.items()))
    raise ModelError(f"a test is a name or a one-key mapping, got {spec!r}")


def _column_test(view: str, column: str, spec: Any) -> DataTest:
    kind, arg = split_test(spec)
    v, c = quote(view), quote(column)
    if kind == "not_null":
        return DataTest(view, f"not_null({column})",
                        f"SELECT count(*) FROM {v} WHERE {c} IS NULL")
    if kind == "unique":
        return DataTest(view, f"unique({column})",
                        f"SELECT count(*) FROM (SELECT {c} FROM {v} WHERE {c} IS NOT NULL "
                        f"GROUP BY {c} HAVING count(*) > 1)")
    if kind == "accepted_values":
        return DataTest(view, f"accepted_values({column})",
                        f"SELECT count(*) FROM {v} WHERE {c} IS NOT NULL "
                        f"AND NOT list_contains(?::VARCHAR[], {c}::VARCHAR)",
                        ([str(x) for x in arg],))
    if kind == "range":
        low, high = arg
        conds, params = [], []
        if low is not None:
            conds.append(f"{c} < ?")
            params.append(low)
        if high is not None:
            conds.append(f"{c} > ?")
            params.append(high)
        return DataTest(view, f"range({column}, {low}, {high})",
                        f"SELECT count(*) FROM {v} WHERE {' OR '.join(conds) or 'false'}",
                        tuple(params))
    raise ModelError(f"{view}.{column}: unknown test {kind!r}")


def _view_test(view: str, spec: Any) -> DataTest:
    kind, arg = split_test(spec)
    v = quote(view)
    if kind == "unique":
        columns = arg["columns"] if isinstance(arg, dict) else arg
        where = arg.get("where") if isinstance(arg, dict) else None
        cols = ", ".join(quote(c) for c in columns)
        name = f"unique({', '.join(columns)})" + (f" where {where}" if where else "")
        return DataTest(view, name, f"SELECT count(*) FROM (SELECT {cols} FROM {v}"
                        + (f" WHERE {where}" if where else "")
                        + f" GROUP BY {cols} HAVING count(*) > 1)")
    if kind == "relationships":
        columns, fields, to = arg["columns"], arg["fields"], arg["to"]
        if len(columns) != len(fields):
            raise ModelError(f"{view}: relationships needs as many fields as columns")
        present = " AND ".join(f"c.{quote(col)} IS NOT NULL" for col in columns)
        match = " AND ".join(f"p.{quote(f)} = c.{quote(col)}"
                             for col, f in zip(columns, fields, strict=True))
        name = f"relationships({', '.join(columns)} -> {to}({', '.join(fields)}))"
        return DataTest(view, name, f"SELECT count(*) FROM {v} AS c WHERE {present} AND NOT EXISTS "
                        f"(SELECT 1 FROM {quote(to)} AS p WHERE {match})",
                        severity=str(arg.get("severity", "error")))
    if kind == "expression":
        return DataTest(view, f"expression({arg})", f"SELECT count(*) FROM {v} WHERE NOT ({arg})")
    raise ModelError(f"{view}: unknown test {kind!r}")


def compile_tests(models: dict[str, View]) -> list[DataTest]:
    tests: list[DataTest] = []
    for view in models.values():
        for column in view.columns.values():
            if column.name != WILDCARD:
                tests.extend(_column_test(view.name, column.name, t) for t in column.tests)
        tests.extend(_view_test(view.name, t) for t in view.tests)
    return tests


def view_columns(con: Any) -> dict[str, list[tuple[str, str]]]:
    """``{view: [(column, DuckDB type), ...]}`` of the catalog's views."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND NOT internal "
        "ORDER BY table_name, column_index").fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, type_ in rows:
        out.setdefault(table, []).append((column, type_))
    return out


def documentation_gaps(con: Any, models: dict[str, View]) -> list[str]:
    """Views or columns of the catalog missing from the models file, and the reverse."""
    actual = view_columns(con)
    gaps = [f"view {v} is not documented" for v in actual if v not in models]
    gaps += [f"view {v} is documented but not in the catalog" for v in models if v not in actual]
    for name, view in models.items():
        if name not in actual:
            continue
        names = [c for c, _ in actual[name]]
        documented = [c for c in view.columns if c != WILDCARD]
        inherited: set[str] = set()
        if WILDCARD in view.columns:
            parent = view.columns[WILDCARD].inherits or ""
            inherited = {c for c, _ in actual.get(parent, [])}
        gaps += [f"{name}.{c} is not documented" for c in names
                 if c not in view.columns and c not in inherited]
        gaps += [f"{name}.{c} is documented but not in the view" for c in documented
                 if c not in names]
        types = dict(actual[name])
        gaps += [f"{name}.{c.name} is {types[c.name]}, documented as {c.type}"
                 for c in view.columns.values() if c.type and c.name in types
                 and types[c.name] != c.type]
    return gaps


def run_tests(con: Any, tests: list[DataTest]) -> list[TestResult]:
    """Run each test; a test whose SQL fails is reported as an error, not raised."""
    import duckdb

    results = []
    for test in tests:
        result = TestResult(test)
        try:
            result.failures = int(con.execute(test.sql, list(test.params)).fetchone()[0])
        except duckdb.Error as exc:
            result.error = str(exc).splitlines()[0]
        if result.status != "pass":
            LOGGER.warning("data test %s %s on %s: %s", test.name, result.status, test.view,
                           result.error or f"{result.failures} rows")
        results.append(result)
    return results
