"""article_entities, derived at publish: what entity_mentions_daily adds up. Its figures must
equal the recomputation from entities and articles whatever order batches are published in,
and a warehouse published before the table existed gets it on the next catalog refresh."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from pipeline import stages
from pipeline.catalog import views as catalog
from pipeline.ingest import readers
from pipeline.settings import Settings
from pipeline.warehouse import derived, storage
from tests.conftest import SAMPLES
from tests.test_sql_model import mentions_daily, view_rows


def _open(settings: Settings) -> Any:
    return duckdb.connect(str(settings.warehouse / "news.duckdb"), read_only=True)


def test_rows_add_up_to_the_entities_of_each_article(demo_warehouse: Settings) -> None:
    con = _open(demo_warehouse)
    try:
        derived_counts = dict(con.execute(
            "SELECT article_id || '|' || batch_date, sum(mentions) FROM article_entities "
            "GROUP BY ALL").fetchall())
        entity_counts = dict(con.execute(
            "SELECT article_id || '|' || batch_date, count(*) FROM entities "
            "GROUP BY ALL").fetchall())
        days = con.execute(
            "SELECT count(*) FROM article_entities AS e JOIN articles AS a "
            "USING (article_id, batch_date) WHERE e.day IS DISTINCT FROM a.published_day "
            "OR e.story_id <> a.duplicate_cluster_id").fetchone()[0]
    finally:
        con.close()
    assert derived_counts == entity_counts and len(entity_counts) > 5
    assert days == 0
    # Sorted by day within each batch, so a filter on day skips row groups.
    for path in (demo_warehouse.warehouse / "article_entities").glob("*/*.parquet"):
        column = pq.read_table(path, columns=["day"]).column("day").to_pylist()
        dated = [d for d in column if d is not None]
        assert dated == sorted(dated) and column[len(dated):] == [None] * (len(column) - len(dated))


def test_out_of_order_publishing_counts_the_first_delivery(tmp_path: Path) -> None:
    """The seed article arrives on 2023-01-31 and again on 2023-02-02; publishing the later
    batch first must not count it twice once the earlier one lands."""
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh", "landing": SAMPLES})
    days = sorted(date.fromisoformat(p.name) for p in SAMPLES.iterdir() if p.is_dir())
    for batch in sorted(days, reverse=True):
        stages.run_batch(readers.landing_files(SAMPLES, batch, batch + timedelta(days=1)),
                         batch, settings)
    con = _open(settings)
    try:
        got = view_rows(con, "entity_mentions_daily")
    finally:
        con.close()
    assert got == mentions_daily(settings)
    assert got[(date(2023, 1, 1), "month", "PER", "Jens Stoltenberg")][1] == 1


def test_older_warehouse_gets_the_table_on_catalog_refresh(demo_warehouse: Settings,
                                                           tmp_path: Path) -> None:
    copy = tmp_path / "warehouse"
    shutil.copytree(demo_warehouse.warehouse, copy, symlinks=True)
    settings = Settings.from_mapping({"warehouse": copy})
    wh = storage.Warehouse(copy)
    before = {}
    for batch in wh.published_batches():  # as published by a version without the table
        version = wh.current_version(batch)
        assert version is not None
        before[batch] = pq.read_table(version / derived.TABLE)
        shutil.rmtree(version / derived.TABLE)
        wh.table_link(derived.TABLE, batch).unlink()
    derived._complete_marker(wh).unlink(missing_ok=True)  # written by this version only
    (version / f".{derived.TABLE}.tmp-1").mkdir()  # left by a crashed upgrade
    locked = wh.published_batches()[0]
    with storage.batch_lock(wh, locked):  # being published (or upgraded) by another run
        done = derived.ensure_derived(settings)
    assert len(done) == len(before) - 1 and locked not in done_batches(wh, done)
    catalog.refresh_catalog(settings, force=True)  # now the locked one too
    for batch, table in before.items():
        version = wh.current_version(batch)
        assert version is not None
        again = pq.read_table(version / derived.TABLE)
        assert again.equals(table)  # run_id too: the version's run
        assert not list(version.glob(f".{derived.TABLE}.tmp-*"))
    con = _open(settings)
    try:
        assert view_rows(con, "entity_mentions_daily") == mentions_daily(demo_warehouse)
    finally:
        con.close()
    assert derived.ensure_derived(settings) == []  # nothing left to do


def done_batches(wh: storage.Warehouse, versions: list[Path]) -> set[date]:
    return {b for b in wh.published_batches() if wh.current_version(b) in versions}


def test_empty_batch_has_an_empty_table(tmp_path: Path) -> None:
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh"})
    version = stages.run_batch([], date(2023, 5, 1), settings).version
    assert pq.read_table(version / derived.TABLE).num_rows == 0
