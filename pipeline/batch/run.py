"""Every stage of one batch in this process (``newsetl run``): plan, parse (in a pool of forked
workers), enrich, publish, then refresh the catalog."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipeline.batch.common import STAGED_TABLES
from pipeline.batch.enrich import enrich_shards
from pipeline.batch.parse import parse_shard
from pipeline.batch.plan import plan_batch
from pipeline.batch.publish import publish_batch
from pipeline.enrich.ner import (
    collect_before_fork,
    cpu_cores,
)
from pipeline.ingest.readers import InputFile
from pipeline.progress import NO_PROGRESS, Progress
from pipeline.settings import Settings
from pipeline.warehouse import storage

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    batch_date: date
    version: Path
    catalog: Path


def _parse_worker(shard: str, batch_date: str, settings: dict[str, Any]) -> dict[str, Path]:
    return parse_shard(Path(shard), date.fromisoformat(batch_date),
                       Settings.from_mapping(settings))


def _parse_in_pool(shards: Sequence[Path], batch_date: date, settings: Settings, workers: int,
                   progress: Progress) -> list[dict[str, Path]]:
    """``parse_shard`` of every shard in ``workers`` forked processes (the Airflow DAG maps the
    shards to tasks instead); ``progress`` hears of each shard as it completes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    done: dict[Path, dict[str, Path]] = {}
    collect_before_fork()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {pool.submit(_parse_worker, str(shard), batch_date.isoformat(),
                               settings.to_dict()): shard for shard in shards}
        for future in as_completed(futures):
            shard = futures[future]
            parts = done[shard] = future.result()
            manifest = storage.read_json(shard)
            progress.advance("parse", done=len(manifest["files"]) + len(
                manifest.get("carry_files", [])),
                items=pq.ParquetFile(parts["articles"]).metadata.num_rows,
                rejected=pq.ParquetFile(parts["rejects"]).metadata.num_rows)
    return [done[shard] for shard in shards]


def run_batch(inputs: Sequence[InputFile], batch_date: date, settings: Settings,
              progress: Progress = NO_PROGRESS) -> RunResult:
    """Every stage of one batch in this process: what ``newsetl run`` does.

    Stage after stage (all shards parsed, then all enriched, as in the DAG), so ``progress``
    sees one stage at a time with its total known up front.
    """
    progress.start("plan", len(inputs), "files")
    plan = plan_batch(inputs, batch_date, settings, progress=progress)
    progress.finish("plan")
    progress.start("parse", sum(len(m["files"]) + len(m.get("carry_files", []))
                                for m in map(storage.read_json, plan.shards)),
                   "files", "articles", counts=("rejected",))
    workers = min(len(plan.shards), settings.parse_processes or cpu_cores())
    if workers > 1:
        parsed = _parse_in_pool(plan.shards, batch_date, settings, workers, progress)
    else:
        parsed = [parse_shard(shard, batch_date, settings, progress) for shard in plan.shards]
    progress.finish("parse")
    progress.start("enrich", sum(pq.ParquetFile(parts["articles"]).metadata.num_rows
                                 for parts in parsed), "articles")
    enrich_shards([parts["articles"] for parts in parsed], batch_date, settings, progress)
    progress.finish("enrich")
    progress.start("publish", len(STAGED_TABLES), "tables", "rows")
    version = publish_batch(plan.path, batch_date, settings, progress)
    progress.finish("publish")
    return RunResult(plan.run_id, batch_date, version, _refresh_after_publish(settings))


def _refresh_after_publish(settings: Settings) -> Path:
    """Refresh the catalog once the batch is live; if that fails (another process holds the
    catalog file read-write, a view file is broken), the batch stays published and this is a
    warning: the views read whatever is published, and the next run or ``newsetl catalog``
    rebuilds the file. Failing here made orchestrators retry a batch whose data was live."""
    import duckdb

    from pipeline.batch.maintain import refresh_catalog
    from pipeline.catalog.views import CatalogError

    try:
        return refresh_catalog(settings)
    except (duckdb.Error, OSError, CatalogError) as exc:
        catalog = storage.Warehouse(settings.warehouse).catalog
        LOGGER.warning("batch published, but the catalog %s was not refreshed: %s: %s; run "
                       "`newsetl catalog` once it is free", catalog, type(exc).__name__, exc)
        return catalog


