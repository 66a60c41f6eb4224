"""What thousands of small Parquet files do to queries: the same data, more partitions.

Takes a warehouse (e.g. the year history ``bench/archive_age.py --keep`` leaves under
``build/bench/age-year-365x1000-0/after-365``), and times the canonical queries (top entities of
a month, an entity over time, articles per source per day; median of 5, connect included) and a
forced catalog rebuild as it is, then with its batches repeated ``k`` times under later batch
dates (``<table>/batch_date=D'`` links to the same published versions, so the rows repeat and
every table has k times the files), for k in ``--copies``; with ``--compacted``, also a copy
with its closed months compacted (``newsetl compact``). The difference between the two is what
the files cost, not the data. The extra links are removed afterwards.

    python -m bench.small_files WAREHOUSE [--copies 1,3,10] [--compacted]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.corpus import REPO
from bench.throughput import canonical_queries

EXAMPLE = REPO / "sql" / "examples" / "articles_per_source_per_day.sql"
TABLES_GLOB = "batch_date=*"


def replicate(warehouse: Path, copies: int) -> list[Path]:
    """Links for ``copies - 1`` more runs of every batch, dated after the last one."""
    from pipeline.warehouse import storage

    wh = storage.Warehouse(warehouse)
    days = wh.published_batches()
    span = (days[-1] - days[0]).days + 1
    made: list[Path] = []
    for k in range(1, copies):
        for day in days:
            new = day + timedelta(days=span * k)
            pointer = wh.pointer(new)
            os.symlink(os.readlink(wh.pointer(day)), pointer)
            made.append(pointer)
            for table in storage.table_names():
                if (warehouse / table / storage.partition_name(day)).is_symlink():
                    link = wh.table_link(table, new)
                    os.symlink(os.readlink(wh.table_link(table, day)).replace(
                        storage.partition_name(day), storage.partition_name(new)), link)
                    made.append(link)
    return made


def month_compacted(warehouse: Path, out: Path) -> Path:
    """A copy of the warehouse (hard links) with its closed months compacted by
    ``pipeline.warehouse.compaction``, as the nightly DAG leaves it."""
    from bench.archive_age import snapshot
    from pipeline.settings import Settings
    from pipeline.warehouse import compaction

    snapshot(warehouse, out)
    compaction.compact_closed(Settings.from_mapping({"warehouse": out, "fsync": False}))
    return out


def timings(warehouse: Path) -> dict[str, float]:
    import duckdb

    from pipeline.settings import Settings
    from pipeline.stages import refresh_catalog

    start = time.perf_counter()
    refresh_catalog(Settings.from_mapping({"warehouse": warehouse}), force=True)
    out = {"catalog rebuild": time.perf_counter() - start}
    medians, _ = canonical_queries(warehouse)
    out.update(medians)
    seconds = []
    for _ in range(5):
        start = time.perf_counter()
        con = duckdb.connect(str(warehouse / "news.duckdb"), read_only=True)
        con.execute(EXAMPLE.read_text(encoding="utf-8")).fetchall()
        con.close()
        seconds.append(time.perf_counter() - start)
    out[EXAMPLE.name] = statistics.median(seconds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--copies", default="1,3,10")
    parser.add_argument("--compacted", action="store_true",
                        help="also time each replicated warehouse compacted to month files")
    args = parser.parse_args()
    rows: list[tuple[int, int, dict[str, float]]] = []
    for copies in (int(c) for c in args.copies.split(",")):
        made = replicate(args.warehouse, copies)
        try:
            files = sum(1 for _ in (args.warehouse / "articles").glob(f"{TABLES_GLOB}/*.parquet"))
            rows.append((copies, files, timings(args.warehouse)))
            print(copies, files, rows[-1][2], flush=True)
            if args.compacted:
                with tempfile.TemporaryDirectory(dir=args.warehouse.parent) as tmp:
                    compact = month_compacted(args.warehouse, Path(tmp) / "warehouse")
                    months = sum(1 for _ in (compact / "articles").glob(
                        "batch_month=[0-9]*/*.parquet"))
                    rows.append((copies, -months, timings(compact)))
                    print(copies, -months, rows[-1][2], flush=True)
        finally:
            for link in made:
                link.unlink()
    names = list(rows[0][2])
    print("| copies | files per table | " + " | ".join(names) + " |")
    print("| ---: | ---: | " + " | ".join("---:" for _ in names) + " |")
    for copies, files, t in rows:
        shown = f"{files}" if files >= 0 else f"{-files} (month files)"
        print(f"| {copies} | {shown} | " + " | ".join(f"{t[n]:.3f} s" for n in names) + " |")
    print(f"(measured {date.today()})")


if __name__ == "__main__":
    main()
