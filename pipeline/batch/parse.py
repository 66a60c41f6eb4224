"""Parse stage of one shard: read its files' records, build articles and time mentions (each
record isolated: a failure is that record's ``internal_error`` reject), take over known files'
rows, carry unchanged files' rows over, and write the shard's staged parts."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.batch.common import (
    PARTS,
    carried_entities,
    check_batch,
    enriched_by_current,
    part_path,
    scanner,
    stale_list,
)
from pipeline.ingest.readers import InputFile, read_records
from pipeline.ingest.records import Reject
from pipeline.progress import NO_PROGRESS, Progress
from pipeline.settings import Settings
from pipeline.transform import neardup
from pipeline.transform.article import build_article, reuse_row, time_mentions
from pipeline.transform.dedupe import Deduper, lineage
from pipeline.warehouse import schemas, storage

LOGGER = logging.getLogger(__name__)


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
            batches = scanner(folder, expr).to_batches()

        def stamped(rb: pa.RecordBatch, table: str = table) -> pa.Table:
            data = storage.conform(pa.Table.from_batches([rb]), table)
            if table == "articles":
                ids = data.column("article_id").combine_chunks()
                kept.append(ids)
                ok = enriched_by_current(data, labels)
                fresh.append(ids.filter(ok))
                stale.extend(str(a) for a in ids.filter(pc.invert(ok)).to_pylist())
            if "run_id" not in data.column_names:
                return data
            return data.set_column(data.schema.get_field_index("run_id"),
                                   data.schema.field("run_id"),
                                   pa.array([run_id] * data.num_rows, pa.string()))

        target = part_path(staging, table, index)
        if table == "entities" and stale:  # enrichment adds the stale articles' rows
            target = carried_entities(staging, index)
            storage.write_json(stale_list(staging, index), {"article_ids": stale})
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


def parse_shard(shard: Path, batch_date: date, settings: Settings,
                progress: Progress = NO_PROGRESS) -> dict[str, Path]:
    """Read, parse and normalise one shard's files; write its articles and rejects parts.

    ``progress`` hears of every file (and every 1,000 records, for big files) as ``parse``.
    """
    manifest = storage.read_json(shard)
    run_id, index = manifest["run_id"], int(manifest["index"])
    check_batch(manifest, batch_date, shard)
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
                said = time_mentions(row, run_id) if not isinstance(row, Reject) else []
            except Exception as exc:
                row = internal_error(rec.source_file, rec.locator, rec.member, exc, "parse",
                                     rec.text)
            if isinstance(row, Reject):
                reject(row)
            else:
                accept(row, said, rec.source_file, rec.locator, rec.member, lineage(rec))
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
        "articles": storage.write_table(part_path(staging, "articles", index), table,
                                        settings.row_group_rows),
        "rejects": storage.write_table(part_path(staging, "rejects", index),
                                       storage.rows_to_table("rejects", rejects),
                                       settings.row_group_rows),
        "time_mentions": storage.write_table(part_path(staging, "time_mentions", index),
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
            data = scanner(Path(version) / "articles",
                            pc.is_in(pc.field("source_file"), value_set=names)).to_table()
            if not needed <= set(data.column_names):
                continue
            rejected = set(scanner(Path(version) / "rejects",
                                    pc.is_in(pc.field("source_file"), value_set=names),
                                    ["source_file"]).to_table()
                           .column("source_file").to_pylist())
            ids = data.column("article_id")
            said = scanner(Path(version) / "time_mentions",
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
            old = {k: v for k, v in found[0].items() if k != schemas.PARTITION_COLUMN}
            redone = reuse_row(old, relative, old_name, batch_date, old_batch, run_id, settings)
            if redone is not None:
                out[relative] = (redone, [
                    {**m, "article_id": redone["article_id"], "run_id": run_id}
                    for m in mentions.get(found[0]["article_id"], [])])
    return out


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
    """The innermost module of the pipeline in the traceback and its function
    (``transform.dates._build``)."""
    import traceback

    root = Path(__file__).resolve().parents[1]
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(root):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            return f"{module}.{frame.name}"
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


