"""Two warehouses hold the same tables, row for row, apart from what a run stamps.

Used to show that a refactoring changed no output: build the demo warehouse before and after,
then

    python -m bench.compare_warehouses BEFORE AFTER

For every table it prints the rows of each side and the rows only in one side (multiset
difference, ``EXCEPT ALL``), over every column but ``run_id``, ``started_at``,
``finished_at``, ``code_version`` and ``read_key`` (which holds the code version). Exit 1 if
any table differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

STAMPED = ("run_id", "started_at", "finished_at", "code_version", "read_key")


def compare(before: Path, after: Path) -> list[tuple[str, int, int, int, int]]:
    """``(table, rows before, rows after, only before, only after)`` per table."""
    import duckdb

    from pipeline.warehouse.schemas import TABLES

    con = duckdb.connect()
    out = []
    for table, schema in TABLES.items():
        drop = [c for c in STAMPED if c in schema.names]
        keep = ", ".join(f'"{n}"' for n in schema.names if n not in drop and n != "batch_date")
        # Column names come from the schemas, never from input; paths are bound parameters.
        side = f"(SELECT {keep} FROM read_parquet(?, union_by_name = true))"  # noqa: S608
        globs = [str(root / table / "batch_date=*" / "*.parquet") for root in (before, after)]
        total = f"SELECT count(*) FROM {side}"  # noqa: S608
        counts = [_count(con, total, [g]) for g in globs]
        difference = f"SELECT count(*) FROM ({side} EXCEPT ALL {side})"  # noqa: S608
        only = [_count(con, difference, pair) for pair in (globs, globs[::-1])]
        out.append((table, counts[0], counts[1], only[0], only[1]))
    return out


def _count(con: Any, sql: str, params: list[str]) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    rows = compare(args.before, args.after)
    print(f"{'table':18} {'before':>7} {'after':>7} {'only before':>12} {'only after':>11}")
    for table, a, b, only_a, only_b in rows:
        print(f"{table:18} {a:7d} {b:7d} {only_a:12d} {only_b:11d}")
    same = all(a == b and not oa and not ob for _, a, b, oa, ob in rows)
    print("identical apart from run stamps" if same else "DIFFERENT")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
