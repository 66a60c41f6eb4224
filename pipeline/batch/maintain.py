"""Upkeep of a warehouse beside the batches: monthly, closed months folded into month files and
the archive index's recent band rows merged into its main table (the nightly DAG after its
publish, ``newsetl compact``), both off the nightly publish's path; at every catalog refresh,
derived tables completed for versions published before they existed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from pipeline.batch.archive_index import ArchiveIndex
from pipeline.batch.places import ensure_places
from pipeline.catalog import views
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


def refresh_catalog(settings: Settings, force: bool = False) -> Path:
    """The catalog refresh every run and ``newsetl catalog`` do, after deriving the tables that
    versions published before them lack and that need more than storage to derive
    (``places``: the resolver; ``article_entities`` is the catalog's own upgrade)."""
    ensure_places(settings)
    return views.refresh_catalog(settings, force)
