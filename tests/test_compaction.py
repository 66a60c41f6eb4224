"""Compaction of closed months: the views answer the same rows from month files as from the
day partitions, the switch is all or nothing (a crash, a concurrent publish), a re-run of a
day in a compacted month is seen at once, and older warehouses get the link layout."""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline import stages
from pipeline.catalog import views
from pipeline.cli import main
from pipeline.ingest import readers
from pipeline.settings import Settings
from pipeline.warehouse import compaction, layout, storage
from tests.test_archive_index import body, edited

DAYS = [date(2024, 1, 29) + timedelta(days=i) for i in range(6)]  # 3 in January, 3 in February
JANUARY = "2024-01"


def _landing(root: Path, day: date, rng: random.Random, pool: list[str], extra: int = 0) -> Path:
    landing = root / "landing" / day.isoformat()
    landing.mkdir(parents=True, exist_ok=True)
    for i in range(rng.randint(5, 9) + extra):
        text = edited(rng, rng.choice(pool), 0.05) if pool and rng.random() < 0.3 else body(rng)
        if rng.random() < 0.6:  # names the tiny ruler finds
            text += rng.choice((" Jens Stoltenberg traf die NATO in Seoul.",
                                " Südkorea und Nordkorea, meldet KCNA."))
        pool.append(text)
        (landing / f"{i:03d}_{rng.getrandbits(32):08x}.txt").write_bytes(
            f" date {day.isoformat()} {text[:50]}\n\n{text}\n".encode())
    return landing


def _build(root: Path, tiny_ner: Path, seed: int = 3) -> Settings:
    rng = random.Random(seed)
    settings = Settings.from_mapping({
        "warehouse": root / "wh", "quality_gate": False,
        "ner_models": {"de": str(tiny_ner), "en": "none"}})
    pool: list[str] = []
    for day in DAYS:
        stages.run_batch(readers.list_input_files(_landing(root, day, rng, pool)), day,
                         settings)
    return settings


TABLES = ("articles", "entities", "article_entities", "time_mentions", "rejects", "runs",
          "quality_checks", "manifest")


def _rows(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every view's rows, sorted (the order of files is not part of a table)."""
    con = views.connect(settings)
    try:
        out = {}
        for name in (*TABLES, "articles_dedup", "entity_mentions_daily", "sources"):
            rows = con.table(name).fetchall()
            out[name] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def _files(settings: Settings, table: str) -> int:
    con = views.connect(settings)
    try:
        return int(con.execute("SELECT count(*) FROM glob(table_glob($t))", {"t": table})
                   .fetchone()[0] + con.execute("SELECT count(*) FROM glob(month_glob($t))",
                                                {"t": table}).fetchone()[0])
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tiny_ner: Path) -> Settings:
    return _build(tmp_path_factory.mktemp("compaction"), tiny_ner)


def _copy(built: Settings, tmp_path: Path) -> Settings:
    """A copy of the built warehouse (and its landing folder) to change."""
    shutil.copytree(built.warehouse.parent, tmp_path / "w", symlinks=True)
    return dataclasses.replace(built, warehouse=tmp_path / "w" / "wh")


def test_a_compacted_month_answers_what_its_days_did(built: Settings, tmp_path: Path) -> None:
    settings = _copy(built, tmp_path)
    wh = storage.Warehouse(settings.warehouse)
    before = _rows(settings)
    assert all(before[t] for t in ("articles", "entities", "article_entities", "runs"))
    files_before = {t: _files(settings, t) for t in TABLES}

    assert compaction.closed_months(wh) == [JANUARY]
    assert compaction.compact_closed(settings) == {JANUARY: "compacted"}
    assert _rows(settings) == before
    assert layout.compacted_months(wh).keys() == {JANUARY}
    assert [d for d in layout.open_days(wh)] == DAYS[3:]
    for table in TABLES:  # three January day partitions became one month file (+ the seed)
        assert _files(settings, table) < files_before[table], table
        assert not list((wh.root / table).glob("batch_date=2024-01-*"))
    # one file holds the month's days, in day order
    [month] = (wh.root / "articles" / "batch_month=2024-01").glob("*.parquet")
    days = pq.read_table(month, columns=["batch_date"]).column(0).to_pylist()
    assert days == sorted(days) and set(days) == set(DAYS[:3])
    assert len(days) == sum(1 for r in before["articles"] if r[1] in DAYS[:3])
    # nothing left to do, and the latest month stays open
    assert compaction.compact_closed(settings) == {}
    with pytest.raises(compaction.CompactionError, match="not closed"):
        compaction.compact_month(settings, "2024-02")
    # a filter on batch_date reads the month's rows of that day only
    con = views.connect(settings)
    try:
        n = con.execute("SELECT count(*) FROM articles WHERE batch_date = $d",
                        {"d": DAYS[1]}).fetchone()[0]
    finally:
        con.close()
    assert n == sum(1 for r in before["articles"] if r[1] == DAYS[1])


def test_a_rerun_day_of_a_compacted_month_is_seen_at_once(built: Settings,
                                                          tmp_path: Path) -> None:
    settings = _copy(built, tmp_path)
    wh = storage.Warehouse(settings.warehouse)
    compaction.compact_closed(settings)
    day = DAYS[1]
    landing = settings.warehouse.parent / "landing" / day.isoformat()
    (landing / "999_extra.txt").write_bytes(f" date {day}\n\n{body(random.Random(9))}\n"
                                            .encode())
    stages.run_batch(readers.list_input_files(landing), day, settings)
    assert JANUARY not in layout.compacted_months(wh)  # back to its days
    rerun = _rows(settings)
    ids = [(r[0], r[1]) for r in rerun["articles"]]
    assert len(ids) == len(set(ids))  # no article twice in a batch
    assert any(r[2].endswith("999_extra.txt") for r in rerun["articles"])
    assert compaction.compact_closed(settings) == {JANUARY: "compacted"}
    assert _rows(settings) == rerun
    # one month version on disk: the superseded one is gone
    assert len(list((wh.root / storage.STORE / "batch_month=2024-01").iterdir())) == 1


def test_a_publish_during_compaction_wins(built: Settings, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _copy(built, tmp_path)
    wh = storage.Warehouse(settings.warehouse)
    day = DAYS[0]
    landing = settings.warehouse.parent / "landing" / day.isoformat()
    real_copy = compaction._copy_table
    published = []

    def copy_then_publish(*args: Any, **kwargs: Any) -> int:
        rows = real_copy(*args, **kwargs)
        if not published:  # a re-run of a January day lands while the month is being built
            (landing / "998_late.txt").write_bytes(f" date {day}\n\n{body(random.Random(5))}\n"
                                                   .encode())
            stages.run_batch(readers.list_input_files(landing), day, settings)
            published.append(day)
        return rows

    monkeypatch.setattr(compaction, "_copy_table", copy_then_publish)
    with pytest.raises(compaction.CompactionConflict, match="2024-01"):
        compaction.compact_month(settings, JANUARY)
    after_publish = _rows(settings)
    assert layout.compacted_months(wh) == {}
    assert not (wh.root / storage.STORE / "batch_month=2024-01").exists() or not any(
        (wh.root / storage.STORE / "batch_month=2024-01").iterdir())
    assert any(r[2].endswith("998_late.txt") for r in after_publish["articles"])
    monkeypatch.setattr(compaction, "_copy_table", real_copy)
    assert compaction.compact_closed(settings) == {JANUARY: "compacted"}
    assert _rows(settings) == after_publish


def test_a_crash_before_the_switch_leaves_the_days(built: Settings, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _copy(built, tmp_path)
    wh = storage.Warehouse(settings.warehouse)
    before = _rows(settings)
    live = layout.live(wh)

    def crash(*_: Any, **__: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(layout, "switch_to_month", crash)
    with pytest.raises(OSError, match="disk gone"):
        compaction.compact_month(settings, JANUARY)
    assert layout.live(wh) == live and _rows(settings) == before
    monkeypatch.undo()
    assert compaction.compact_closed(settings) == {JANUARY: "compacted"}
    assert _rows(settings) == before
    assert len(list((wh.root / storage.STORE / "batch_month=2024-01").iterdir())) == 1


def test_an_older_warehouse_gets_the_link_layout(built: Settings, tmp_path: Path) -> None:
    """Table folders of day links (before generations) are taken over on the next refresh."""
    settings = _copy(built, tmp_path)
    wh = storage.Warehouse(settings.warehouse)
    before = _rows(settings)
    for table in storage.table_names():  # rebuild the old layout: real folders of links
        os.unlink(wh.root / table)
        (wh.root / table).mkdir()
        for day in DAYS:
            os.symlink(f"../{storage.CURRENT}/batch_date={day.isoformat()}/{table}",
                       wh.root / table / f"batch_date={day.isoformat()}")
    os.unlink(wh.root / layout.LAYOUT)
    shutil.rmtree(wh.root / layout.LAYOUTS)
    with pytest.raises(Exception, match=r"(?i)no files found"):  # the views want the seeds
        _rows(settings)
    views.refresh_catalog(settings, force=True)
    assert all((wh.root / t).is_symlink() for t in storage.table_names())
    assert _rows(settings) == before
    assert compaction.compact_closed(settings) == {JANUARY: "compacted"}
    assert _rows(settings) == before


def test_cli_compacts_closed_months(built: Settings, tmp_path: Path) -> None:
    settings = _copy(built, tmp_path)
    runner = CliRunner()
    args = ["--warehouse", str(settings.warehouse), "compact"]
    result = runner.invoke(main, [*args, "--month", "2024-13"])
    assert result.exit_code == 2 and "not a month" in result.output
    result = runner.invoke(main, [*args, "--month", "2024-02"])
    assert result.exit_code == 1 and "2024-02: skipped: month 2024-02 is not closed" in \
        result.output
    result = runner.invoke(main, [*args, "--before", "2024-01-15"])
    assert result.exit_code == 0 and "nothing to compact" in result.output
    result = runner.invoke(main, args)
    assert result.exit_code == 0 and "2024-01: compacted" in result.output


def _rerun_january_day(settings: Settings, barrier: Any) -> None:
    day = DAYS[2]
    landing = settings.warehouse.parent / "landing" / day.isoformat()
    barrier.wait()
    stages.run_batch(readers.list_input_files(landing), day, settings)


def _compact_january(settings: Settings, barrier: Any) -> None:
    barrier.wait()
    compaction.compact_closed(settings, months=[JANUARY])


def test_compaction_beside_a_publish_in_another_process(built: Settings,
                                                        tmp_path: Path) -> None:
    """A nightly-style publish of a January day and the compaction of January start at once in
    two processes: whichever wins, every article is in the views once, with the re-run's rows."""
    import multiprocessing

    settings = _copy(built, tmp_path)
    day = DAYS[2]
    landing = settings.warehouse.parent / "landing" / day.isoformat()
    (landing / "997_race.txt").write_bytes(f" date {day}\n\n{body(random.Random(11))}\n"
                                           .encode())
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    workers = [ctx.Process(target=f, args=(settings, barrier))
               for f in (_rerun_january_day, _compact_january)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    rows = _rows(settings)
    ids = [(r[0], r[1]) for r in rows["articles"]]
    assert len(ids) == len(set(ids))
    assert any(r[2].endswith("997_race.txt") for r in rows["articles"])
    compaction.compact_closed(settings)  # whatever happened, January can be folded now
    assert _rows(settings) == rows
