"""Compaction of closed months: a month's day partitions folded into a few files per table.

A year of nightly batches is 365 partitions of every table, each a few small files: DuckDB opens
and reads the footer of every file a query touches, and the catalog's views bind over all of
them, so queries and a catalog rebuild grew with the archive's days (``bench/small_files.py``).
A closed month's days are copied, in day order, into one month version per table (``batch_date``
stored in the rows, row groups of the usual size, sorted by day so a filter on it skips row
groups), and the month's day links are replaced by one month link in a single switch of the
table links (``pipeline.warehouse.layout``): a reader sees the days or the month, never both
and never neither.

The day versions stay the truth the pipeline reads (manifests, the archive index, re-runs): the
month is a read-optimised copy of them. Its ``days.json`` names the day versions it was built
from. A run that publishes a day of a compacted month again puts the month back to its day links
(the month copy holds the day's old version), and the next compaction folds it again.

Safe beside a nightly run: the month is built without any lock, from the day versions current
when it starts; the switch happens under the layout lock only if they are still current (and no
day was added), otherwise the build is dropped (``CompactionConflict``) and the live state is
untouched. A crash before the switch leaves an unreferenced month folder that the next
compaction of the month replaces.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.settings import Settings
from pipeline.warehouse import layout, storage
from pipeline.warehouse.schemas import PARTITION_COLUMN

LOGGER = logging.getLogger(__name__)

DAYS_FILE = "days.json"


class CompactionError(RuntimeError):
    """A month cannot be compacted (it is not closed, or nothing of it is published)."""


class CompactionConflict(CompactionError):
    """A day of the month was published while it was being compacted; try again later."""


def _month_id(versions: dict[date, Path]) -> str:
    digest = hashlib.sha256("".join(f"{d.isoformat()}:{v.name}\n"
                                    for d, v in sorted(versions.items())).encode())
    return digest.hexdigest()[:16]


def _published(wh: storage.Warehouse, month: str) -> dict[date, Path]:
    """The month's published days and their current versions (a lookup per calendar day)."""
    out: dict[date, Path] = {}
    for day in layout.days_of(month):
        version = wh.current_version(day)
        if version is not None:
            out[day] = version
    return out


def _copy_table(versions: dict[date, Path], out: Path, table: str, settings: Settings) -> int:
    schema = layout.month_schema(table)
    writer = storage.RowGroupWriter(out / table, table, settings.row_group_rows,
                                    settings.max_file_rows, schema=schema)
    for day, version in sorted(versions.items()):
        for part in sorted((version / table).glob("*.parquet")):
            for rb in pq.ParquetFile(part).iter_batches(batch_size=settings.row_group_rows):
                data = storage.conform(pa.Table.from_batches([rb]), table)
                data = data.append_column(schema.field(PARTITION_COLUMN),
                                          pa.array([day] * data.num_rows, pa.date32()))
                writer.write(data)
    writer.close()
    return writer.rows


def compact_month(settings: Settings, month: str) -> Path | None:
    """Fold ``month`` (``YYYY-MM``) into its month version and switch the links to it; the
    month version, or None when the month has no open day (compacted already, or nothing
    published). The month must be closed: an open day of a later month must remain, which
    also keeps the day glob of the views bound."""
    from pipeline.warehouse.derived import ensure_derived

    wh = storage.Warehouse(settings.warehouse)
    open_days = layout.open_days(wh)
    if not any(layout.month_of(d) == month for d in open_days):
        return None
    if not any(layout.month_of(d) > month for d in open_days):
        raise CompactionError(
            f"month {month} is not closed: no later day is published (the latest month stays "
            "open; it is compacted once a day of the next month is published)")
    ensure_derived(settings, batches=sorted(_published(wh, month)))
    versions = _published(wh, month)
    month_id = _month_id(versions)
    out = wh.root / storage.STORE / layout.month_link(month) / month_id
    if out.exists():  # a crashed or dropped build of the same days
        shutil.rmtree(out)
    rows = {table: _copy_table(versions, out, table, settings)
            for table in storage.table_names()}
    storage.write_json(out / DAYS_FILE, {d.isoformat(): v.name
                                         for d, v in sorted(versions.items())})
    if settings.fsync:
        storage.sync_tree(out)
    with layout.layout_lock(wh):
        if _published(wh, month) != versions:
            shutil.rmtree(out, ignore_errors=True)
            raise CompactionConflict(
                f"month {month}: a day was published while it was being compacted; the "
                "month stays as it was (run the compaction again)")
        layout.switch_to_month(wh, month, month_id, versions, settings.fsync)
    for other in out.parent.iterdir():  # month versions the links no longer name
        if other.is_dir() and other.name != month_id:
            shutil.rmtree(other, ignore_errors=True)
    LOGGER.info("month %s compacted: %d days, %s", month, len(versions),
                ", ".join(f"{t} {n}" for t, n in rows.items()))
    return out


def closed_months(wh: storage.Warehouse, before: date | None = None) -> list[str]:
    """Months with open days that are closed: earlier than the latest open day's month (and
    than ``before``'s month, when given). Read from the live links: open days only."""
    days = layout.open_days(wh)
    if not days:
        return []
    limit = layout.month_of(days[-1])
    if before is not None:
        limit = min(limit, layout.month_of(before))
    return sorted({layout.month_of(d) for d in days if layout.month_of(d) < limit})


def compact_closed(settings: Settings, before: date | None = None,
                   months: Iterable[str] | None = None) -> dict[str, str]:
    """Compact every closed month with open days (or ``months``); month -> outcome. A month
    in conflict with a concurrent run is reported and left for the next call."""
    wh = storage.Warehouse(settings.warehouse)
    outcome: dict[str, str] = {}
    for month in (sorted(months) if months is not None else closed_months(wh, before)):
        try:
            done = compact_month(settings, month)
        except CompactionError as exc:
            LOGGER.warning("%s", exc)
            outcome[month] = f"skipped: {exc}"
            continue
        outcome[month] = "compacted" if done is not None else "nothing to compact"
    return outcome
