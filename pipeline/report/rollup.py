"""What a range report rolls up: batches per week or month, and the batches worth a look."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

from pipeline.report.data import BatchRun, ReportData

ROLLUP_MIN_BATCHES: Final = 14
"""Up to two weeks of batches are listed one by one; more are rolled up per week or month."""
MAX_EXCEPTIONS: Final = 20


def periods(data: ReportData) -> tuple[str, list[tuple[object, ...]]]:
    """The unit (week, or month beyond half a year) and a row per period: label, batches,
    files, read, loaded, rejected, entities, batches not adding up."""
    monthly = (data.end - data.start).days > 183
    groups: dict[date, list[BatchRun]] = {}
    for b in data.batches:
        key = (b.batch_date.replace(day=1) if monthly
               else b.batch_date - timedelta(days=b.batch_date.weekday()))
        groups.setdefault(key, []).append(b)
    rows: list[tuple[object, ...]] = [
        (start.strftime("%Y-%m") if monthly else f"week of {start.isoformat()}",
         len(g), sum(b.input_files for b in g), sum(b.records_read for b in g),
         sum(b.articles_loaded for b in g), sum(b.records_rejected for b in g),
         sum(b.entities_found for b in g), sum(1 for b in g if not b.reconciles))
        for start, g in sorted(groups.items())]
    return ("month" if monthly else "week"), rows


def exceptions(data: ReportData) -> list[tuple[BatchRun, str]]:
    """Batches worth a look, the worst first, with why: not adding up, a failed or overridden
    check, a volume far from the range's median (under half, over twice), rejected records."""
    loads = sorted(b.articles_loaded for b in data.batches)
    median = loads[len(loads) // 2] if loads else 0
    flagged = {c.batch_date: c.check for c in data.checks
               if c.status in ("fail", "overridden")}
    found: list[tuple[float, BatchRun, str]] = []
    for b in data.batches:
        why = []
        if not b.reconciles:
            why.append("does not add up")
        if b.batch_date in flagged:
            why.append(f"check {flagged[b.batch_date]} failed or overridden")
        if median and not median / 2 <= b.articles_loaded <= median * 2:
            why.append(f"volume {b.articles_loaded:,} vs median {median:,}")
        if b.records_rejected:
            why.append(f"{b.records_rejected:,} rejected")
        if why:
            share = b.records_rejected / b.records_read if b.records_read else 1.0
            found.append((len(why) - 1 + share, b, "; ".join(why)))
    found.sort(key=lambda t: (-t[0], t[1].batch_date))
    return [(b, why) for _, b, why in found]
