"""Plan a batch: hash every input, decide what is carried over (same bytes and read key as the
batch's previous run), taken over from earlier batches (known files) or read, and write the shard
manifests and the landing manifest to the run's staging folder."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipeline.batch.archive_index import ArchiveIndex
from pipeline.batch.common import PARTS, PLAN, SHARDS, BatchPlan
from pipeline.enrich.ner import (
    resolve_model,
)
from pipeline.ingest.base import options_for
from pipeline.ingest.readers import InputFile
from pipeline.progress import NO_PROGRESS, Progress
from pipeline.settings import Settings
from pipeline.warehouse import storage

LOGGER = logging.getLogger(__name__)


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
    reading = _reading_settings(settings)
    for f in inputs:
        hashes[f.relative], head = _digest(f)
        read_keys[f.relative] = read_key(f.relative, head, settings.formats, reading)
        progress.advance("plan", done=1)
    previous = _previous_manifest(wh, batch_date)
    carry_from = wh.current_version(batch_date)
    depends = _files_with_duplicates(carry_from) if carry_from is not None else set()
    same_bytes = {rel for rel, digest in hashes.items() if rel in previous
                  and previous[rel][0] == digest}
    unchanged = {rel for rel in same_bytes
                 if settings.reuse_unchanged and previous[rel][1] == read_keys[rel]
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

    A lookup in the archive index: its cost follows the batch's files, not the archive's."""
    wanted = {h for h in hashes.values() if not _pseudo_digest(h)}
    if not wanted:
        return {}
    seen = {digest: [str(wh.store(day, run_id).resolve()), name, day.isoformat()]
            for digest, (day, run_id, name)
            in ArchiveIndex(wh).known_files(wanted, exclude=batch_date).items()}
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


def read_key(relative: str, head: bytes, formats: Mapping[str, Mapping[str, str]],
             reading: str) -> str:
    """What, besides its bytes, shapes a file's rows: the reading options that apply to it (for
    an archive, whose members may match any glob, the whole ``formats`` table) and ``reading``
    (``_reading_settings``: size limits and code version). A re-run carries a file over only
    when its bytes and this key are both unchanged, so adding a column mapping re-reads the CSV
    it was missing from, and only files that the change concerns."""
    from pipeline.ingest.containers import container_kind

    if container_kind(relative.rsplit("/", 1)[-1], head) is None:
        options: Any = repr(options_for([relative], formats))
    else:
        options = formats
    key = json.dumps([options, reading], sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _reading_settings(settings: Settings) -> str:
    """The part of every file's read key that is the same for the whole batch."""
    return json.dumps([settings.max_record_bytes, settings.max_document_bytes,
                       settings.resolved_code_version()])


def ner_labels(settings: Settings) -> dict[str, str | None]:
    """Language -> label (``de_news-0.3.0``) of the NER pipeline configured for it, None for
    none: what a carried-over article's ``ner_model`` must equal to keep its entities."""
    from pipeline.enrich.ner import label_of

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
    from pipeline.ingest.containers import HEAD_BYTES

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


def _previous_manifest(wh: storage.Warehouse, batch_date: date
                       ) -> dict[str, tuple[str, str | None]]:
    """source_file -> (sha256, read key) of the files the batch's current run read."""
    current = wh.current_version(batch_date)
    return {} if current is None else _manifest(current)


def _manifest(version: Path) -> dict[str, tuple[str, str | None]]:
    """source_file -> (sha256, read key) of the files a published version read; the read key is
    None in versions published before keys were recorded (their files are read again, once)."""
    out: dict[str, tuple[str, str | None]] = {}
    for part in sorted((version / "manifest").glob("*.parquet")):
        names = pq.ParquetFile(part).schema_arrow.names
        table = pq.read_table(part, columns=["source_file", "sha256", "status",
                                             *(["read_key"] if "read_key" in names else [])])
        keys = (table.column("read_key").to_pylist() if "read_key" in names
                else [None] * table.num_rows)
        for name, digest, status, key in zip(table.column("source_file").to_pylist(),
                                             table.column("sha256").to_pylist(),
                                             table.column("status").to_pylist(), keys,
                                             strict=True):
            if status != "removed" and digest:
                out[str(name)] = (str(digest), key)
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


