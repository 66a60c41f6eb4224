"""`newsetl query`: readable tables, SQL files, and exports to CSV, JSON Lines and Parquet."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.settings import Settings

SQL = "SELECT article_id, batch_date, title, body, authors, word_count FROM articles ORDER BY 1, 2"


def newsetl(settings: Settings, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["query", "--warehouse", str(settings.warehouse), *args])
    assert result.exit_code == code, result.output
    return result.output


def expected(settings: Settings) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(settings.warehouse / "news.duckdb"), read_only=True)
    try:
        return con.execute(SQL).fetchall()
    finally:
        con.close()


def test_table_is_aligned_truncated_and_counted(demo_warehouse: Settings) -> None:
    rows = expected(demo_warehouse)
    out = newsetl(demo_warehouse, "--max-width", "30", "--limit", "5", SQL).splitlines()
    header, rule, body, count = out[0], out[1], out[2:-1], out[-1]
    assert header.split(" | ")[0].strip() == "article_id"
    assert len(body) == 5
    assert count == f"({len(rows)} rows, first 5 shown; --limit 0 shows all)"
    bars = [i for i, ch in enumerate(header) if ch == "|"]
    for line in body:  # columns line up under the header
        assert [i for i, ch in enumerate(line) if ch == "|"] == bars
    assert all("…" in line.split(" | ")[3] for line in body)  # long bodies cut at 30
    assert max(len(cell.strip()) for line in body for cell in line.split(" | ")) <= 30
    assert rule.replace("-", "").replace("+", "") == ""
    full = newsetl(demo_warehouse, "--limit", "0", SQL).splitlines()
    assert full[-1] == f"({len(rows)} rows)" and len(full) == len(rows) + 3


def test_numbers_right_aligned_and_nulls_shown(demo_warehouse: Settings) -> None:
    out = newsetl(demo_warehouse, "SELECT 'a' AS k, 7 AS n, NULL AS x UNION ALL "
                  "SELECT 'b', 1234, NULL ORDER BY k").splitlines()
    assert out[2].split(" | ")[1] == "   7" and out[3].split(" | ")[1] == "1234"
    assert out[2].endswith("NULL")


def test_sql_file_and_missing_file(demo_warehouse: Settings, tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_text("-- a comment\nSELECT count(*) AS n FROM articles;\n", encoding="utf-8")
    assert newsetl(demo_warehouse, str(path)).splitlines()[2].strip() == str(
        len(expected(demo_warehouse)))
    missing = newsetl(demo_warehouse, str(tmp_path / "nope.sql"), code=1)
    assert "no such SQL file" in missing


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_export_round_trips(demo_warehouse: Settings, tmp_path: Path, suffix: str) -> None:
    rows = expected(demo_warehouse)
    out = tmp_path / f"articles{suffix}"
    message = newsetl(demo_warehouse, SQL, "--output", str(out))
    assert f"{len(rows)} rows written to {out}" in message
    if suffix == ".parquet":
        back = pq.read_table(out).to_pylist()
        assert [tuple(r.values()) for r in back] == rows
        return
    if suffix == ".json":
        back = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert [r["authors"] for r in back] == [r[4] for r in rows]
    else:
        with out.open(encoding="utf-8", newline="") as f:
            back = list(csv.DictReader(f))
        assert [json.loads(r["authors"]) for r in back] == [r[4] for r in rows]
    assert [r["body"] for r in back] == [r[3] for r in rows]  # newlines and quotes survive
    assert [str(r["batch_date"]) for r in back] == [r[1].isoformat() for r in rows]


def test_export_format_errors_leave_no_file(demo_warehouse: Settings, tmp_path: Path) -> None:
    assert "needs --output" in newsetl(demo_warehouse, "--format", "parquet", SQL, code=1)
    assert "cannot tell the format" in newsetl(demo_warehouse, SQL, "-o",
                                               str(tmp_path / "x.txt"), code=1)
    target = tmp_path / "bad.csv"
    assert "query failed" in newsetl(demo_warehouse, "SELECT nope FROM articles", "-o",
                                     str(target), code=1)
    assert list(tmp_path.iterdir()) == []
    csv_out = newsetl(demo_warehouse, "--format", "csv", "SELECT 1 AS a, 'x,y' AS b")
    assert csv_out == 'a,b\n1,"x,y"\n'
