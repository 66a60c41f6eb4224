"""The stages of one batch, each a function of (input paths, batch date, settings) -> paths.

``plan_batch`` -> ``parse_shard`` (per shard) -> ``enrich_shard`` (per shard) -> ``publish_batch``
-> ``catalog.refresh_catalog``. The Airflow DAG maps the per-shard stages over workers; the CLI
calls the same functions in one process. Only paths cross stage boundaries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import dates, derived, neardup, normalise, quality, schemas, storage, timex
from pipeline.enrich import EntityCache, collect_before_fork, cpu_cores, processes, resolve_model
from pipeline.formats import options_for
from pipeline.parse import build_article, folder_source
from pipeline.progress import NO_PROGRESS, Progress
from pipeline.readers import InputFile, read_records
from pipeline.records import RawRecord, Reject
from pipeline.settings import Settings
from pipeline.textdump import parse_file_name

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


def new_run_id(batch_date: date) -> str:
    return f"{batch_date:%Y%m%d}-{uuid.uuid4().hex[:12]}"


def plan_batch(inputs: Sequence[InputFile], batch_date: date, settings: Settings,
               run_id: str | None = None, progress: Progress = NO_PROGRESS) -> BatchPlan:
    """Split the batch's files into shards and write the plan to the run's staging folder.

    Every input is hashed (reading it whole), so ``progress`` hears of each file as ``plan``.
    """
    run_id = run_id or new_run_id(batch_date)
    wh = storage.Warehouse(settings.warehouse)
    remove_stale_staging(wh, settings.staging_ttl_hours)
    staging = wh.staging(run_id)
    hashes: dict[str, str] = {}
    read_keys: dict[str, str] = {}
    for f in inputs:
        hashes[f.relative], head = _digest(f)
        read_keys[f.relative] = read_key(f.relative, head, settings)
        progress.advance("plan", done=1)
    previous = _previous_manifest(wh, batch_date)
    previous_keys = _previous_read_keys(wh, batch_date)
    carry_from = wh.current_version(batch_date)
    depends = _files_with_duplicates(carry_from) if carry_from is not None else set()
    same_bytes = {rel for rel, digest in hashes.items() if previous.get(rel) == digest}
    unchanged = {rel for rel in same_bytes
                 if settings.reuse_unchanged and previous_keys.get(rel) == read_keys[rel]
                 and carry_from is not None and rel not in depends}
    for rel in sorted(same_bytes - unchanged - depends):
        if settings.reuse_unchanged and carry_from is not None:
            LOGGER.info("batch %s: %s is unchanged but read with other settings (or code): "
                        "it is read again", batch_date, rel)
    process = [f for f in inputs if f.relative not in unchanged]
    known = _known_files(wh, {f.relative: hashes[f.relative] for f in process}, batch_date) \
        if settings.reuse_known_files else {}
    removed = sorted(set(previous) - set(hashes))
    for rel in removed:
        LOGGER.warning("batch %s: %s was in the previous run and is gone: its rows are dropped",
                       batch_date, rel)
    work = len(process) - len(known) + len(known) * KNOWN_FILE_WORK
    n_shards = max(1, min(settings.max_shards, math.ceil(work / settings.shard_files)))
    size = math.ceil(len(process) / n_shards) if process else 0
    shard_paths: list[Path] = []
    for index in range(n_shards):
        chunk = process[index * size:(index + 1) * size] if size else []
        shard_paths.append(storage.write_json(
            staging / SHARDS / f"shard-{index:05d}.json",
            {"run_id": run_id, "batch_date": batch_date.isoformat(), "index": index,
             "files": [[f.location, f.relative, *(f.refused or ())] for f in chunk],
             "known": {f.relative: known[f.relative] for f in chunk if f.relative in known}}))
    if unchanged and carry_from is not None:  # one more shard: rows carried over, not re-read
        shard_paths.append(storage.write_json(
            staging / SHARDS / f"shard-{n_shards:05d}.json",
            {"run_id": run_id, "batch_date": batch_date.isoformat(), "index": n_shards,
             "files": [], "carry_from": str(carry_from), "carry_files": sorted(unchanged),
             "ner_labels": ner_labels(settings)}))
    status = {rel: ("unchanged" if rel in unchanged else "reread" if rel in same_bytes
                    else "changed" if rel in previous else "new") for rel in hashes}
    manifest_rows = [{"run_id": run_id, "source_file": f.relative,
                      "size": None if f.refused else _size(f.path),
                      "sha256": hashes[f.relative], "status": status[f.relative],
                      "read_key": read_keys[f.relative]}
                     for f in sorted(inputs, key=lambda f: f.relative)]
    manifest_rows += [{"run_id": run_id, "source_file": rel, "size": None, "sha256": None,
                       "status": "removed"} for rel in removed]
    storage.write_table(staging / PARTS / "manifest.parquet",
                        storage.rows_to_table("manifest", manifest_rows), settings.row_group_rows)
    plan = storage.write_json(staging / PLAN, {
        "run_id": run_id,
        "batch_date": batch_date.isoformat(),
        "started_at": datetime.now(UTC).isoformat(),
        "input_files": len(inputs),
        "files_unchanged": len(unchanged),
        "files_removed": len(removed),
        "input_fingerprint": _fingerprint(hashes),
        "shards": [p.name for p in shard_paths],
    })
    LOGGER.info("planned run %s for batch %s: %d files (%d unchanged, carried over; %d known "
                "from earlier batches; %d removed) in %d shards", run_id, batch_date, len(inputs),
                len(unchanged), len(known), len(removed), len(shard_paths))
    return BatchPlan(run_id, batch_date, plan, shard_paths)


KNOWN_FILE_WORK = 0.1
"""A known file (taken over, see ``_known_files``) costs about a tenth of parsing one, and each
shard reads the earlier versions it takes rows from: shards are sized by this work, not by
files, so a re-delivered batch is a few shards, not ``max_shards``."""


def _known_files(wh: storage.Warehouse, hashes: dict[str, str],
                 batch_date: date) -> dict[str, list[str]]:
    """relative name -> [version folder, file name there, batch date] of an earlier published
    batch that read a file with the same bytes (the latest such batch).

    Reads the ``manifest`` of every other published batch: one small file per batch."""
    wanted = {h for h in hashes.values() if not _pseudo_digest(h)}
    seen: dict[str, list[str]] = {}
    for other in wh.published_batches() if wanted else []:
        version = wh.current_version(other)
        if other == batch_date or version is None:
            continue
        try:  # a concurrent publish may remove an old version while we read it
            files = _files_read(version)
        except (OSError, pa.ArrowException) as exc:
            LOGGER.info("known files: skipped %s (%s)", version, exc)
            continue
        seen.update((digest, [str(version), name, other.isoformat()])
                    for name, digest in files.items() if digest in wanted)
    return {rel: seen[digest] for rel, digest in hashes.items() if digest in seen}


def remove_stale_staging(wh: storage.Warehouse, ttl_hours: float) -> list[Path]:
    """Delete staging folders of runs that died (killed, crashed) more than ``ttl_hours`` ago.

    Staged data is never visible to readers (views only follow ``_current``), so this is disk
    hygiene; a run still in progress has touched its folder recently and is left alone.
    """
    root = wh.root / "_staging"
    if not root.is_dir():
        return []
    cutoff = time.time() - ttl_hours * 3600
    removed = []
    for folder in root.iterdir():
        try:  # another run may finish (and remove its folder) while we look
            newest = max((p.stat().st_mtime for p in folder.rglob("*")), default=0.0)
            newest = max(newest, folder.stat().st_mtime)
        except OSError:
            continue
        if folder.is_dir() and newest < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
            LOGGER.info("removed stale staging folder %s", folder.name)
    return removed


def _digest(f: InputFile) -> tuple[str, bytes]:
    """The file's SHA-256 and first bytes, or a pseudo digest for an entry that is not read (a
    refused link or pipe: never opened, so a FIFO cannot block planning)."""
    return (f"refused:{f.refused[0]}", b"") if f.refused else _file_sha256(f.path)


def read_key(relative: str, head: bytes, settings: Settings) -> str:
    """What, besides its bytes, shapes a file's rows: the reading options that apply to it (for
    an archive, whose members may match any glob, the whole ``formats`` table), the size
    limits and the code version. A re-run carries a file over only when its bytes and this key
    are both unchanged, so adding a column mapping re-reads the CSV it was missing from, and
    only files that the change concerns."""
    from pipeline.containers import container_kind

    if container_kind(relative.rsplit("/", 1)[-1], head) is None:
        options: Any = repr(options_for([relative], settings.formats))
    else:
        options = settings.to_dict()["formats"]
    key = json.dumps([options, settings.max_record_bytes, settings.max_document_bytes,
                      settings.resolved_code_version()], sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def ner_labels(settings: Settings) -> dict[str, str | None]:
    """Language -> label (``de_news-0.3.0``) of the NER pipeline configured for it, None for
    none: what a carried-over article's ``ner_model`` must equal to keep its entities."""
    from pipeline.enrich import label_of

    out: dict[str, str | None] = {}
    for language, spec in settings.ner_models.items():
        location = resolve_model(spec, settings.models_dir)
        out[language] = label_of(location) if location is not None else None
    return out


def _pseudo_digest(digest: str) -> bool:
    """Not the hash of some bytes: two such files are not the same content."""
    return digest == "unreadable" or digest.startswith("refused:")


def _file_sha256(path: Path) -> tuple[str, bytes]:
    """SHA-256 of the file and its first bytes (to tell an archive by its magic bytes)."""
    from pipeline.containers import HEAD_BYTES

    digest = hashlib.sha256()
    head = b""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                if not head:
                    head = chunk[:HEAD_BYTES]
                digest.update(chunk)
    except OSError:
        return "unreadable", b""
    return digest.hexdigest(), head


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _fingerprint(hashes: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(hashes):
        digest.update(f"{rel}\0{hashes[rel]}\n".encode())
    return digest.hexdigest()


def input_fingerprint(inputs: Sequence[InputFile]) -> str:
    """SHA-256 over every input's name and content: equal fingerprints, same inputs.

    Kept with each run, so a backfill can skip a batch already published from the same files
    by the same code version.
    """
    return _fingerprint({f.relative: _digest(f)[0] for f in inputs})


def _previous_manifest(wh: storage.Warehouse, batch_date: date) -> dict[str, str]:
    """source_file -> sha256 of the files the batch's current run read."""
    current = wh.current_version(batch_date)
    return {} if current is None else _files_read(current)


def _files_read(version: Path) -> dict[str, str]:
    """source_file -> sha256 of the files a published version read (its ``manifest``, without
    the removed ones)."""
    out: dict[str, str] = {}
    for part in sorted((version / "manifest").glob("*.parquet")):
        table = pq.read_table(part, columns=["source_file", "sha256", "status"])
        for name, digest, status in zip(table.column("source_file").to_pylist(),
                                        table.column("sha256").to_pylist(),
                                        table.column("status").to_pylist(), strict=True):
            if status != "removed" and digest:
                out[str(name)] = str(digest)
    return out


def _previous_read_keys(wh: storage.Warehouse, batch_date: date) -> dict[str, str]:
    """source_file -> read key of the files the batch's current run read (none for versions
    published before keys were recorded: their files are read again, once)."""
    current = wh.current_version(batch_date)
    out: dict[str, str] = {}
    for part in sorted((current / "manifest").glob("*.parquet")) if current else []:
        if "read_key" not in pq.ParquetFile(part).schema_arrow.names:
            continue
        table = pq.read_table(part, columns=["source_file", "read_key"])
        out.update((str(n), str(k)) for n, k in zip(table.column("source_file").to_pylist(),
                                                     table.column("read_key").to_pylist(),
                                                     strict=True) if k)
    return out


def _files_with_duplicates(version: Path) -> set[str]:
    """Files whose rows depend on others (duplicate rejects): always re-processed."""
    files: set[str] = set()
    for part in sorted((version / "rejects").glob("*.parquet")):
        table = pq.read_table(part, columns=["source_file", "reason_code"])
        files.update(str(f) for f, code in zip(table.column("source_file").to_pylist(),
                                               table.column("reason_code").to_pylist(),
                                               strict=True) if code == "duplicate")
    return files


SCAN_READAHEAD = 2
"""Batches a scan of an earlier version reads ahead. pyarrow's default (16 batches of 4 files
at once) buffered up to ~900 MB of article rows, bodies included, in each process that took
rows over from a 100,000-article version, however few rows the filter kept."""


def _scanner(folder: Path, expr: Any = None, columns: list[str] | None = None) -> Any:
    """A filtered scan of one table folder of a version, with bounded read-ahead."""
    import pyarrow.dataset as ds

    return ds.dataset(str(folder), format="parquet").scanner(
        columns=columns, filter=expr, batch_size=storage.SCAN_BATCH_ROWS,
        batch_readahead=SCAN_READAHEAD, fragment_readahead=1)


def _carry_over(manifest: dict[str, Any], staging: Path, index: int, run_id: str,
                row_group_rows: int, progress: Progress) -> dict[str, Path]:
    """Copy the rows of unchanged files from the batch's current version into staged parts,
    batch by batch (a re-run of a 100,000-file batch carries over every row)."""
    source = Path(manifest["carry_from"])
    files = pa.array(manifest["carry_files"], pa.string())
    labels: dict[str, str | None] | None = manifest.get("ner_labels")
    out: dict[str, Path] = {}
    kept: list[pa.Array[Any]] = []  # every carried article
    fresh: list[pa.Array[Any]] = []  # those enriched by the model configured now
    stale: list[str] = []
    for table in ("articles", "rejects", "entities", "time_mentions"):
        folder = source / table
        batches: Iterable[pa.RecordBatch] = []
        if folder.is_dir():
            if table in ("articles", "rejects"):
                expr = pc.is_in(pc.field("source_file"), value_set=files)
            else:
                chosen = fresh if table == "entities" else kept
                ids = pa.concat_arrays(chosen) if chosen else pa.array([], pa.string())
                expr = pc.is_in(pc.field("article_id"), value_set=ids)
            batches = _scanner(folder, expr).to_batches()

        def stamped(rb: pa.RecordBatch, table: str = table) -> pa.Table:
            data = storage.conform(pa.Table.from_batches([rb]), table)
            if table == "articles":
                ids = data.column("article_id").combine_chunks()
                kept.append(ids)
                ok = _enriched_by_current(data, labels)
                fresh.append(ids.filter(ok))
                stale.extend(str(a) for a in ids.filter(pc.invert(ok)).to_pylist())
            if "run_id" not in data.column_names:
                return data
            return data.set_column(data.schema.get_field_index("run_id"),
                                   data.schema.field("run_id"),
                                   pa.array([run_id] * data.num_rows, pa.string()))

        target = _part(staging, table, index)
        if table == "entities" and stale:  # enrichment adds the stale articles' rows
            target = _carried_entities(staging, index)
            storage.write_json(_stale_list(staging, index), {"article_ids": stale})
        out[table] = storage.write_stream(target, table,
                                          (stamped(rb) for rb in batches if rb.num_rows),
                                          row_group_rows)
    if stale:
        LOGGER.info("shard %d of run %s: %d carried-over articles were enriched by another "
                    "model than the one configured now: they are enriched again", index, run_id,
                    len(stale))
    articles = pq.ParquetFile(out["articles"]).metadata.num_rows
    rejected = pq.ParquetFile(out["rejects"]).metadata.num_rows
    storage.write_json(staging / PARTS / "counts" / f"shard-{index:05d}.json", {
        "files": len(manifest["carry_files"]), "records_read": articles + rejected,
        "articles_loaded": articles, "records_rejected": rejected})
    LOGGER.info("shard %d of run %s: carried over %d articles and %d rejects of %d unchanged "
                "files", index, run_id, articles, rejected, len(manifest["carry_files"]))
    progress.advance("parse", done=len(manifest["carry_files"]), items=articles,
                     rejected=rejected)
    return out


def _enriched_by_current(articles: pa.Table, labels: dict[str, str | None] | None
                         ) -> pa.Array[Any]:
    """Whether each carried article's ``ner_model`` is the model configured now for its
    language (no model: none); ``labels`` None (a plan from before labels were recorded): all
    are taken as current."""
    if labels is None:
        return pa.array([True] * articles.num_rows, pa.bool_())
    return pa.array([labels.get(lang or "") == model for lang, model in zip(
        articles.column("language").to_pylist(), articles.column("ner_model").to_pylist(),
        strict=True)], pa.bool_())


def _carried_entities(staging: Path, index: int) -> Path:
    return staging / PARTS / "entities" / f"part-{index:05d}.carried.parquet"


def _stale_list(staging: Path, index: int) -> Path:
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


def _part(staging: Path, table: str, index: int) -> Path:
    return staging / PARTS / table / f"part-{index:05d}.parquet"


class Deduper:
    """Which records of a batch are duplicates of one seen earlier (the first one is kept).

    Same ``article_id`` (same URL, source id or content), or the same content hash unless both
    records have their own URL (the same agency story at two outlets is two articles; the
    ``content_hash`` column still shows them as copies).
    """

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._hashes: dict[str, tuple[str, bool]] = {}  # hash -> (first lineage, all had URLs)

    def check(self, article_id: str, content_hash: str, url: str | None,
              lineage: str) -> str | None:
        """The lineage of the earlier copy, or None (and remember this one) if it is new."""
        if article_id in self._ids:
            return self._ids[article_id]
        earlier = self._hashes.get(content_hash)
        if earlier is not None and (url is None or not earlier[1]):
            return earlier[0]
        self._ids[article_id] = lineage
        first, all_urls = earlier or (lineage, True)
        self._hashes[content_hash] = (first, all_urls and url is not None)
        return None


def _quality_gate(wh: storage.Warehouse, version: Path, staging: Path, batch_date: date,
                  run_id: str, settings: Settings) -> None:
    """Check the built version; on failure remove it and raise (the live state is kept)."""
    if settings.quality_gate:
        history = [v for d in wh.published_batches() if d < batch_date
                   and (v := wh.current_version(d)) is not None]
        de_model = settings.ner_models.get("de", "none")
        checks = quality.run_checks(
            version, history, {k: float(v) for k, v in settings.quality_thresholds.items()},
            [c.strip() for c in settings.quality_override.split(",") if c.strip()],
            german_ner=de_model not in ("", "none"), batch_date=batch_date)
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
    """Cluster id of each staged article, against every other published batch."""
    staged = [pq.read_table(part, columns=["article_id", "minhash"]) for part in parts]
    earlier: list[pa.Table] = []
    for other in wh.published_batches():
        version = wh.current_version(other)
        if other == batch_date or version is None:
            continue
        for path in sorted((version / "articles").glob("*.parquet")):
            names = pq.ParquetFile(path).schema_arrow.names
            if "minhash" not in names:  # published before near-duplicate clustering
                continue
            earlier.append(pq.read_table(path, columns=["article_id", "duplicate_cluster_id",
                                                        "minhash"]))
    empty = np.empty((0, neardup.NUM_PERM), np.uint32)
    new_ids = [str(a) for t in staged for a in t.column("article_id").to_pylist()]
    old_ids = [str(a) for t in earlier for a in t.column("article_id").to_pylist()]
    old_clusters = [str(c or a) for t in earlier for a, c in zip(
        t.column("article_id").to_pylist(), t.column("duplicate_cluster_id").to_pylist(),
        strict=True)]
    clusters = neardup.cluster_arrays(
        new_ids, np.concatenate([_signatures(t) for t in staged]) if staged else empty,
        old_ids, old_clusters,
        np.concatenate([_signatures(t) for t in earlier]) if earlier else empty)
    joined = sum(1 for a, c in clusters.items() if a != c)
    LOGGER.info("batch %s: %d of %d articles are near duplicates (compared with %d earlier)",
                batch_date, joined, len(new_ids), len(old_ids))
    return clusters


def _time_mentions(row: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """``time_mentions`` rows of one article, resolved against its local publication date."""
    local = row["published_local"]
    published = date.fromisoformat(local[:10]) if local and len(local) >= 10 else (
        date(int(local[:4]), int(local[5:7]) if len(local) >= 7 else 1, 1) if local else None)
    precision = row["published_precision"] if row["published_source"] != "batch" else None
    return [{"article_id": row["article_id"], "text": m.text, "start_char": m.start_char,
             "end_char": m.end_char, "value": m.value, "precision": m.precision,
             "note": m.note, "run_id": run_id}
            for m in timex.find(row["body"], published, precision)]


def _lineage(rec: RawRecord) -> str:
    """``file [member] locator`` as a person would look it up."""
    member = f" [{rec.member}]" if rec.member else ""
    return f"{rec.source_file}{member} {rec.locator}" if rec.locator != "file" else \
        f"{rec.source_file}{member}"


def parse_shard(shard: Path, batch_date: date, settings: Settings,
                progress: Progress = NO_PROGRESS) -> dict[str, Path]:
    """Read, parse and normalise one shard's files; write its articles and rejects parts.

    ``progress`` hears of every file (and every 1,000 records, for big files) as ``parse``.
    """
    manifest = storage.read_json(shard)
    run_id, index = manifest["run_id"], int(manifest["index"])
    _check_batch(manifest, batch_date, shard)
    staging = shard.parent.parent
    if manifest.get("carry_from"):
        return _carry_over(manifest, staging, index, run_id, settings.row_group_rows, progress)
    articles: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    mentions: list[dict[str, Any]] = []
    dedupe = Deduper()
    counts: Counter[str] = Counter()

    def reject(rej: Reject) -> None:
        rejects.append(rej.row(run_id))
        counts["rejected"] += 1
        LOGGER.warning("rejected %s%s [%s]: %s", rej.source_file,
                       f" member {rej.member}" if rej.member else "", rej.locator, rej.reason)

    reported: Counter[str] = Counter()

    def report(files: int) -> None:
        """What changed since the last report (``progress`` counts deltas)."""
        progress.advance("parse", done=files, items=counts["loaded"] - reported["loaded"],
                         rejected=counts["rejected"] - reported["rejected"])
        reported.update(loaded=counts["loaded"] - reported["loaded"],
                        rejected=counts["rejected"] - reported["rejected"])

    def accept(row: dict[str, Any], row_mentions: list[dict[str, Any]], source_file: str,
               locator: str, member: str | None, lineage: str) -> None:
        earlier = dedupe.check(row["article_id"], row["content_hash"], row["url"], lineage)
        if earlier is not None:
            reject(Reject.of(source_file, locator, "duplicate",
                             f"duplicate of {earlier} in the same batch "
                             f"(article_id {row['article_id']})", row["body"], member))
        else:
            articles.append(row)
            mentions.extend(row_mentions)
            counts["loaded"] += 1

    reusable = _reusable_rows(manifest.get("known", {}), batch_date, run_id, settings)
    for path, relative, *refused in manifest["files"]:
        counts["files"] += 1
        if (reused := reusable.get(relative)) is not None:
            counts["read"] += 1
            counts["reused"] += 1
            accept(reused[0], reused[1], relative, reused[0]["locator"], None, relative)
            report(1)
            continue
        item = InputFile(path, relative, (refused[0], refused[1]) if refused else None)
        for rec in read_records(item, settings):
            counts["read"] += 1
            if counts["read"] % 1000 == 0:  # one check per record; renderers throttle output
                report(0)
            if isinstance(rec, Reject):
                reject(rec)
                continue
            try:  # no record can stop the batch: a bug on one is that record's reject
                row = build_article(rec, run_id, batch_date, settings.date_floor,
                                    signature=False)
                said = _time_mentions(row, run_id) if not isinstance(row, Reject) else []
            except Exception as exc:
                row = internal_error(rec.source_file, rec.locator, rec.member, exc, "parse",
                                     rec.text)
            if isinstance(row, Reject):
                reject(row)
            else:
                accept(row, said, rec.source_file, rec.locator, rec.member, _lineage(rec))
        report(1)
    table, failed = _articles_table(articles)
    for row, error in failed:  # a body the signature or the Parquet writer could not take
        reject(internal_error(row["source_file"], row["locator"], row["member"], error,
                              "serialise", row.get("body")))
        counts["loaded"] -= 1
    if failed:
        gone = {row["article_id"] for row, _ in failed}
        mentions = [m for m in mentions if m["article_id"] not in gone]
    out = {
        "articles": storage.write_table(_part(staging, "articles", index), table,
                                        settings.row_group_rows),
        "rejects": storage.write_table(_part(staging, "rejects", index),
                                       storage.rows_to_table("rejects", rejects),
                                       settings.row_group_rows),
        "time_mentions": storage.write_table(_part(staging, "time_mentions", index),
                                             _rows_table("time_mentions", mentions),
                                             settings.row_group_rows),
    }
    storage.write_json(staging / PARTS / "counts" / f"shard-{index:05d}.json", {
        "files": counts["files"], "records_read": counts["read"],
        "articles_loaded": counts["loaded"], "records_rejected": counts["rejected"]})
    LOGGER.info("shard %d of run %s: %d files, %d records read (%d taken over from earlier "
                "batches), %d loaded, %d rejected", index, run_id, counts["files"], counts["read"],
                counts["reused"], counts["loaded"], counts["rejected"])
    return out


Reused = tuple[dict[str, Any], list[dict[str, Any]]]
"""An article row taken over from an earlier batch, and its time mentions."""


def _reusable_rows(known: dict[str, list[str]], batch_date: date, run_id: str,
                   settings: Settings) -> dict[str, Reused]:
    """Rows of this shard's files that an earlier batch parsed from the same bytes, redone for
    this batch (see ``_reuse_row``); the files not here are parsed as usual.

    Each earlier version is read once (its rows of these files only). A version that cannot be
    read (removed by a concurrent publish, older schema) just means parsing those files."""
    by_version: dict[str, dict[str, tuple[str, date]]] = {}
    for relative, (version, old_name, batch) in known.items():
        by_version.setdefault(version, {})[relative] = (old_name, date.fromisoformat(batch))
    needed = set(schemas.ARTICLES.names) - {schemas.PARTITION_COLUMN, "ner_model"}
    out: dict[str, Reused] = {}
    for version, files in by_version.items():
        names = pa.array(sorted({old for old, _ in files.values()}), pa.string())
        try:
            data = _scanner(Path(version) / "articles",
                            pc.is_in(pc.field("source_file"), value_set=names)).to_table()
            if not needed <= set(data.column_names):
                continue
            rejected = set(_scanner(Path(version) / "rejects",
                                    pc.is_in(pc.field("source_file"), value_set=names),
                                    ["source_file"]).to_table()
                           .column("source_file").to_pylist())
            ids = data.column("article_id")
            said = _scanner(Path(version) / "time_mentions",
                            pc.is_in(pc.field("article_id"), value_set=ids)).to_table().to_pylist()
        except (OSError, pa.ArrowException) as exc:
            LOGGER.warning("cannot take rows over from %s (%s): its files are parsed again",
                           version, exc)
            continue
        rows: dict[str, list[dict[str, Any]]] = {}
        for row in data.to_pylist():
            rows.setdefault(row["source_file"], []).append(row)
        mentions: dict[str, list[dict[str, Any]]] = {}
        for m in said:
            mentions.setdefault(m["article_id"], []).append(m)
        for relative, (old_name, old_batch) in files.items():
            found = rows.get(old_name, [])
            if len(found) != 1 or old_name in rejected:
                continue
            redone = _reuse_row(found[0], relative, old_name, batch_date, old_batch, run_id,
                                settings)
            if redone is not None:
                out[relative] = (redone, [
                    {**m, "article_id": redone["article_id"], "run_id": run_id}
                    for m in mentions.get(found[0]["article_id"], [])])
    return out


def _reuse_row(old: dict[str, Any], relative: str, old_name: str, batch_date: date,
               old_batch: date, run_id: str, settings: Settings) -> dict[str, Any] | None:
    """``old`` (a row parsed from the same bytes under ``old_name`` in batch ``old_batch``) as
    parsing ``relative`` in this batch would give it, or None when that is not certain.

    Only plain text dumps qualify: for them, what depends on the file name (source id,
    sequence, site folder, article id) is recomputed here, and everything else comes from the
    bytes. The publication date must not depend on the batch or the name: a date chosen
    without flags from the content, a batch no earlier than the old one (plausibility only
    widens), the same date (or none) in both names, and the same format options."""
    new_leaf, old_leaf = relative.rsplit("/", 1)[-1], old_name.rsplit("/", 1)[-1]
    if (old["format"] != "text" or old["member"] is not None or old["published_flag"]
            or old["published_source"] in (None, "path", "batch") or batch_date < old_batch
            or os.path.splitext(new_leaf)[1] != os.path.splitext(old_leaf)[1]
            or dates.date_in_name(new_leaf) != dates.date_in_name(old_leaf)
            or options_for([relative], settings.formats) != options_for([old_name],
                                                                        settings.formats)):
        return None
    name = parse_file_name(new_leaf)
    row = {k: v for k, v in old.items() if k != schemas.PARTITION_COLUMN}
    row.update(
        article_id=normalise.article_id(old["url"], name.source_id, old["content_hash"]),
        source_file=relative, source_id=name.source_id, sequence=name.sequence,
        site_name=folder_source(relative), duplicate_cluster_id="", ner_model=None,
        run_id=run_id)
    return row


def internal_error(source_file: str, locator: str, member: str | None, exc: BaseException,
                   stage: str, raw: str | None = None) -> Reject:
    """The reject of a record on which a step raised: ``internal_error``, naming the stage, the
    module it failed in, the exception type and message; the traceback goes to the log."""
    where = _failing_module(exc)
    LOGGER.error("internal error in %s (%s) on %s [%s]%s: %s: %s", stage, where, source_file,
                 locator, f" member {member}" if member else "", type(exc).__name__, exc,
                 exc_info=exc)
    return Reject.of(source_file, locator or "file", "internal_error",
                     f"{stage} ({where}) failed: {type(exc).__name__}: {exc}"[:2000], raw, member)


def _failing_module(exc: BaseException) -> str:
    """The innermost module of this package in the traceback (``dates``, ``timex``, ...)."""
    import traceback

    here = Path(__file__).parent
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename)
        if path.parent == here:
            return f"{path.stem}.{frame.name}"
    return "?"


def _rows_table(table: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """``rows_to_table``, dropping (and logging) rows the schema cannot take: a derived row
    (a time mention) must not cost its article's shard."""
    try:
        return storage.rows_to_table(table, rows)
    except (pa.ArrowException, ValueError, TypeError, OverflowError, UnicodeError):
        kept = []
        for row in rows:
            try:
                storage.rows_to_table(table, [row])
            except (pa.ArrowException, ValueError, TypeError, OverflowError,
                    UnicodeError) as exc:
                LOGGER.error("%s row of article %s dropped: %s: %s", table,
                             row.get("article_id"), type(exc).__name__, exc)
                continue
            kept.append(row)
        return storage.rows_to_table(table, kept)


def _articles_table(rows: Sequence[dict[str, Any]]
                    ) -> tuple[pa.Table, list[tuple[dict[str, Any], Exception]]]:
    """``_signed_table`` of the rows; if it fails, row by row, and the rows that fail alone
    are returned with their exception (they become ``internal_error`` rejects)."""
    try:
        return _signed_table(rows), []
    except Exception:
        LOGGER.warning("building a shard's article table failed: retrying row by row")
    kept: list[dict[str, Any]] = []
    failed: list[tuple[dict[str, Any], Exception]] = []
    for row in rows:
        try:
            _signed_table([row])
        except Exception as exc:
            failed.append((row, exc))
            continue
        kept.append(row)
    return _signed_table(kept), failed


def _signed_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """The shard's article rows with their MinHash signatures (those of rows taken over from
    earlier batches kept, the others computed for all bodies at once), built as one Arrow list
    column: per-row Python lists cost more than the hashing."""
    table = storage.rows_to_table("articles", rows)
    sigs = np.empty((len(rows), neardup.NUM_PERM), dtype=np.uint32)
    todo = [i for i, row in enumerate(rows) if row.get("minhash") is None]
    sigs[todo] = neardup.signatures([rows[i]["body"] for i in todo])
    for i, row in enumerate(rows):
        if row.get("minhash") is not None:
            sigs[i] = row["minhash"]
    offsets = pa.array(np.arange(0, sigs.size + 1, neardup.NUM_PERM), type=pa.int32())
    column = pa.ListArray.from_arrays(offsets, pa.array(sigs.ravel(), type=pa.uint32()))
    index = table.schema.get_field_index("minhash")
    return table.set_column(index, table.schema.field(index), column)


ENRICHED = "enriched"
"""Staged per-shard side table (article_id, ner_model): which model enriched each article;
publishing writes it into articles.ner_model."""


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


def _entity_cache(wh: storage.Warehouse) -> EntityCache:
    """Entity rows of published articles by content hash, for one model version.

    Equal content hashes mean equal title, teaser and body, so the offsets, sentences and norms
    of the earlier article hold for the new one. Versions published before articles recorded
    their model are not used; one removed while it is read (a concurrent publish) is skipped.
    """
    def lookup(label: str, hashes: Sequence[str]) -> tuple[set[str], pa.Table]:
        import pyarrow.dataset as ds

        wanted = set(hashes)
        found: set[str] = set()
        pieces: list[pa.Table] = []
        for batch in wh.published_batches():
            version = wh.current_version(batch)
            if version is None or len(found) == len(wanted):
                continue
            try:
                articles = ds.dataset(version / "articles", format="parquet")
                if "ner_model" not in articles.schema.names:
                    continue
                hits = _scanner(version / "articles",
                                (pc.field("ner_model") == label)
                                & pc.field("content_hash").isin(sorted(wanted - found)),
                                ["article_id", "content_hash"]).to_table()
                by_id: dict[str, str] = {}  # one article per content hash
                taken: set[str] = set()
                for article_id, content_hash in zip(hits.column("article_id").to_pylist(),
                                                    hits.column("content_hash").to_pylist(),
                                                    strict=True):
                    if content_hash not in found and content_hash not in taken:
                        taken.add(str(content_hash))
                        by_id[str(article_id)] = str(content_hash)
                if not by_id:
                    continue
                rows = _scanner(version / "entities", pc.field("article_id").isin(sorted(by_id)),
                                list(CACHED_ENTITY_COLUMNS)).to_table()
            except OSError as exc:
                LOGGER.info("entity cache: skipped %s (%s)", version, exc)
                continue
            found.update(by_id.values())
            key = pa.table({"article_id": pa.array(list(by_id), pa.string()),
                            "content_hash": pa.array(list(by_id.values()), pa.string())})
            pieces.append(rows.join(key, "article_id", join_type="inner")
                          .drop_columns(["article_id"]))
        if not pieces:
            empty = schemas.empty_table("entities").select(list(CACHED_ENTITY_COLUMNS[1:]))
            return found, empty.append_column("content_hash", pa.array([], pa.string()))
        return found, pa.concat_tables(pieces, promote_options="permissive")

    return lookup


CACHED_ENTITY_COLUMNS = ("article_id", "text", "label", "norm", "start_char", "end_char",
                         "sentence_index", "model")


@dataclass
class Pending:
    """A shard's entity rows not written yet: from the cache (in the entities file schema) and
    from the model (rows, as they come)."""

    cached: pa.Table
    found: list[dict[str, Any]]


def _cached_entities(hits: Sequence[dict[str, Any]], cached: pa.Table) -> pa.Table:
    """The cached entity rows of ``hits`` (articles whose content hash the cache knows) under
    their article ids, in article order and then text order, in the entities file schema."""
    order = pa.table({"article_id": pa.array([r["article_id"] for r in hits], pa.string()),
                      "content_hash": pa.array([r["content_hash"] for r in hits], pa.string()),
                      "_order": pa.array(range(len(hits)), pa.int64())})
    rows = cached.join(order, "content_hash", join_type="inner").sort_by(
        [("_order", "ascending"), ("start_char", "ascending"), ("end_char", "ascending"),
         ("label", "ascending")])
    return storage.conform(rows.drop_columns(["_order", "content_hash"]), "entities")


def enrich_shard(articles_part: Path, batch_date: date, settings: Settings,
                 progress: Progress = NO_PROGRESS) -> Path:
    """Named entities for one shard's articles, written next to them as an entities part (the
    Airflow task: one shard per task). See ``enrich_shards``."""
    return enrich_shards([articles_part], batch_date, settings, progress)[0]


def enrich_shards(articles_parts: Sequence[Path], batch_date: date, settings: Settings,
                  progress: Progress = NO_PROGRESS) -> list[Path]:
    """Named entities for the articles of several shards of one run, as one stream.

    Per shard it writes an entities part and a side table of which model enriched each article
    (``ENRICHED``). Articles whose content the same model version already enriched in a
    published batch take those rows (``_entity_cache``): the model is not run, nor loaded if
    nothing else needs it. The rest flow through one ``ner_stream`` per model (one worker pool
    for all the shards, ``ner_processes``); a shard's rows are written as soon as its last
    article is through, so memory does not grow with the batch. ``progress`` hears of articles
    as ``enrich`` units. Carry-over shards already have their parts and are skipped.
    """
    from pipeline.enrich import (
        NerFailure,
        entity_rows,
        known_names,
        label_of,
        load_pipeline,
        ner_stream,
    )

    if not articles_parts:
        return []
    staging = articles_parts[0].parent.parent.parent
    run_id = storage.read_json(staging / PLAN)["run_id"]
    cache = _entity_cache(storage.Warehouse(settings.warehouse))
    todo: list[tuple[int, Path]] = []
    only: dict[int, set[str]] = {}  # carry-over shards: just the articles whose model changed
    for part in articles_parts:
        index = int(part.stem.rsplit("-", 1)[1])
        if _part(staging, "entities", index).exists():  # carry-over: entities were copied
            progress.advance("enrich", done=pq.ParquetFile(part).metadata.num_rows)
            continue
        todo.append((index, part))
        if _stale_list(staging, index).exists():
            only[index] = set(storage.read_json(_stale_list(staging, index))["article_ids"])
            progress.advance("enrich", done=pq.ParquetFile(part).metadata.num_rows
                             - len(only[index]))
    locations: dict[str | None, str | None] = {}

    def location_of(language: str | None) -> str | None:
        if language not in locations:
            spec = settings.ner_models.get(language or "", "none")
            locations[language] = resolve_model(spec, settings.models_dir) if language else None
        return locations[language]

    languages: Counter[str | None] = Counter()
    for index, part in todo:
        table = pq.read_table(part, columns=["article_id", "language"])
        languages.update(lang for a, lang in zip(table.column("article_id").to_pylist(),
                                                 table.column("language").to_pylist(),
                                                 strict=True)
                         if index not in only or a in only[index])
    used = sorted({loc for lang in languages if (loc := location_of(lang)) is not None})
    # Articles of languages without a pipeline are done as they are: no entities.
    progress.advance("enrich", done=sum(n for lang, n in languages.items()
                                        if location_of(lang) is None))
    models: dict[int, dict[str, str | None]] = {index: {} for index, _ in todo}
    failures: dict[int, dict[str, str]] = {index: {} for index, _ in todo}
    reused = 0
    for k, location in enumerate(used):
        label = label_of(location)
        buffered: dict[int, Pending] = {}  # shards read, not yet written

        def items(location: str = location, label: str = label,
                  buffered: dict[int, Pending] = buffered,
                  ) -> Iterator[tuple[tuple[int, str], str]]:
            nonlocal reused
            for index, part in todo:
                table = pq.read_table(part, columns=["article_id", "body", "language",
                                                     "content_hash"])
                rows = [r for r in table.to_pylist() if location_of(r["language"]) == location
                        and (index not in only or r["article_id"] in only[index])]
                found, cached = cache(label, sorted({r["content_hash"] for r in rows}))
                hits = [r for r in rows if r["content_hash"] in found]
                buffered[index] = Pending(_cached_entities(hits, cached), [])
                reused += len(hits)
                progress.advance("enrich", done=len(hits))
                for r in rows:
                    models[index][r["article_id"]] = label
                    if r["content_hash"] not in found:
                        yield (index, r["article_id"]), r["body"][:settings.max_body_chars]

        def flush(upto: int | None, k: int = k,
                  buffered: dict[int, Pending] = buffered) -> None:
            for index in sorted(buffered):
                if upto is not None and index >= upto:
                    break
                pending = buffered.pop(index)
                table = pa.concat_tables([pending.cached, storage.rows_to_table(
                    "entities", pending.found)])
                table = table.set_column(table.schema.get_field_index("run_id"),
                                         table.schema.field("run_id"),
                                         pa.array([run_id] * table.num_rows, pa.string()))
                storage.write_table(_entity_part(staging, index, k, len(used)), table,
                                    settings.row_group_rows)

        workers = processes(settings.ner_processes,
                            sum(pq.ParquetFile(p).metadata.num_rows for _, p in todo),
                            settings.ner_batch_size)
        known: frozenset[str] | None = None
        for (index, article_id), mentions in ner_stream(location, items(), workers,
                                                        settings.ner_batch_size):
            if known is None:
                known = known_names(load_pipeline(location))
            flush(upto=index)
            try:  # one article's failure is its reject (at publish), not the batch's
                if isinstance(mentions, NerFailure):
                    raise RuntimeError(f"{mentions.error}: {mentions.message}")
                buffered[index].found.extend(entity_rows(article_id, mentions, label, known))
            except Exception as exc:
                LOGGER.error("enrich: article %s of shard %d of run %s failed: %s", article_id,
                             index, run_id, exc, exc_info=exc)
                failures[index][article_id] = f"enrich ({label}) failed: {exc}"[:2000]
            progress.advance("enrich", done=1)
        flush(upto=None)
    for index, part in todo:
        for article_id in only.get(index, ()):  # its language has no model now
            models[index].setdefault(article_id, None)
        _merge_entity_parts(staging, index, len(used), settings.row_group_rows)
        storage.write_table(_part(staging, ENRICHED, index), pa.table({
            "article_id": pa.array(list(models[index]), pa.string()),
            "ner_model": pa.array(list(models[index].values()), pa.string()),
            "error": pa.array([failures[index].get(a) for a in models[index]], pa.string())}),
            settings.row_group_rows)
        LOGGER.info("shard %d of run %s: %d entities in %d articles", index, run_id,
                    pq.ParquetFile(_part(staging, "entities", index)).metadata.num_rows,
                    pq.ParquetFile(part).metadata.num_rows)
    if reused:
        LOGGER.info("run %s: entities of %d articles reused (content already enriched by the "
                    "same model version)", run_id, reused)
    return [_part(staging, "entities", int(p.stem.rsplit("-", 1)[1])) for p in articles_parts]


def _entity_part(staging: Path, index: int, k: int, passes: int) -> Path:
    """Where pass ``k`` (one per model) writes shard ``index``'s rows: the final part when there
    is one model, else a temporary part merged by ``_merge_entity_parts``."""
    final = _part(staging, "entities", index)
    return final if passes == 1 else final.with_name(f"{final.stem}.model-{k}.parquet")


def _merge_entity_parts(staging: Path, index: int, passes: int, row_group_rows: int) -> None:
    """One entities part per shard: the rows carried over (if some articles were enriched
    again) and those of each model's pass."""
    final = _part(staging, "entities", index)
    carried = _carried_entities(staging, index)
    if passes == 1 and final.exists() and not carried.exists():
        return
    pieces = [carried, *(_entity_part(staging, index, k, passes) for k in range(passes))]
    tables = [storage.read_table(p, "entities") for p in pieces if p.exists()]
    storage.write_table(final, pa.concat_tables(tables) if tables else
                        storage.rows_to_table("entities", []), row_group_rows)
    for piece in pieces:
        if piece != final:
            piece.unlink(missing_ok=True)


def publish_batch(plan_path: Path, batch_date: date, settings: Settings,
                  progress: Progress = NO_PROGRESS) -> Path:
    """Check the run's staged parts, build the new version and swap it in atomically.

    Articles already loaded by an earlier shard of the same batch become ``duplicate`` rejects
    (with their entities dropped), so every article_id appears once per batch. ``progress``
    hears of each of the four staged tables compacted (and its rows) as ``publish``.
    """
    plan = storage.read_json(plan_path)
    _check_batch(plan, batch_date, plan_path)
    run_id = plan["run_id"]
    staging = plan_path.parent
    n = len(plan["shards"])
    missing = [f"{table} part {i}" for table in STAGED_TABLES
               for i in range(n) if not _part(staging, table, i).exists()]
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

        clusters = _near_duplicates(wh, batch_date, [_part(staging, "articles", i)
                                                     for i in range(n)])
        enriched_by, enrich_errors = _enriched_by([_part(staging, ENRICHED, i)
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

        parts = {t: [_part(staging, t, i) for i in range(n)]
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
        _quality_gate(wh, version, staging, batch_date, run_id, settings)
        history = _run_history(wh, batch_date)
        storage.write_table(version / "runs" / storage.published_name(version / "runs", 0),
                            storage.rows_to_table("runs", [*history, run_row]),
                            settings.row_group_rows)
        storage.swap_in(wh, batch_date, version, storage.table_names(), settings.keep_previous,
                        durable=settings.fsync)
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


def _check_batch(manifest: dict[str, Any], batch_date: date, path: Path) -> None:
    if manifest["batch_date"] != batch_date.isoformat():
        raise PublishError(f"{path} belongs to batch {manifest['batch_date']}, not {batch_date}")


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

    from pipeline.catalog import CatalogError, refresh_catalog

    try:
        return refresh_catalog(settings)
    except (duckdb.Error, OSError, CatalogError) as exc:
        catalog = storage.Warehouse(settings.warehouse).catalog
        LOGGER.warning("batch published, but the catalog %s was not refreshed: %s: %s; run "
                       "`newsetl catalog` once it is free", catalog, type(exc).__name__, exc)
        return catalog
