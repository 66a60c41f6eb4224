"""The table links readers glob, switched as a whole.

Readers (the catalog's views) glob ``<table>/batch_date=*/*.parquet`` (open days, Hive
partitioned) and ``<table>/batch_month=*/*.parquet`` (closed months compacted into a few files,
``batch_date`` stored in them). Compacting a month replaces ~30 day links per table by one month
link; done link by link, a reader would see a month twice or not at all in between. So the links
live in a generation folder and one symlink names the live generation::

    <table>      -> _layout/<table>                       made once
    _layout      -> _layouts/<gen>                        the switch: one rename(2)
    _layouts/<gen>/<table>/batch_date=D  -> ../../../_current/batch_date=D/<table>
    _layouts/<gen>/<table>/batch_month=M -> ../../../_store/batch_month=M/<id>/<table>
    _layouts/<gen>/<table>/batch_month=none/empty.parquet    zero rows (see ``SEED``)

A new day's links are added to the live generation in place (a link appears atomically); a
change that removes links (compacting a month, or a re-run of a day in a compacted month, which
puts the month back to its day links) writes a new generation and flips ``_layout``. Every change
holds the warehouse's layout lock, so two writers never build generations from the same parent.
A generation holds the links of open days and compacted months only, so writing one costs what
the open days and the months cost, not what the archive's days do.

A query running at the instant of a flip may fail to open a file that moved into a month (run it
again); queries started after it see the new generation.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.warehouse import storage
from pipeline.warehouse.schemas import PARTITION_COLUMN, TABLES, file_schema

LOGGER = logging.getLogger(__name__)

LAYOUT: Final = "_layout"
LAYOUTS: Final = "_layouts"
DAY_PREFIX: Final = "batch_date="
MONTH_PREFIX: Final = "batch_month="
SEED: Final = "batch_month=none"
"""A folder with one zero-row file per table: DuckDB fails on a glob that matches nothing, and
the month glob must bind before any month is compacted."""
SEED_FILE: Final = "empty.parquet"
LOCK_FILE: Final = "layout.lock"


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def days_of(month: str) -> list[date]:
    """The calendar days of ``YYYY-MM``."""
    first = date.fromisoformat(f"{month}-01")
    out: list[date] = []
    day = first
    while day.month == first.month:
        out.append(day)
        day += timedelta(days=1)
    return out


def month_schema(table: str) -> pa.Schema:
    """Schema of a compacted month's files: the file schema plus ``batch_date``, stored in the
    file because one file holds many days (a Hive folder names one)."""
    return file_schema(table).append(TABLES[table].field(PARTITION_COLUMN))


def day_link(day: date) -> str:
    return f"{DAY_PREFIX}{day.isoformat()}"


def month_link(month: str) -> str:
    return f"{MONTH_PREFIX}{month}"


def _day_target(day: date, table: str) -> str:
    return f"../../../{storage.CURRENT}/{day_link(day)}/{table}"


def month_target(month: str, version_id: str, table: str) -> str:
    return f"../../../{storage.STORE}/{month_link(month)}/{version_id}/{table}"


@contextlib.contextmanager
def layout_lock(wh: storage.Warehouse) -> Iterator[None]:
    """Exclusive lock on the table links; waits for the holder (changes are short)."""
    storage.check_shared_storage(wh.root)
    path = wh.root / storage.LOCKS / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def live(wh: storage.Warehouse) -> Path | None:
    """The live generation folder, or None before the first one."""
    link = wh.root / LAYOUT
    if not link.is_symlink():
        return None
    return wh.root / os.readlink(link)


def entries(wh: storage.Warehouse, table: str = "articles") -> dict[str, str]:
    """Link name -> target of one table in the live generation (seed excluded)."""
    gen = live(wh)
    if gen is None or not (gen / table).is_dir():
        return {}
    return {p.name: os.readlink(p) for p in (gen / table).iterdir() if p.is_symlink()}


def open_days(wh: storage.Warehouse) -> list[date]:
    """Days linked one by one (not in a compacted month), from the live generation."""
    return sorted(date.fromisoformat(name[len(DAY_PREFIX):]) for name in entries(wh)
                  if name.startswith(DAY_PREFIX))


def compacted_months(wh: storage.Warehouse) -> dict[str, str]:
    """Compacted month -> the id of its month version, from the live generation."""
    out: dict[str, str] = {}
    for name, target in entries(wh).items():
        if name.startswith(MONTH_PREFIX):
            out[name[len(MONTH_PREFIX):]] = Path(target).parent.name
    return out


def _write_seed(folder: Path, table: str) -> None:
    seed = folder / SEED / SEED_FILE
    seed.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(month_schema(table).empty_table(), seed, compression=storage.COMPRESSION)


def _generation(wh: storage.Warehouse, links: Mapping[str, Mapping[str, str]],
                durable: bool) -> Path:
    """Write a generation folder holding ``links`` (table -> name -> target) and the seeds."""
    # a new name every time: the same links written twice must not replace the live folder
    gen = wh.root / LAYOUTS / f"gen-{uuid.uuid4().hex[:16]}"
    for table in storage.table_names():
        folder = gen / table
        folder.mkdir(parents=True)
        _write_seed(folder, table)
        for name, target in links.get(table, {}).items():
            os.symlink(target, folder / name)
    if durable:
        storage.sync_tree(gen)
    return gen


def _flip(wh: storage.Warehouse, gen: Path, durable: bool) -> None:
    """Make ``gen`` the live generation and remove the others (unreachable after the flip)."""
    old = live(wh)
    storage.replace_symlink(wh.root / LAYOUT, os.path.relpath(gen, wh.root))
    if durable:
        storage.fsync_dir(wh.root)
    for other in (wh.root / LAYOUTS).iterdir():  # old generations, crashed writers' leftovers
        if other.is_dir() and other.name != gen.name:
            shutil.rmtree(other, ignore_errors=True)
    LOGGER.debug("layout: %s -> %s", old, gen.name)


def _live_links(wh: storage.Warehouse) -> dict[str, dict[str, str]]:
    """Every table's links in the live generation (``entries`` of each)."""
    return {t: entries(wh, t) for t in storage.table_names()}


def ensure(wh: storage.Warehouse, durable: bool = True) -> None:
    """Give the warehouse its generation layout (held under the layout lock by the caller).

    A warehouse from before it has real ``<table>`` folders of day links: their links are
    copied into a first generation, then each folder is replaced by the link to ``_layout``
    (a folder cannot be renamed over, so for an instant the table's folder is missing: done
    once, the first time a run of this version changes the links)."""
    gen = live(wh)
    tables = storage.table_names()
    if gen is None:
        links: dict[str, dict[str, str]] = {}
        for table in tables:
            folder = wh.root / table
            if folder.is_dir() and not folder.is_symlink():
                # day links one level deeper now: <root>/<table>/x -> ../_current/... becomes
                # _layouts/<gen>/<table>/x -> ../../../_current/...
                links[table] = {p.name: _day_target(date.fromisoformat(
                    p.name[len(DAY_PREFIX):]), table)
                    for p in folder.iterdir()
                    if p.is_symlink() and p.name.startswith(DAY_PREFIX)}
        gen = _generation(wh, links, durable)
        storage.replace_symlink(wh.root / LAYOUT, os.path.relpath(gen, wh.root))
    for table in tables:
        folder = wh.root / table
        target = f"{LAYOUT}/{table}"
        if folder.is_symlink():
            if os.readlink(folder) != target:
                storage.replace_symlink(folder, target)
            continue
        if folder.is_dir():
            aside = wh.root / LAYOUTS / f".legacy-{table}-{storage.temp_suffix()}"
            os.rename(folder, aside)
            storage.replace_symlink(folder, target)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            storage.replace_symlink(folder, target)
    if not all((gen / t / SEED / SEED_FILE).exists() for t in tables):  # a table added later
        for table in tables:
            (gen / table).mkdir(parents=True, exist_ok=True)
            if not (gen / table / SEED / SEED_FILE).exists():
                _write_seed(gen / table, table)
    if durable:
        storage.fsync_dir(wh.root)


def link_day(wh: storage.Warehouse, day: date, tables: Iterable[str],
             durable: bool = True) -> None:
    """Make the day's published version visible through the table links.

    An open month gets the day's links in place; a compacted month goes back to day links
    (all its published days, in a new generation): the month file holds the day's old
    version, and the next compaction folds the month again."""
    tables = list(tables)
    with layout_lock(wh):
        ensure(wh, durable)
        month = month_of(day)
        links = _live_links(wh)
        if month_link(month) in links["articles"]:
            reopened = [d for d in days_of(month) if wh.pointer(d).is_symlink()]
            for table in links:
                links[table].pop(month_link(month), None)
                links[table].update((day_link(d), _day_target(d, table)) for d in reopened)
            _flip(wh, _generation(wh, links, durable), durable)
            LOGGER.info("month %s: a day was published again (%s); the month is back to its "
                        "%d day links until it is compacted again", month, day, len(reopened))
            return
        gen = live(wh)
        assert gen is not None
        for table in tables:
            link = gen / table / day_link(day)
            target = _day_target(day, table)
            if not (link.is_symlink() and os.readlink(link) == target):
                storage.replace_symlink(link, target)
        if durable:
            for table in tables:
                storage.fsync_dir(gen / table)


def unlink_day(wh: storage.Warehouse, day: date) -> None:
    """Remove a day's links (its batch is no longer published)."""
    with layout_lock(wh):
        gen = live(wh)
        if gen is None:
            return
        for table in storage.table_names():
            with contextlib.suppress(FileNotFoundError):
                (gen / table / day_link(day)).unlink()


def switch_to_month(wh: storage.Warehouse, month: str, version_id: str,
                    days: Iterable[date], durable: bool = True) -> None:
    """Replace ``days``' links by the month's (held under the layout lock by the caller)."""
    ensure(wh, durable)
    links = _live_links(wh)
    gone = {day_link(d) for d in days}
    for table in links:
        links[table] = {n: t for n, t in links[table].items() if n not in gone}
        links[table][month_link(month)] = month_target(month, version_id, table)
    _flip(wh, _generation(wh, links, durable), durable)


def swap_in(wh: storage.Warehouse, batch_date: date, version: Path, tables: Iterable[str],
            keep_previous: bool, durable: bool = True) -> None:
    """Make ``version`` the published state of the batch, then drop every other version but
    the one it replaced (kept for rollback when ``keep_previous``): orphans of crashed runs go.

    ``durable``: the version's files and folders are flushed to disk before the flip, and the
    folders holding the flipped links after it (the way SQLite and PostgreSQL make a rename
    durable): without it a power loss just after the flip could leave a published pointer to
    files that never reached the disk."""
    previous = wh.current_version(batch_date)
    pointer = wh.pointer(batch_date)
    started = time.perf_counter()
    synced = storage.sync_tree(version) if durable else 0
    storage.replace_symlink(pointer, os.path.relpath(version, pointer.parent))
    if durable:
        storage.fsync_dir(pointer.parent)
    link_day(wh, batch_date, tables, durable)
    if durable:
        LOGGER.info("batch %s: %d files and their folders synced to disk in %.3f s",
                    batch_date, synced, time.perf_counter() - started)
    keep = {version.resolve()} | ({previous} if keep_previous and previous else set())
    for old in version.parent.iterdir():
        if old.is_dir() and old.resolve() not in keep:
            LOGGER.info("removing version %s", old)
            shutil.rmtree(old, ignore_errors=True)
