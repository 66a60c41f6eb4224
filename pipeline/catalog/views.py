"""The ``news.duckdb`` catalog: views over the warehouse's Parquet files, and queries on it.

The catalog holds no data, only the views of ``sql/views/*.sql`` (run in name order). It is
rebuilt in a temporary file and renamed over the old one, so a reader never sees it half-built
and an analyst's open session does not block a publish.

The views find the Parquet files from the catalog's own location (``warehouse_root`` in
``sql/views/00_macros.sql``): opened as the main database, from the ``temp_directory`` DuckDB
derives from the catalog file's path, which follows a moved warehouse; attached to another
database, from the absolute warehouse path written into the catalog when it is built
(``built_warehouse_root``). That path is part of the digest that decides a rebuild, so a moved
or copied warehouse gets a catalog for its new place on the next run or ``newsetl catalog``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from pipeline.settings import Settings
from pipeline.warehouse import layout, storage
from pipeline.warehouse.storage import CATALOG, Warehouse

LOGGER = logging.getLogger(__name__)


# Oldest storage format that has what the views need: DuckDB CLIs and clients from 1.2 on (e.g.
# the `duckdb` 1.5 CLI from PyPI) can open the catalog, not only the library that wrote it.
STORAGE_VERSION = "v1.2.0"


def _literal(text: str) -> str:
    """A SQL string literal (for ATTACH and macro bodies, which take no bind parameters)."""
    return "'" + text.replace("'", "''") + "'"


class CatalogError(RuntimeError):
    """The catalog cannot be built or opened."""


def view_files(sql_dir: Path) -> list[Path]:
    files = sorted((sql_dir / "views").glob("*.sql"))
    if not files:
        raise CatalogError(f"no view definitions in {sql_dir / 'views'}")
    return files


def _views_digest(views: list[Path], root: Path) -> str:
    """What the catalog is built from: the view files and the warehouse path written into it
    (a moved warehouse needs a new catalog for ATTACH, see ``built_warehouse_root``)."""
    import hashlib

    digest = hashlib.sha256(STORAGE_VERSION.encode())
    digest.update(str(root).encode() + b"\0")
    for path in views:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def refresh_catalog(settings: Settings, force: bool = False) -> Path:
    """(Re)create every view in a fresh catalog file and swap it in.

    The views read whatever partitions are published, so a publish needs no new catalog; the
    file is rebuilt only when the view definitions changed (or with ``force``). That keeps
    analysts' open connections valid across nightly publishes: replacing the file under an open
    DuckDB connection breaks it. It is also rebuilt when the warehouse folder has moved, for the
    absolute path that attached catalogs read (``built_warehouse_root``). Batches published
    before a derived table existed get it first (``pipeline.warehouse.derived.ensure_derived``),
    so the views find it for every batch.
    """
    import duckdb

    from pipeline.warehouse.derived import ensure_derived

    wh = Warehouse(settings.warehouse)
    if not wh.published_batches():
        raise CatalogError(f"nothing published in {wh.root} yet: run a batch first")
    ensure_derived(settings)  # batches published before a derived table existed
    with layout.layout_lock(wh):  # a warehouse from before the generation layout gets it
        layout.ensure(wh, durable=settings.fsync)
    target = wh.catalog
    root = wh.root.resolve()
    views = view_files(settings.sql_dir)
    stamp = target.with_name(f".{CATALOG}.views-sha256")
    digest = _views_digest(views, root)
    if not force and target.exists() and stamp.exists() and \
            stamp.read_text(encoding="utf-8").strip() == digest:
        LOGGER.info("catalog %s is current (views and place unchanged)", target)
        return target
    tmp = target.with_name(f".{CATALOG}.tmp-{storage.temp_suffix()}")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_literal(str(tmp))} AS news "
                    f"(STORAGE_VERSION {_literal(STORAGE_VERSION)})")
        con.execute("USE news")
        # Where attached catalogs find the warehouse. A macro body takes no bind parameters.
        # (The views bind when created, through this path too: news is attached here.)
        con.execute("CREATE OR REPLACE MACRO built_warehouse_root() AS "
                    + _literal(str(root)))
        for path in views:
            try:
                con.execute(path.read_text(encoding="utf-8"))
            except duckdb.Error as exc:
                raise CatalogError(f"{path.name}: {exc}") from exc
        con.execute("CHECKPOINT news")
    finally:
        con.close()
    os.replace(tmp, target)
    stamp.write_text(digest + "\n", encoding="utf-8")
    LOGGER.info("catalog %s refreshed (%d view files)", target, len(views))
    return target


def connect(settings: Settings, read_only: bool = True) -> Any:
    """Open the warehouse catalog (read-only by default: analysts never write to it)."""
    import duckdb

    path = Warehouse(settings.warehouse).catalog
    if not path.exists():
        raise CatalogError(f"no catalog at {path}: run `newsetl run` for a batch first")
    return duckdb.connect(str(path), read_only=read_only)


def query(settings: Settings, sql: str,
          params: list[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of ``sql`` run against the catalog."""
    con = connect(settings)
    try:
        cur = con.execute(sql, params or [])
        columns = [d[0] for d in cur.description] if cur.description else []
        return columns, cur.fetchall()
    finally:
        con.close()


EXPORT_FORMATS = ("csv", "json", "parquet")


def export(settings: Settings, sql: str, output: Path, fmt: str,
           params: list[Any] | None = None, batch_rows: int = 50_000) -> int:
    """Stream the result of ``sql`` into ``output`` (CSV with a header, JSON Lines, or Parquet);
    the number of rows written.

    Rows go through in batches, so an export of a large table needs memory for one batch, not
    for the result. The file is written beside ``output`` and renamed into place, so a failed
    query leaves no half-written file.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(EXPORT_FORMATS)})")
    tmp = output.with_name(f".{output.name}.tmp-{storage.temp_suffix()}")
    con = connect(settings)
    rows = 0
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            reader = con.sql(sql, params=params or None).to_arrow_reader(batch_rows)
            with pq.ParquetWriter(tmp, reader.schema) as writer:
                for batch in reader:
                    rows += batch.num_rows
                    writer.write_batch(batch)
        else:
            cur = con.execute(sql, params or [])
            columns = [d[0] for d in cur.description] if cur.description else []
            with open(tmp, "w", encoding="utf-8", newline="") as sink:
                sink.write(serialise_rows(columns, [], fmt))
                while batch := cur.fetchmany(batch_rows):
                    rows += len(batch)
                    sink.write(serialise_rows(columns, batch, fmt, header=False))
        os.replace(tmp, output)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
    LOGGER.info("wrote %d rows to %s (%s)", rows, output, fmt)
    return rows


def _json_default(value: Any) -> Any:
    from datetime import date, datetime

    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _csv_value(value: Any) -> Any:
    import json

    if value is None:
        return ""
    if isinstance(value, list | dict):  # nested values as JSON, which every tool reads back
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    return value


def serialise_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str,
                   header: bool = True) -> str:
    """Rows as CSV (with a header line unless ``header`` is false, to continue in chunks) or
    JSON Lines (dates ISO 8601, nested values as JSON)."""
    import csv
    import json
    from io import StringIO

    if fmt == "json":
        return "".join(json.dumps(dict(zip(columns, row, strict=True)), default=_json_default,
                                  ensure_ascii=False) + "\n" for row in rows)
    buf = StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(columns)
    writer.writerows([_csv_value(v) for v in row] for row in rows)
    return buf.getvalue()
