"""Backfill: every day of an archive laid out like the landing folder, safely re-runnable.

A day is one batch (``<archive>/YYYY-MM-DD/``), run by the same stage functions as the nightly
DAG. A day whose current run used the same inputs (``runs.input_fingerprint``), the same code
version and, for every language, the NER model configured now is skipped, so an interrupted
backfill restarts where it stopped; ``force`` re-does it. A day enriched by an older model is run
again: its unchanged files are carried over, not re-read, and only their articles are enriched
again (the route to re-enrich an archive after a model upgrade).
Days run in parallel processes when asked (each batch has its own lock, so two days never touch
each other's partitions); the catalog is refreshed once at the end. Progress is reported in days,
from this process as results arrive (workers stay silent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipeline import stages
from pipeline.batch.common import enriched_by_current
from pipeline.batch.plan import ner_labels
from pipeline.enrich.ner import collect_before_fork
from pipeline.ingest import readers
from pipeline.progress import NO_PROGRESS, Progress
from pipeline.settings import Settings
from pipeline.warehouse.storage import Warehouse

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayResult:
    batch_date: date
    status: str
    """``loaded``, ``skipped`` (same inputs and code), ``empty`` (no files) or ``failed``."""
    detail: str


def days(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end``, both included."""
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def run_day(archive: Path, day: date, settings: Settings, force: bool) -> DayResult:
    """One day of the backfill (also the unit a worker process runs)."""
    files = readers.landing_files(archive, day, day + timedelta(days=1))
    if not files:
        return DayResult(day, "empty", f"no files in {archive / day.isoformat()}")
    current = stages.current_run(settings, day)
    if current is not None and not force:
        same_code = current["code_version"] == settings.resolved_code_version()
        if same_code and current.get("input_fingerprint") == stages.input_fingerprint(files) \
                and _enriched_by_current_models(settings, day):
            return DayResult(day, "skipped", f"run {current['run_id']} already published "
                             "these inputs with this code version and these NER models")
    try:
        plan = stages.plan_batch(files, day, settings)
        parsed = [stages.parse_shard(shard, day, settings) for shard in plan.shards]
        stages.enrich_shards([parts["articles"] for parts in parsed], day, settings)
        stages.publish_batch(plan.path, day, settings)
    except Exception as exc:  # one bad day must not stop the others; it is reported
        LOGGER.exception("backfill day %s failed", day)
        return DayResult(day, "failed", f"{type(exc).__name__}: {exc}")
    return DayResult(day, "loaded", f"run {plan.run_id}")


def _enriched_by_current_models(settings: Settings, day: date) -> bool:
    """Whether every article of the day's published version was enriched by the model now
    configured for its language (none where there is none): reads two columns of one batch."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    version = Warehouse(settings.warehouse).current_version(day)
    if version is None:
        return False
    articles = ds.dataset(str(version / "articles"), format="parquet")
    if "ner_model" not in articles.schema.names:
        return False
    table = articles.to_table(columns=["language", "ner_model"])
    return bool(pc.all(enriched_by_current(table, ner_labels(settings))).as_py())


def _run_day_in_worker(archive: str, day: str, settings: dict[str, Any],
                       force: bool) -> DayResult:
    return run_day(Path(archive), date.fromisoformat(day), Settings.from_mapping(settings), force)


def backfill(archive: Path, start: date, end: date, settings: Settings, parallel: int = 1,
             force: bool = False, on_day: Callable[[DayResult], None] | None = None,
             progress: Progress = NO_PROGRESS) -> list[DayResult]:
    """Run every day of ``[start, end]``; returns one result per day, in date order.

    ``on_day`` gets each day's result as it arrives; ``progress`` counts days as ``backfill``
    (done/total, with loaded/skipped/failed tallies).
    """
    from pipeline.batch.maintain import refresh_catalog

    results: list[DayResult] = []
    todo = days(start, end)

    def arrived(result: DayResult) -> None:
        results.append(result)
        if on_day:
            on_day(result)
        progress.advance("backfill", done=1, **{result.status: 1})

    progress.start("backfill", len(todo), "days", per_minute=True,
                   counts=("loaded", "skipped", "failed"))
    if parallel <= 1:
        for day in todo:
            arrived(run_day(archive, day, settings, force))
    else:
        collect_before_fork()
        with ProcessPoolExecutor(max_workers=parallel) as pool:
            futures = [pool.submit(_run_day_in_worker, str(archive), d.isoformat(),
                                   settings.to_dict(), force) for d in todo]
            for future in as_completed(futures):
                arrived(future.result())
    progress.finish("backfill")
    if any(r.status == "loaded" for r in results) or not settings.warehouse.joinpath(
            "news.duckdb").exists():
        try:
            refresh_catalog(settings)
        except Exception as exc:  # nothing published at all: say so, do not crash
            LOGGER.warning("catalog not refreshed: %s", exc)
    return sorted(results, key=lambda r: r.batch_date)
