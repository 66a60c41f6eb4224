"""``newsetl report``: one batch, or a range of batch dates, as a self-contained HTML page.

The page shows what came in and what went out (records read = articles loaded + records rejected,
per batch), why records were rejected, articles per source and per language, the most mentioned
entities, the quality checks of the runs, and three charts: records per batch, articles per
publication date, and one entity's mentions over the whole warehouse.

Everything is read from the ``news.duckdb`` catalog (read-only, values as bind parameters) and
only the current run of each batch counts. Charts are drawn with matplotlib and inlined as SVG,
so the page is one file that needs no network, script, stylesheet, font or image from elsewhere.

This package is the report's entry point (``build_report``, ``default_output``) and its public
API; the work is split by what it does:

- ``pipeline.report.data``: the dataclasses, ``ReportError`` and the SQL (``collect``);
- ``pipeline.report.charts``: the matplotlib charts, as inline SVG;
- ``pipeline.report.html``: the page (escaping, tables, sections, ``render``).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, date, datetime
from pathlib import Path

from pipeline.report.charts import chart_batches, chart_entity, chart_published
from pipeline.report.data import (
    TOP_ENTITIES,
    BatchRun,
    CheckRow,
    EntitySeries,
    LanguageRow,
    RejectReason,
    ReportData,
    ReportError,
    SourceRow,
    TopEntity,
    collect,
)
from pipeline.report.html import (
    CHECK_ORDER,
    PIVOT_MAX_BATCHES,
    STATUSES,
    TOP_SOURCES,
    Markup,
    render,
)
from pipeline.settings import Settings

__all__ = [
    "CHECK_ORDER",
    "PIVOT_MAX_BATCHES",
    "STATUSES",
    "TOP_ENTITIES",
    "TOP_SOURCES",
    "BatchRun",
    "CheckRow",
    "EntitySeries",
    "LanguageRow",
    "Markup",
    "RejectReason",
    "ReportData",
    "ReportError",
    "SourceRow",
    "TopEntity",
    "build_report",
    "chart_batches",
    "chart_entity",
    "chart_published",
    "collect",
    "default_output",
    "render",
]

LOGGER = logging.getLogger(__name__)


def default_output(settings: Settings, start: date, end: date) -> Path:
    """``<warehouse>/reports/report-<start>[_<end>].html``."""
    name = f"report-{start.isoformat()}" + (f"_{end.isoformat()}" if end != start else "")
    return settings.warehouse / "reports" / f"{name}.html"


def build_report(settings: Settings, start: date, end: date, entity: str | None, output: Path,
                 *, generated_at: datetime | None = None) -> Path:
    """Write the HTML report of the batches ``start``..``end`` (included) to ``output``.

    ``entity`` (a normalised name, ``entities.norm``) is charted over time; default: the range's
    most mentioned entity. ``generated_at`` (default: now) is printed in the page's footer. The
    file is written beside ``output`` and renamed into place. Raises ReportError when no batch is
    published in the range or the entity is unknown, CatalogError without a catalog.
    """
    from pipeline.catalog import connect

    if end < start:
        raise ReportError(f"the range ends ({end}) before it starts ({start})")
    con = connect(settings)
    try:
        data = collect(con, settings.warehouse, start, end, entity)
    finally:
        con.close()
    page = render(data, generated_at or datetime.now(UTC))
    _write_atomic(output, page)
    LOGGER.info("report of batches %s..%s (%d published) written to %s", start, end,
                len(data.batches), output)
    return output


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{socket.gethostname()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
