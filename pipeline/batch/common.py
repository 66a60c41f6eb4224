"""What the stages of a batch share: the staging layout (plan, shard manifests, parts), the plan
and error types, scans of earlier versions with bounded read-ahead, and the published run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.settings import Settings
from pipeline.warehouse import storage

LOGGER = logging.getLogger(__name__)


PLAN = "plan.json"


SHARDS = "shards"


PARTS = "parts"


STAGED_TABLES = ("articles", "rejects", "entities", "time_mentions")


@dataclass(frozen=True)
class BatchPlan:
    """Where a planned run keeps its staging data, and the shard manifests to map over."""

    run_id: str
    batch_date: date
    path: Path
    shards: list[Path]


class PublishError(RuntimeError):
    """The staged outputs of a run are incomplete or do not reconcile; nothing was published."""


SCAN_READAHEAD = 2
"""Batches a scan of an earlier version reads ahead. pyarrow's default (16 batches of 4 files
at once) buffered up to ~900 MB of article rows, bodies included, in each process that took
rows over from a 100,000-article version, however few rows the filter kept."""


def scanner(folder: Path, expr: Any = None, columns: list[str] | None = None) -> Any:
    """A filtered scan of one table folder of a version, with bounded read-ahead."""
    import pyarrow.dataset as ds

    return ds.dataset(str(folder), format="parquet").scanner(
        columns=columns, filter=expr, batch_size=storage.SCAN_BATCH_ROWS,
        batch_readahead=SCAN_READAHEAD, fragment_readahead=1)


def carried_entities(staging: Path, index: int) -> Path:
    return staging / PARTS / "entities" / f"part-{index:05d}.carried.parquet"


def stale_list(staging: Path, index: int) -> Path:
    """Carried-over articles of shard ``index`` to enrich again (their model changed)."""
    return staging / PARTS / "stale" / f"shard-{index:05d}.json"


def current_run(settings: Settings, batch_date: date) -> dict[str, Any] | None:
    """The ``runs`` row whose data is published for the batch, or None."""
    wh = storage.Warehouse(settings.warehouse)
    current = wh.current_version(batch_date)
    if current is None or not (current / "runs").is_dir():
        return None
    for part in sorted((current / "runs").glob("*.parquet")):
        for row in storage.read_table(part, "runs").to_pylist():
            if row["is_current"]:
                return dict(row)
    return None


def plan_of_shard(shard: Path) -> Path:
    """The plan of the run a shard manifest belongs to (``<staging>/shards/x.json``)."""
    return shard.parent.parent / PLAN


def part_path(staging: Path, table: str, index: int) -> Path:
    return staging / PARTS / table / f"part-{index:05d}.parquet"


def check_batch(manifest: dict[str, Any], batch_date: date, path: Path) -> None:
    if manifest["batch_date"] != batch_date.isoformat():
        raise PublishError(f"{path} belongs to batch {manifest['batch_date']}, not {batch_date}")

ENRICHED = "enriched"
"""Staged per-shard side table (article_id, ner_model): which model enriched each article;
publishing writes it into articles.ner_model."""


def enriched_by_current(articles: pa.Table, labels: dict[str, str | None] | None
                        ) -> pa.Array[Any]:
    """Whether each article's ``ner_model`` is the model configured now for its language (no
    model: none), ``labels`` being ``plan.ner_labels``; ``labels`` None (a plan from before
    labels were recorded): all are taken as current. The carry-over and the backfill's skip
    rule both ask this."""
    if labels is None:
        return pa.array([True] * articles.num_rows, pa.bool_())
    return pa.array([labels.get(lang or "") == model for lang, model in zip(
        articles.column("language").to_pylist(), articles.column("ner_model").to_pylist(),
        strict=True)], pa.bool_())
