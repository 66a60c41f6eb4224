"""Enrich stage: named entities for the articles of one or more shards of a run, as one stream
per model, taking rows from the entity cache (published articles with the same content hash and
model version) where it can and writing a shard's part as soon as its last article is through."""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.batch.archive_index import ArchiveIndex
from pipeline.batch.common import ENRICHED, PLAN, carried_entities, part_path, scanner, stale_list
from pipeline.enrich.ner import (
    EntityCache,
    processes,
    resolve_model,
)
from pipeline.progress import NO_PROGRESS, Progress
from pipeline.settings import Settings
from pipeline.warehouse import schemas, storage

LOGGER = logging.getLogger(__name__)


def _entity_cache(wh: storage.Warehouse) -> EntityCache:
    """Entity rows of published articles by content hash, for one model version.

    Equal content hashes mean equal title, teaser and body, so the offsets, sentences and norms
    of the earlier article hold for the new one. The archive index names the first article
    (earliest batch) with each content hash that the model enriched; only those batches'
    entities files are read. Versions published before articles recorded their model are not
    used; one removed while it is read (a concurrent publish) is skipped.
    """
    index = ArchiveIndex(wh)

    def lookup(label: str, hashes: Sequence[str]) -> tuple[set[str], pa.Table]:
        hits = index.enriched_articles(label, hashes)
        by_version: dict[tuple[date, str], dict[str, str]] = {}
        for content_hash, (day, run_id, article_id) in hits.items():
            by_version.setdefault((day, run_id), {})[article_id] = content_hash
        found: set[str] = set()
        pieces: list[pa.Table] = []
        for (day, run_id), by_id in sorted(by_version.items()):
            version = wh.store(day, run_id)
            try:
                rows = scanner(version / "entities", pc.field("article_id").isin(sorted(by_id)),
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
                         "sentence_index", "model", "field")
ENRICHED_FIELDS = ("title", "teaser", "body")
"""The article fields NER runs over; each entity row names its field (offsets into it)."""


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
    from pipeline.enrich.ner import (
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
        if part_path(staging, "entities", index).exists():  # carry-over: entities were copied
            progress.advance("enrich", done=pq.ParquetFile(part).metadata.num_rows)
            continue
        todo.append((index, part))
        if stale_list(staging, index).exists():
            only[index] = set(storage.read_json(stale_list(staging, index))["article_ids"])
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
                  ) -> Iterator[tuple[tuple[int, str, str], str]]:
            nonlocal reused
            for index, part in todo:
                table = pq.read_table(part, columns=["article_id", *ENRICHED_FIELDS, "language",
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
                        for field in ENRICHED_FIELDS:  # headline entities matter most
                            if r[field]:
                                yield ((index, r["article_id"], field),
                                       r[field][:settings.max_body_chars])

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
        stream = ner_stream(location, items(), workers, settings.ner_batch_size)
        for (index, article_id), group in itertools.groupby(stream, key=lambda kv: kv[0][:2]):
            if known is None:
                known = known_names(load_pipeline(location))
            flush(upto=index)
            try:  # one article's failure is its reject (at publish), not the batch's
                by_field = [(key[2], mentions) for key, mentions in group]
                for _, mentions in by_field:
                    if isinstance(mentions, NerFailure):
                        raise RuntimeError(f"{mentions.error}: {mentions.message}")
                buffered[index].found.extend(entity_rows(
                    article_id, [(f, m) for f, m in by_field if not isinstance(m, NerFailure)],
                    label, known))
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
        storage.write_table(part_path(staging, ENRICHED, index), pa.table({
            "article_id": pa.array(list(models[index]), pa.string()),
            "ner_model": pa.array(list(models[index].values()), pa.string()),
            "error": pa.array([failures[index].get(a) for a in models[index]], pa.string())}),
            settings.row_group_rows)
        LOGGER.info("shard %d of run %s: %d entities in %d articles", index, run_id,
                    pq.ParquetFile(part_path(staging, "entities", index)).metadata.num_rows,
                    pq.ParquetFile(part).metadata.num_rows)
    if reused:
        LOGGER.info("run %s: entities of %d articles reused (content already enriched by the "
                    "same model version)", run_id, reused)
    return [part_path(staging, "entities", int(p.stem.rsplit("-", 1)[1])) for p in articles_parts]


def _entity_part(staging: Path, index: int, k: int, passes: int) -> Path:
    """Where pass ``k`` (one per model) writes shard ``index``'s rows: the final part when there
    is one model, else a temporary part merged by ``_merge_entity_parts``."""
    final = part_path(staging, "entities", index)
    return final if passes == 1 else final.with_name(f"{final.stem}.model-{k}.parquet")


def _merge_entity_parts(staging: Path, index: int, passes: int, row_group_rows: int) -> None:
    """One entities part per shard: the rows carried over (if some articles were enriched
    again) and those of each model's pass."""
    final = part_path(staging, "entities", index)
    carried = carried_entities(staging, index)
    if passes == 1 and final.exists() and not carried.exists():
        return
    pieces = [carried, *(_entity_part(staging, index, k, passes) for k in range(passes))]
    tables = [storage.read_table(p, "entities") for p in pieces if p.exists()]
    storage.write_table(final, pa.concat_tables(tables) if tables else
                        storage.rows_to_table("entities", []), row_group_rows)
    for piece in pieces:
        if piece != final:
            piece.unlink(missing_ok=True)


