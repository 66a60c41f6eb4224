"""Files an earlier batch already parsed (same bytes, other name, later day) are taken over, not
parsed again, and the result is exactly what parsing them would give."""

from __future__ import annotations

import logging
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline import stages
from pipeline.ingest import readers
from pipeline.settings import Settings
from tests.conftest import SAMPLES

DAYS = ("2023-01-31", "2023-02-01", "2023-02-02")
TAKEN = re.compile(r"\((\d+) taken over from earlier batches\)")


def settings_for(warehouse: Path, reuse: bool) -> Settings:
    return Settings.from_mapping({"warehouse": warehouse, "reuse_known_files": reuse,
                                  "ner_models": {"de": "none", "en": "none"}})


def run(settings: Settings, folder: Path, day: str) -> None:
    stages.run_batch(readers.list_input_files(folder), date.fromisoformat(day), settings)


def rows(warehouse: Path, table: str, day: str) -> list[tuple[Any, ...]]:
    glob = str(warehouse / "_current" / f"batch_date={day}" / table / "*.parquet")
    return duckdb.sql("SELECT * EXCLUDE (run_id) FROM read_parquet(?) ORDER BY ALL",
                      params=[glob]).fetchall()


def renamed_copy(out: Path) -> int:
    """Every sample file of DAYS, byte for byte, under another name (text dumps get another
    source id, so other article ids) in one folder; the other formats keep their names."""
    n = 0
    for day in DAYS:
        for path in sorted((SAMPLES / day).rglob("*")):
            if not path.is_file():
                continue
            relative = path.relative_to(SAMPLES / day)
            name = re.sub(r"^(\d+)_([0-9a-f]+)\.txt$", lambda m: f"{m[1]}_c{m[2][1:]}.txt",
                          path.name)
            target = out / day.replace("-", "") / relative.parent / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            n += 1
    return n


def taken_over(caplog: pytest.LogCaptureFixture) -> int:
    return sum(int(m[1]) for r in caplog.records if (m := TAKEN.search(r.getMessage())))


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with the sample days published."""
    warehouse = tmp_path_factory.mktemp("reuse") / "wh"
    for day in DAYS:
        run(settings_for(warehouse, True), SAMPLES / day, day)
    return warehouse


def test_taken_over_rows_equal_a_fresh_parse(earlier: Path, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    copy = tmp_path / "copy"
    files = renamed_copy(copy)
    fresh, reused = tmp_path / "fresh", tmp_path / "reused"
    shutil.copytree(earlier, fresh, symlinks=True)
    shutil.copytree(earlier, reused, symlinks=True)

    run(settings_for(fresh, False), copy, "2023-03-01")
    assert taken_over(caplog) == 0
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pipeline.batch"):
        run(settings_for(reused, True), copy, "2023-03-01")
    taken = taken_over(caplog)
    # Text dumps dated from their content are taken over; the undated ones (batch date
    # fallback), the files with several records (JSON, feeds, archives) are parsed again.
    assert 0 < taken < files
    for table in ("articles", "time_mentions", "rejects"):
        assert rows(reused, table, "2023-03-01") == rows(fresh, table, "2023-03-01"), table
    assert rows(reused, "articles", "2023-03-01")  # the comparison compared something


def test_an_earlier_batch_parses_everything(earlier: Path, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """Before the batch that parsed them, content dates may be implausible: parse again."""
    copy = tmp_path / "copy"
    renamed_copy(copy)
    warehouse = tmp_path / "wh"
    shutil.copytree(earlier, warehouse, symlinks=True)
    with caplog.at_level(logging.INFO, logger="pipeline.batch"):
        run(settings_for(warehouse, True), copy, "2023-01-15")
    assert taken_over(caplog) == 0
    assert rows(warehouse, "articles", "2023-01-15")


def test_changed_bytes_are_parsed(earlier: Path, tmp_path: Path,
                                  caplog: pytest.LogCaptureFixture) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    seed = SAMPLES / "2023-01-31" / "000_5fa03b91928cf31a.txt"
    shutil.copyfile(seed, copy / "001_aaaaaaaaaaaaaaaa.txt")
    changed = seed.read_text(encoding="utf-8").replace("Seoul", "Busan", 1)
    (copy / "002_bbbbbbbbbbbbbbbb.txt").write_text(changed, encoding="utf-8")
    warehouse = tmp_path / "wh"
    shutil.copytree(earlier, warehouse, symlinks=True)
    with caplog.at_level(logging.INFO, logger="pipeline.batch"):
        run(settings_for(warehouse, True), copy, "2023-03-02")
    assert taken_over(caplog) == 1
    bodies = {r[0]: r[1] for r in duckdb.sql(
        "SELECT source_id, body FROM read_parquet(?)",
        params=[str(warehouse / "_current" / "batch_date=2023-03-02" / "articles" / "*.parquet")]
    ).fetchall()}
    assert "Busan" in bodies["bbbbbbbbbbbbbbbb"] and "Seoul" in bodies["aaaaaaaaaaaaaaaa"]
