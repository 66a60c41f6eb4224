"""`newsetl backfill`: same tables as day-by-day runs, restartable, --force, changed inputs."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
from click.testing import CliRunner

from pipeline.batch.backfill import backfill
from pipeline.cli import main
from pipeline.settings import Settings
from tests.conftest import SAMPLES

FIRST, LAST = date(2023, 1, 31), date(2023, 2, 2)


def tables(warehouse: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(warehouse / "news.duckdb"), read_only=True)
    out = {
        "articles": con.execute("SELECT batch_date, article_id, content_hash, published_at, "
                                "duplicate_cluster_id FROM articles ORDER BY 1, 2").fetchall(),
        "rejects": con.execute("SELECT batch_date, source_file, reason_code FROM rejects "
                               "ORDER BY 1, 2").fetchall(),
        "entities": con.execute("SELECT batch_date, article_id, field, start_char, label "
                                "FROM entities ORDER BY 1, 2, 3, 4").fetchall(),
    }
    con.close()
    return out


def test_backfill_equals_day_by_day_runs_and_restarts(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(SAMPLES, archive)
    by_day = tmp_path / "by_day"
    for day in ("2023-01-31", "2023-02-01", "2023-02-02"):
        result = CliRunner().invoke(main, ["run", "--landing", str(archive), "--date", day,
                                           "--warehouse", str(by_day)])
        assert result.exit_code == 0, result.output
    settings = Settings.from_mapping({"warehouse": tmp_path / "bf"})
    first = backfill(archive, FIRST, LAST, settings, parallel=2)
    assert [r.status for r in first] == ["loaded"] * 3, [r.detail for r in first]
    assert tables(tmp_path / "bf") == tables(by_day)

    again = backfill(archive, FIRST, LAST, settings)
    assert [r.status for r in again] == ["skipped"] * 3  # same inputs, same code: nothing to do

    (archive / "2023-02-02" / "001_00000000000000a1.txt").write_text(
        " date 2023-02-01 Neu geliefert.\n\nEin geänderter Text.\n", encoding="utf-8")
    changed = backfill(archive, FIRST, LAST, settings)
    assert [r.status for r in changed] == ["skipped", "skipped", "loaded"]
    forced = backfill(archive, FIRST, FIRST, settings, force=True)
    assert [r.status for r in forced] == ["loaded"]
    con = duckdb.connect(str(tmp_path / "bf" / "news.duckdb"), read_only=True)
    runs = con.execute("SELECT batch_date::VARCHAR, count(*), sum(is_current::INT) FROM runs "
                       "GROUP BY 1 ORDER BY 1").fetchall()
    assert runs == [("2023-01-31", 2, 1), ("2023-02-01", 1, 1), ("2023-02-02", 2, 1)]
    assert con.execute("SELECT count(*) FROM articles WHERE batch_date = '2023-01-31'"
                       ).fetchone() == (5,)  # replaced, not duplicated


def test_backfill_cli_reports_every_day(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["backfill", "--archive", str(SAMPLES), "--from",
                                       "2023-01-30", "--to", "2023-01-31", "--warehouse",
                                       str(tmp_path / "wh")])
    assert result.exit_code == 0, result.output
    assert "2023-01-30 empty" in result.output and "2023-01-31 loaded" in result.output
    assert "backfill: loaded 1, skipped 0, empty 1, failed 0" in result.output
