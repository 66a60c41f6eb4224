"""Monthly upkeep of a warehouse, run by the nightly DAG after its publish and by
``newsetl compact``: closed months folded into month files, and the archive index's recent band
rows merged into its main table, both off the nightly publish's path."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date

from pipeline.batch.archive_index import ArchiveIndex
from pipeline.settings import Settings
from pipeline.warehouse import compaction, layout, storage

LOGGER = logging.getLogger(__name__)


def compact_closed(settings: Settings, before: date | None = None,
                   months: Iterable[str] | None = None) -> dict[str, str]:
    """Compact the closed months (or ``months``) and merge the index's band rows of every batch
    before the latest open month; month -> outcome (see ``compaction.compact_closed``)."""
    outcome = compaction.compact_closed(settings, before, months)
    wh = storage.Warehouse(settings.warehouse)
    days = layout.open_days(wh)
    if days:
        ArchiveIndex(wh).merge(before=days[-1].replace(day=1))
    return outcome
