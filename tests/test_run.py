"""`newsetl run` / `newsetl query` end to end on real dumps, through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.conftest import SAMPLES


def newsetl(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def rows(warehouse: Path, sql: str) -> list[dict[str, object]]:
    out = newsetl("query", "--warehouse", str(warehouse), "--format", "json", sql)
    return [json.loads(line) for line in out.splitlines()]


def test_seed_article(shared: Path, tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    newsetl("run", "--input", str(shared / "seed/000_5fa03b91928cf31a.txt"),
            "--date", "2023-01-31", "--warehouse", str(wh))
    con = duckdb.connect(str(wh / "news.duckdb"), read_only=True)
    cur = con.execute("SELECT * FROM articles")
    (article,) = cur.fetchall()
    record = dict(zip([d[0] for d in cur.description], article, strict=True))
    assert record["language"] == "de"
    assert record["published_at"].isoformat() == "2023-01-01T00:00:00+00:00"
    assert record["published_precision"] == "month"
    assert record["teaser"].startswith("Bei einem Besuch in Südkorea")
    assert "Vorwürfe gegenüber Nordkorea" in record["subheadings"]
    assert record["source_id"] == "5fa03b91928cf31a"
    assert str(record["batch_date"]) == "2023-01-31"
    whitespace_tokens = len(record["body"].split())
    assert abs(record["word_count"] - whitespace_tokens) <= 0.02 * whitespace_tokens
    run = con.execute("SELECT records_read, articles_loaded, records_rejected FROM runs").fetchall()
    assert run == [(1, 1, 0)]


def test_rerun_replaces_and_new_date_adds_partition(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    day = SAMPLES / "2023-02-01"
    newsetl("run", "--input", str(day), "--date", "2023-02-01", "--warehouse", str(wh))
    first = rows(wh, "SELECT article_id FROM articles ORDER BY 1")
    counts = rows(wh, "SELECT records_read, articles_loaded, records_rejected FROM runs")
    newsetl("run", "--input", str(day), "--date", "2023-02-01", "--warehouse", str(wh))
    assert rows(wh, "SELECT article_id FROM articles ORDER BY 1") == first
    assert rows(wh, "SELECT records_read, articles_loaded, records_rejected FROM runs "
                    "WHERE is_current") == counts
    assert rows(wh, "SELECT count(*) AS n, count(DISTINCT run_id) AS runs FROM runs") == \
        [{"n": 2, "runs": 2}]
    assert rows(wh, "SELECT count(DISTINCT run_id) AS n FROM articles") == [{"n": 1}]
    newsetl("run", "--input", str(SAMPLES / "2023-02-02"), "--date", "2023-02-02",
            "--warehouse", str(wh))
    assert rows(wh, "SELECT batch_date::VARCHAR AS d, count(*) AS n FROM articles GROUP BY 1 "
                    "ORDER BY 1") == [{"d": "2023-02-01", "n": len(first)},
                                      {"d": "2023-02-02", "n": 2}]
    # Old versions are pruned: current + previous per batch, nothing in staging.
    versions = list((wh / "_store" / "batch_date=2023-02-01").iterdir())
    assert len(versions) == 2
    assert not any((wh / "_staging").iterdir())


def test_landing_day_counts_reconcile_with_reasons(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    newsetl("run", "--landing", str(SAMPLES), "--date", "2023-02-01", "--warehouse", str(wh))
    (run,) = rows(wh, "SELECT * FROM runs")
    assert run["records_read"] == 7
    assert run["records_read"] == run["articles_loaded"] + run["records_rejected"]
    rejects = rows(wh, "SELECT source_file, reason_code, reason FROM rejects ORDER BY 1")
    assert [(r["source_file"], r["reason_code"]) for r in rejects] == [
        ("2023-02-01/004_0000000000000000.txt", "empty_file"),
        ("2023-02-01/099_1e157fb70ea55bd2.txt", "duplicate"),
    ]
    assert "000_1e157fb70ea55bd2.txt" in str(rejects[1]["reason"])


def test_same_article_in_later_dump_keeps_its_id(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    for day in ("2023-01-31", "2023-02-02"):
        newsetl("run", "--landing", str(SAMPLES), "--date", day, "--warehouse", str(wh))
    ids = rows(wh, "SELECT batch_date::VARCHAR AS d, article_id, source_file FROM articles "
                   "WHERE source_id = '5fa03b91928cf31a' ORDER BY 1")
    assert [r["d"] for r in ids] == ["2023-01-31", "2023-02-02"]
    assert ids[0]["article_id"] == ids[1]["article_id"]
    bad = rows(wh, "SELECT published_source, published_flag, warnings FROM articles "
                   "WHERE source_file LIKE '%00000000000000a1.txt'")
    assert bad == [{"published_source": "batch", "published_flag": "batch_fallback",
                    "warnings": ["unparseable date '2023-13' (header)",
                                 "no publication date found: the batch date 2023-02-02 is used"]}]


def test_catalog_survives_move_and_other_working_directory(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    wh = tmp_path / "wh"
    newsetl("run", "--landing", str(SAMPLES), "--date", "2023-01-31", "--warehouse", str(wh))
    moved = tmp_path / "elsewhere" / "warehouse"
    moved.parent.mkdir()
    shutil.move(wh, moved)
    other = tmp_path / "cwd"
    other.mkdir()
    monkeypatch.chdir(other)
    for path in (str(moved / "news.duckdb"), os.path.relpath(moved / "news.duckdb", other)):
        con = duckdb.connect(path, read_only=True)
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() "
                                           "WHERE NOT internal").fetchall()}
        assert {"articles", "entities", "rejects", "runs"} <= views
        assert con.execute("SELECT count(*) FROM articles").fetchall() == [(5,)]
        assert con.execute("SELECT count(*) = (SELECT entities_found FROM runs) FROM entities"
                           ).fetchall() == [(True,)]
        con.close()
        cli = subprocess.run([str(Path(sys.executable).parent / "duckdb"), "-readonly", "-csv",
                              path, "-c", "SELECT count(*) AS n FROM articles"],
                             capture_output=True, text=True, check=False)
        assert cli.stdout.split() == ["n", "5"], cli.stderr


def test_env_warehouse_and_output_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSETL_WAREHOUSE", str(tmp_path / "envwh"))
    newsetl("run", "--landing", str(SAMPLES), "--date", "2023-02-02")
    assert (tmp_path / "envwh" / "news.duckdb").exists()
    sql = "SELECT language, count(*) AS n FROM articles GROUP BY 1 ORDER BY 1"
    assert newsetl("query", "--format", "csv", sql) == "language,n\nde,1\nen,1\n"
    table = newsetl("query", sql)
    assert table.splitlines()[0].split() == ["language", "|", "n"]
    assert table.rstrip().endswith("(2 rows)")


def test_bad_sql_is_a_clear_error(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    newsetl("run", "--landing", str(SAMPLES), "--date", "2023-02-02", "--warehouse", str(wh))
    result = CliRunner().invoke(main, ["query", "--warehouse", str(wh),
                                       "SELECT nope FROM articles"])
    assert result.exit_code == 1
    assert "query failed" in result.output and "nope" in result.output


def test_query_without_warehouse_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["query", "--warehouse", str(tmp_path), "SELECT 1"])
    assert result.exit_code == 1
    assert "newsetl run" in result.output
