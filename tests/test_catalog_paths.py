"""The catalog works however it is opened: by absolute or relative path, from any working
directory, attached under an alias, from Python, from the DuckDB CLI and after a move.

The views used to find the warehouse only through ``temp_directory``, which is relative when the
catalog is opened by a relative path and belongs to the other database when it is attached. Every
route is checked against a direct read of the Parquet files, never against a fixed number.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from pipeline.catalog import sqlmodel
from pipeline.catalog import views as catalog
from pipeline.settings import Settings
from pipeline.warehouse import storage

REPO = Path(__file__).resolve().parents[1]
TABLES = ("articles", "entities", "rejects", "runs", "article_entities")
"""Views that show every row of their table, so their counts equal the files' counts."""


def scalar(con: Any, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    assert row is not None
    return row[0]


def parquet_counts(warehouse: Path) -> dict[str, int]:
    """Rows of each table read straight from its published files: what every route must show."""
    con = duckdb.connect()
    try:
        return {t: scalar(con, "SELECT count(*) FROM read_parquet(?)",
                          [str(warehouse / t / "batch_date=*" / "*.parquet")]) for t in TABLES}
    finally:
        con.close()


def counts_sql(prefix: str = "") -> str:
    """One row with the count of each view (of database ``prefix`` if given)."""
    return "SELECT " + ", ".join(f"(SELECT count(*) FROM {prefix}{t}) AS {t}" for t in TABLES)


def view_counts(con: Any, prefix: str = "") -> dict[str, int]:
    row = con.execute(counts_sql(prefix)).fetchone()
    assert row is not None
    return dict(zip(TABLES, row, strict=True))


def open_counts(path: str | Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return view_counts(con)
    finally:
        con.close()


def attached_counts(path: str | Path, alias: str, host: str = ":memory:") -> dict[str, int]:
    con = duckdb.connect(host)
    try:
        con.execute(f"ATTACH {catalog._literal(str(path))} AS {alias} (READ_ONLY)")
        return view_counts(con, f"{alias}.")
    finally:
        con.close()


def test_python_opens_the_catalog_by_absolute_path(demo_warehouse: Settings, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    wh = demo_warehouse.warehouse.resolve()
    monkeypatch.chdir(tmp_path)  # nothing to do with the warehouse
    assert open_counts(wh / storage.CATALOG) == parquet_counts(wh)


@pytest.mark.parametrize("cwd", ["warehouse", "parent", "elsewhere"])
def test_python_opens_the_catalog_by_relative_path(demo_warehouse: Settings, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   cwd: str) -> None:
    """``news.duckdb`` from the warehouse itself (the issue), ``warehouse/news.duckdb`` from its
    parent, ``../../.../news.duckdb`` from an unrelated folder."""
    wh = demo_warehouse.warehouse.resolve()
    folder = {"warehouse": wh, "parent": wh.parent, "elsewhere": tmp_path}[cwd]
    monkeypatch.chdir(folder)
    path = os.path.relpath(wh / storage.CATALOG, folder)
    assert not Path(path).is_absolute()
    assert open_counts(path) == parquet_counts(wh)


@pytest.mark.parametrize("alias", ["news", "wh"])
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_attached_under_an_alias(demo_warehouse: Settings, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch, relative: bool,
                                 alias: str) -> None:
    """``ATTACH '<catalog>' AS <alias> (READ_ONLY)`` from an in-memory database, and from a
    database file (whose own temp_directory is somewhere else)."""
    wh = demo_warehouse.warehouse.resolve()
    monkeypatch.chdir(tmp_path)
    path = os.path.relpath(wh / storage.CATALOG) if relative else str(wh / storage.CATALOG)
    expected = parquet_counts(wh)
    assert attached_counts(path, alias) == expected
    assert attached_counts(path, alias, host=str(tmp_path / "notes.duckdb")) == expected


def duckdb_cli() -> str:
    """The `duckdb` command of the venv (package duckdb-cli); skipped when it is missing, except in
    CI, which must run these tests."""
    venv = Path(sys.executable).parent / "duckdb"
    found = str(venv) if venv.exists() else shutil.which("duckdb")
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but the DuckDB CLI is missing: install the dev dependencies "
                    "(package duckdb-cli) before the tests")
    pytest.skip("needs the DuckDB CLI (package duckdb-cli, in the dev dependencies)")


def cli_counts(cwd: Path, *args: str) -> dict[str, int]:
    done = subprocess.run([duckdb_cli(), "-csv", *args], cwd=cwd, capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0 and not done.stderr, done.stderr
    rows = list(csv.DictReader(StringIO(done.stdout)))
    assert len(rows) == 1, done.stdout
    return {t: int(n) for t, n in rows[0].items()}


@pytest.mark.parametrize("route", ["in-warehouse", "parent", "attached"])
def test_duckdb_cli(demo_warehouse: Settings, tmp_path: Path, route: str) -> None:
    """The issue's `cd data/warehouse && duckdb news.duckdb -c ...`, a relative path from the
    parent, and ATTACH by a relative path under an alias: the CLI is another DuckDB version than
    the library that wrote the catalog."""
    wh = demo_warehouse.warehouse.resolve()
    expected = parquet_counts(wh)
    if route == "in-warehouse":
        got = cli_counts(wh, "-readonly", storage.CATALOG, "-c", counts_sql())
    elif route == "parent":
        got = cli_counts(wh.parent, "-readonly", f"{wh.name}/{storage.CATALOG}", "-c",
                         counts_sql())
    else:
        path = os.path.relpath(wh / storage.CATALOG, tmp_path)
        got = cli_counts(tmp_path, "-c", f"ATTACH {catalog._literal(path)} AS wh (READ_ONLY)",
                         "-c", counts_sql("wh."))
    assert got == expected


def view_columns(name: str) -> list[str]:
    return list(sqlmodel.load_models(REPO / "sql")[name].columns)


def test_notebook_route_gives_pandas_dataframes(demo_warehouse: Settings) -> None:
    """A DuckDB connection on the catalog, results as DataFrames with ``.df()``: directly and
    through ``pipeline.catalog.connect``."""
    wh = demo_warehouse.warehouse
    expected = parquet_counts(wh)
    for con in (duckdb.connect(str(wh / storage.CATALOG), read_only=True),
                catalog.connect(demo_warehouse)):
        try:
            articles = con.sql("SELECT * FROM articles").df()
            entities = con.execute("SELECT * FROM entities WHERE batch_date >= ?",
                                   ["2000-01-01"]).df()
        finally:
            con.close()
        assert isinstance(articles, pd.DataFrame) and isinstance(entities, pd.DataFrame)
        assert list(articles.columns) == view_columns("articles")
        assert list(entities.columns) == view_columns("entities")
        assert (len(articles), len(entities)) == (expected["articles"], expected["entities"])


def readme_notebook_example() -> str:
    """The Python block of the README's notebook subsection."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Query the warehouse"):text.index("### The run report")]
    (code,) = re.findall(r"### From a notebook\n.*?```python\n(.*?)```", section, flags=re.S)
    return str(code)


def test_readme_notebook_example_runs(demo_warehouse: Settings, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """As written, from a project folder whose data/warehouse is the demo warehouse."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "warehouse").symlink_to(demo_warehouse.warehouse.resolve())
    monkeypatch.chdir(tmp_path)
    names: dict[str, Any] = {}
    exec(compile(readme_notebook_example(), "README.md", "exec"), names)
    frames = {k: v for k, v in names.items() if isinstance(v, pd.DataFrame)}
    assert frames, "the example makes DataFrames"
    assert len(frames["articles"]) == parquet_counts(demo_warehouse.warehouse)["articles"]
    assert all(len(f) for f in frames.values())
    names["con"].close()


def drop_batch(warehouse: Path) -> None:
    """Unpublish the first batch of a copied warehouse, so its counts differ from the original's
    and a catalog reading the original's files shows."""
    first = storage.Warehouse(warehouse).published_batches()[0]
    for link in warehouse.glob(f"*/{storage.partition_name(first)}"):
        if link.is_symlink():  # _current's pointer and every table's link, not the _store
            link.unlink()


def test_copied_and_moved_warehouse(demo_warehouse: Settings, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Opened as the main database, a copy (or moved folder) reads its own files at once;
    attached, it needs the catalog refresh that the next run or `newsetl catalog` does, because
    the path of the folder is part of what decides whether the catalog is rebuilt."""
    copy = tmp_path / "copy" / "warehouse"
    shutil.copytree(demo_warehouse.warehouse, copy, symlinks=True)
    drop_batch(copy)
    expected = parquet_counts(copy)
    assert expected != parquet_counts(demo_warehouse.warehouse)
    monkeypatch.chdir(tmp_path)
    assert open_counts(copy / storage.CATALOG) == expected
    assert open_counts(Path("copy") / "warehouse" / storage.CATALOG) == expected

    settings = Settings.from_mapping({"warehouse": copy})
    built = (copy / storage.CATALOG).stat().st_ino
    catalog.refresh_catalog(settings)  # not forced: the new path alone rebuilds it
    assert (copy / storage.CATALOG).stat().st_ino != built
    assert attached_counts(copy / storage.CATALOG, "wh") == expected
    refreshed = (copy / storage.CATALOG).stat().st_ino
    catalog.refresh_catalog(settings)  # same place, same views: open connections stay valid
    assert (copy / storage.CATALOG).stat().st_ino == refreshed

    moved = tmp_path / "elsewhere" / "wh"
    moved.parent.mkdir()
    shutil.move(copy, moved)
    assert open_counts(moved / storage.CATALOG) == expected
    assert open_counts(os.path.relpath(moved / storage.CATALOG)) == expected
    catalog.refresh_catalog(Settings.from_mapping({"warehouse": moved}))
    assert attached_counts(os.path.relpath(moved / storage.CATALOG), "moved") == expected


def test_other_warehouse_attached_to_a_catalog(demo_warehouse: Settings, tmp_path: Path) -> None:
    """A catalog attached while another warehouse's catalog is the main database reads its own
    files once temp_directory points elsewhere (the README's advice for this case)."""
    copy = tmp_path / "warehouse"
    shutil.copytree(demo_warehouse.warehouse, copy, symlinks=True)
    drop_batch(copy)
    catalog.refresh_catalog(Settings.from_mapping({"warehouse": copy}))
    con = duckdb.connect(str(demo_warehouse.warehouse / storage.CATALOG), read_only=True)
    try:
        con.execute("SET temp_directory = ?", [str(tmp_path / "spill")])
        con.execute(f"ATTACH {catalog._literal(str(copy / storage.CATALOG))} AS copy (READ_ONLY)")
        assert view_counts(con, "copy.") == parquet_counts(copy)
        assert view_counts(con) == parquet_counts(demo_warehouse.warehouse)
    finally:
        con.close()
