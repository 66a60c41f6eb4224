"""Staged, atomic publishing: a failed run leaves the last good state; no duplicates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import stages
from pipeline.catalog.views import refresh_catalog
from pipeline.ingest import readers
from pipeline.settings import Settings
from pipeline.warehouse import layout, storage
from tests.conftest import SAMPLES

DAY = date(2023, 2, 1)


def articles_in(settings: Settings) -> list[tuple[str, str]]:
    con = duckdb.connect(str(settings.warehouse / "news.duckdb"), read_only=True)
    try:
        return con.execute("SELECT article_id, run_id FROM articles ORDER BY 1").fetchall()
    finally:
        con.close()


def run(settings: Settings, day: date = DAY) -> stages.RunResult:
    return stages.run_batch(readers.list_input_files(SAMPLES / day.isoformat()), day, settings)


def test_crash_before_swap_keeps_previous_state(settings: Settings,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    good = run(settings)
    before = articles_in(settings)

    def crash(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt("killed mid-publish")

    monkeypatch.setattr(layout, "swap_in", crash)
    with pytest.raises(KeyboardInterrupt):
        run(settings)
    assert articles_in(settings) == before
    assert all(r == good.run_id for _, r in before)
    monkeypatch.undo()
    again = run(settings)  # the next run cleans up the orphaned version
    after = articles_in(settings)
    assert [a for a, _ in after] == [a for a, _ in before]
    assert {r for _, r in after} == {again.run_id}
    versions = {p.name for p in (settings.warehouse / "_store" / "batch_date=2023-02-01").iterdir()}
    assert versions == {good.run_id, again.run_id}


def test_failed_parse_publishes_nothing(settings: Settings) -> None:
    plan = stages.plan_batch(readers.list_input_files(SAMPLES / "2023-02-01"), DAY, settings)
    stages.parse_shard(plan.shards[0], DAY, settings)  # enrichment never ran
    with pytest.raises(stages.PublishError, match="entities part 0"):
        stages.publish_batch(plan.path, DAY, settings)
    assert storage.Warehouse(settings.warehouse).published_batches() == []


def test_shard_of_another_batch_is_refused(settings: Settings) -> None:
    plan = stages.plan_batch([], DAY, settings)
    with pytest.raises(stages.PublishError, match="belongs to batch 2023-02-01"):
        stages.parse_shard(plan.shards[0], date(2023, 2, 2), settings)


def test_concurrent_publish_of_one_batch_fails_clearly(settings: Settings) -> None:
    wh = storage.Warehouse(settings.warehouse)
    with storage.batch_lock(wh, DAY), pytest.raises(storage.BatchLockedError,
                                                    match="being published by another run"):
        run(settings)


def test_duplicates_across_shards_become_rejects(tmp_path: Path) -> None:
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh", "shard_files": 1})
    result = run(settings)
    shards = list((result.version.parent).iterdir())
    assert shards
    con = duckdb.connect(str(result.catalog), read_only=True)
    loaded, dup, read = con.execute(
        "SELECT (SELECT count(*) FROM articles), "
        "(SELECT count(*) FROM rejects WHERE reason_code = 'duplicate'), "
        "(SELECT records_read FROM runs)").fetchall()[0]
    assert (loaded, dup, read) == (5, 1, 7)
    assert con.execute("SELECT count(DISTINCT article_id) = count(*) FROM articles"
                       ).fetchall() == [(True,)]


def test_empty_batch_publishes_empty_partition(settings: Settings) -> None:
    result = stages.run_batch([], date(2023, 3, 1), settings)
    con = duckdb.connect(str(result.catalog), read_only=True)
    assert con.execute("SELECT records_read, articles_loaded FROM runs").fetchall() == [(0, 0)]
    assert con.execute("SELECT count(*) FROM articles").fetchall() == [(0,)]


def test_row_groups_have_the_configured_size(tmp_path: Path) -> None:
    parts = []
    for i in range(7):  # seven small shard parts of 3,000 rows
        rows = [{"batch_date": DAY, "source_file": f"f{i}-{j}", "member": None,
                 "locator": "file", "reason": "r", "reason_code": "c", "excerpt": None,
                 "run_id": "x"}
                for j in range(3000)]
        table = pa.Table.from_pylist(rows).drop_columns(["batch_date"])
        parts.append(storage.write_table(tmp_path / f"p{i}.parquet",
                                         table.cast(storage.file_schema("rejects")), 1000))
    n, files = storage.compact(parts, tmp_path / "out", "rejects", row_group_rows=10_000,
                               max_file_rows=15_000)
    assert n == 21_000
    sizes = [[pq.ParquetFile(f).metadata.row_group(g).num_rows
              for g in range(pq.ParquetFile(f).metadata.num_row_groups)] for f in files]
    assert sizes == [[10_000], [10_000, 1_000]]  # a file is closed before it would pass 15k


def test_catalog_refresh_needs_a_published_batch(settings: Settings) -> None:
    from pipeline.catalog.views import CatalogError

    with pytest.raises(CatalogError, match="nothing published"):
        refresh_catalog(settings)


def test_stale_staging_of_dead_runs_is_removed(tmp_path: Path) -> None:
    import os
    import time

    wh = storage.Warehouse(tmp_path / "wh")
    dead, live = wh.staging("20230101-dead"), wh.staging("20230101-live")
    for folder in (dead, live):
        (folder / "parts").mkdir(parents=True)
        (folder / "parts" / "x.parquet").write_bytes(b"x")
    old = time.time() - 48 * 3600
    for path in (dead / "parts" / "x.parquet", dead / "parts", dead):
        os.utime(path, (old, old))
    assert stages.remove_stale_staging(wh, 24) == [dead]
    assert not dead.exists() and live.exists()
