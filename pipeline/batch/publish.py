"""Publish stage: check and reconcile a run's staged parts, build the new version (compacted,
deduplicated across shards, near-duplicate clusters against the archive, model of each article),
run the quality gate and swap the version in atomically and durably."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.batch.archive_index import ArchiveIndex
from pipeline.batch.common import (
    ENRICHED,
    PARTS,
    STAGED_TABLES,
    PublishError,
    check_batch,
    part_path,
)
from pipeline.batch.places import derive_places
from pipeline.enrich.ner import NO_MODEL
from pipeline.ingest.records import Reject
from pipeline.progress import NO_PROGRESS, Progress
from pipeline.settings import Settings
from pipeline.transform import neardup
from pipeline.transform.dedupe import Deduper
from pipeline.warehouse import derived, layout, quality, storage

LOGGER = logging.getLogger(__name__)


def _quality_gate(wh: storage.Warehouse, version: Path, staging: Path, batch_date: date,
                  run_id: str, settings: Settings) -> None:
    """Check the built version; on failure remove it and raise (the live state is kept)."""
    if settings.quality_gate:
        history: list[Path] = []  # the trailing batches with articles, latest last
        for d in reversed([d for d in wh.published_batches() if d < batch_date]):
            v = wh.current_version(d)
            if v is not None and (v / "articles").is_dir():
                history.insert(0, v)
                if len(history) == quality.TRAILING_BATCHES:
                    break
        checks = quality.run_checks(
            version, history, {k: float(v) for k, v in settings.quality_thresholds.items()},
            [c.strip() for c in settings.quality_override.split(",") if c.strip()],
            ner_languages=[lang for lang, spec in settings.ner_models.items()
                           if spec.strip().lower() not in NO_MODEL],
            batch_date=batch_date)
    else:  # recorded, so nobody mistakes it for a passed gate
        checks = [quality.Check("all", "skipped", None, 0.0,
                                "quality gate disabled by settings (quality_gate = false)")]
    storage.write_table(version / "quality_checks" / storage.published_name(
                            version / "quality_checks", 0),
                        storage.rows_to_table("quality_checks",
                                              [c.row(run_id) for c in checks]),
                        settings.row_group_rows)
    failed = quality.failures(checks)
    for check in checks:
        LOGGER.info("quality %s: %s (observed %s, threshold %s; %s)", check.check,
                    check.status, check.observed, check.threshold, check.detail)
    if failed:
        quality.save_report(staging / "quality_checks.json", checks, run_id)
        shutil.rmtree(version)
        raise quality.QualityGateError(quality.message(batch_date, failed))


def _signatures(table: pa.Table) -> np.ndarray:
    """The ``minhash`` column as an ``(n, NUM_PERM)`` uint32 array, without Python lists."""
    flat = pc.list_flatten(table.column("minhash")).to_numpy()
    return np.asarray(flat, dtype=np.uint32).reshape(table.num_rows, neardup.NUM_PERM)


def _near_duplicates(wh: storage.Warehouse, batch_date: date,
                     parts: list[Path]) -> dict[str, str]:
    """Cluster id of each staged article, against every other published batch: the archive
    index hands over only the earlier articles that share a band with the batch's."""
    staged = [pq.read_table(part, columns=["article_id", "minhash"]) for part in parts]
    empty = np.empty((0, neardup.NUM_PERM), np.uint32)
    new_ids = [str(a) for t in staged for a in t.column("article_id").to_pylist()]
    new_sigs = np.concatenate([_signatures(t) for t in staged]) if staged else empty
    earlier = ArchiveIndex(wh).near_duplicate_candidates(new_sigs, exclude=batch_date)
    clusters = neardup.cluster_arrays(new_ids, new_sigs, earlier.article_ids,
                                      earlier.cluster_ids, earlier.signatures)
    joined = sum(1 for a, c in clusters.items() if a != c)
    LOGGER.info("batch %s: %d of %d articles are near duplicates (%d earlier candidates)",
                batch_date, joined, len(new_ids), len(earlier.article_ids))
    return clusters


def _enriched_by(parts: Sequence[Path]) -> tuple[dict[str, str | None], dict[str, str]]:
    """article_id -> ner_model from the staged side tables (carry-over shards have none), and
    article_id -> error for the articles enrichment failed on."""
    out: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for part in parts:
        if part.exists():
            table = pq.read_table(part)
            out.update((str(a), m) for a, m in zip(
                table.column("article_id").to_pylist(), table.column("ner_model").to_pylist(),
                strict=True))
            if "error" in table.column_names:
                errors.update((str(a), str(e)) for a, e in zip(
                    table.column("article_id").to_pylist(), table.column("error").to_pylist(),
                    strict=True) if e is not None)
    return out, errors


def publish_batch(plan_path: Path, batch_date: date, settings: Settings,
                  progress: Progress = NO_PROGRESS) -> Path:
    """Check the run's staged parts, build the new version and swap it in atomically.

    Articles already loaded by an earlier shard of the same batch become ``duplicate`` rejects
    (with their entities dropped), so every article_id appears once per batch. ``progress``
    hears of each of the four staged tables compacted (and its rows) as ``publish``.
    """
    plan = storage.read_json(plan_path)
    check_batch(plan, batch_date, plan_path)
    run_id = plan["run_id"]
    staging = plan_path.parent
    n = len(plan["shards"])
    missing = [f"{table} part {i}" for table in STAGED_TABLES
               for i in range(n) if not part_path(staging, table, i).exists()]
    if missing:
        raise PublishError(f"run {run_id}: staged outputs missing: {', '.join(missing)}")
    wh = storage.Warehouse(settings.warehouse)
    with storage.batch_lock(wh, batch_date):
        version = wh.store(batch_date, run_id)
        if version.exists():  # a retried publish after a crash: rebuild it from staging
            shutil.rmtree(version)
        counts = _reconcile(staging, n)
        dropped: dict[int, set[str]] = {}
        batch_dedupe = Deduper()
        extra_rejects: list[dict[str, Any]] = []

        clusters = _near_duplicates(wh, batch_date, [part_path(staging, "articles", i)
                                                     for i in range(n)])
        enriched_by, enrich_errors = _enriched_by([part_path(staging, ENRICHED, i)
                                                   for i in range(n)])

        def dedupe(index: int, rb: pa.RecordBatch) -> pa.RecordBatch:
            cols: dict[str, list[Any]] = {c: rb.column(c).to_pylist() for c in (
                "article_id", "content_hash", "url", "source_file", "member", "locator", "body")}
            mask = []
            for i, article_id in enumerate(cols["article_id"]):
                if article_id in enrich_errors:  # enrichment failed on it: an internal error
                    mask.append(False)
                    dropped.setdefault(index, set()).add(article_id)
                    extra_rejects.append(Reject.of(
                        cols["source_file"][i], cols["locator"][i] or "file", "internal_error",
                        enrich_errors[article_id], cols["body"][i], cols["member"][i]
                        ).row(run_id))
                    continue
                where = " ".join(str(cols[c][i]) for c in ("source_file", "member", "locator")
                                 if cols[c][i] and cols[c][i] != "file")
                earlier = batch_dedupe.check(article_id, cols["content_hash"][i],
                                             cols["url"][i], where)
                mask.append(earlier is None)
                if earlier is not None:
                    dropped.setdefault(index, set()).add(article_id)
                    extra_rejects.append(Reject.of(
                        cols["source_file"][i], cols["locator"][i] or "file", "duplicate",
                        f"duplicate of {earlier} in the same batch (article_id {article_id})",
                        cols["body"][i], cols["member"][i]).row(run_id))
            rb = rb.filter(pa.array(mask, pa.bool_()))
            ids = [str(a) for a in rb.column("article_id").to_pylist()]
            at = rb.schema.get_field_index("duplicate_cluster_id")
            rb = rb.set_column(at, rb.schema.field(at),
                               pa.array([clusters.get(a, a) for a in ids], pa.string()))
            at = rb.schema.get_field_index("ner_model")
            models = rb.column(at).to_pylist()  # carried-over rows keep theirs
            return rb.set_column(at, rb.schema.field(at), pa.array(
                [enriched_by.get(a, m) for a, m in zip(ids, models, strict=True)], pa.string()))

        def drop_entities(index: int, rb: pa.RecordBatch) -> pa.RecordBatch:
            gone = dropped.get(index)
            if not gone:
                return rb
            return rb.filter(pc.invert(pc.is_in(rb.column("article_id"),
                                                value_set=pa.array(sorted(gone)))))

        parts = {t: [part_path(staging, t, i) for i in range(n)]
                 for t in STAGED_TABLES}
        loaded, _ = storage.compact(parts["articles"], version / "articles", "articles",
                                    settings.row_group_rows, settings.max_file_rows, dedupe)
        progress.advance("publish", done=1, items=loaded)
        extra = storage.write_table(staging / PARTS / "rejects" / "duplicates.parquet",
                                    storage.rows_to_table("rejects", extra_rejects),
                                    settings.row_group_rows)
        rejected, _ = storage.compact([*parts["rejects"], extra], version / "rejects", "rejects",
                                      settings.row_group_rows, settings.max_file_rows)
        progress.advance("publish", done=1, items=rejected)
        entities, _ = storage.compact(parts["entities"], version / "entities", "entities",
                                      settings.row_group_rows, settings.max_file_rows,
                                      drop_entities)
        progress.advance("publish", done=1, items=entities)
        mentions, _ = storage.compact(parts["time_mentions"], version / "time_mentions",
                                      "time_mentions", settings.row_group_rows,
                                      settings.max_file_rows, drop_entities)
        progress.advance("publish", done=1, items=mentions)
        if loaded + rejected != counts["records_read"]:
            raise PublishError(
                f"run {run_id}: counts do not reconcile: read {counts['records_read']} != "
                f"loaded {loaded} + rejected {rejected}")
        run_row = {
            "run_id": run_id,
            "started_at": datetime.fromisoformat(plan["started_at"]),
            "finished_at": datetime.now(UTC),
            "code_version": settings.resolved_code_version(),
            "input_files": counts["files"],
            "records_read": counts["records_read"],
            "articles_loaded": loaded,
            "records_rejected": rejected,
            "entities_found": entities,
            "files_unchanged": plan.get("files_unchanged"),
            "files_removed": plan.get("files_removed"),
            "input_fingerprint": plan.get("input_fingerprint"),
            "is_current": True,
        }
        manifest_part = staging / PARTS / "manifest.parquet"
        storage.compact([manifest_part] if manifest_part.exists() else [], version / "manifest",
                        "manifest", settings.row_group_rows, settings.max_file_rows)
        derived.derive_article_entities(version, run_id, settings)
        derive_places(version, run_id, settings)
        _quality_gate(wh, version, staging, batch_date, run_id, settings)
        history = _run_history(wh, batch_date)
        storage.write_table(version / "runs" / storage.published_name(version / "runs", 0),
                            storage.rows_to_table("runs", [*history, run_row]),
                            settings.row_group_rows)
        layout.swap_in(wh, batch_date, version, storage.table_names(), settings.keep_previous,
                        durable=settings.fsync)
        try:
            ArchiveIndex(wh).record(batch_date, version)
        except (OSError, sqlite3.Error) as exc:  # published: the next lookup indexes it
            LOGGER.error("batch %s: published, but not recorded in the archive index (%s); "
                         "the next run's lookups index it", batch_date, exc)
    shutil.rmtree(staging, ignore_errors=True)
    LOGGER.info("published batch %s (run %s): read %d = loaded %d + rejected %d; %d entities",
                batch_date, run_id, counts["records_read"], loaded, rejected, entities)
    return version


def _reconcile(staging: Path, n: int) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for i in range(n):
        counts = storage.read_json(staging / PARTS / "counts" / f"shard-{i:05d}.json")
        totals.update({k: int(v) for k, v in counts.items()})
    return dict(totals)


def _run_history(wh: storage.Warehouse, batch_date: date) -> list[dict[str, Any]]:
    """Earlier runs of the batch, kept in the new version with ``is_current = false``."""
    current = wh.current_version(batch_date)
    if current is None or not (current / "runs").is_dir():
        return []
    rows: list[dict[str, Any]] = []
    for part in sorted((current / "runs").glob("*.parquet")):
        rows.extend(storage.read_table(part, "runs").to_pylist())
    for row in rows:
        row["is_current"] = False
    return rows


