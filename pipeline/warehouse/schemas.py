"""The warehouse tables, each defined once as a pyarrow schema.

Every table is Hive-partitioned by ``batch_date``: the column is part of the schema (it is what
readers see) but is not stored inside the files; it comes from the ``batch_date=YYYY-MM-DD`` folder.
What each column means is documented once, with the catalog view that shows it, in
``sql/models.yml`` (the README's column reference and the data tests are generated from it).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

PARTITION_COLUMN = "batch_date"
TS = pa.timestamp("us", tz="UTC")


def _f(name: str, type_: pa.DataType, nullable: bool = True) -> pa.Field[Any]:
    return pa.field(name, type_, nullable=nullable)


ARTICLES = pa.schema([
    _f("article_id", pa.string(), False),
    _f("batch_date", pa.date32(), False),
    _f("source_file", pa.string(), False),
    _f("member", pa.string()),
    _f("locator", pa.string(), False),
    _f("format", pa.string(), False),
    _f("source_id", pa.string()),
    _f("sequence", pa.int32()),
    _f("url", pa.string()),
    _f("source_domain", pa.string()),
    _f("authors", pa.list_(pa.string()), False),
    _f("site_name", pa.string()),
    _f("section", pa.string()),
    _f("title", pa.string()),
    _f("teaser", pa.string()),
    _f("body", pa.string(), False),
    _f("subheadings", pa.list_(pa.string()), False),
    _f("language", pa.string()),
    _f("language_confidence", pa.float32()),
    _f("published_at", TS),
    _f("published_local", pa.string()),
    _f("published_precision", pa.string()),
    _f("published_source", pa.string()),
    _f("published_confidence", pa.float32()),
    _f("published_flag", pa.string()),
    _f("dateline_place", pa.string()),
    _f("fetched_at", TS),
    _f("word_count", pa.int32(), False),
    _f("char_count", pa.int32(), False),
    _f("content_hash", pa.string(), False),
    _f("duplicate_cluster_id", pa.string(), False),
    # MinHash signature of the body (128 values): the index later batches are clustered
    # against (pipeline.transform.neardup). Internal: the articles view hides it.
    _f("minhash", pa.list_(pa.uint32()), False),
    _f("encoding", pa.string(), False),
    _f("layout", pa.string(), False),
    _f("warnings", pa.list_(pa.string()), False),
    _f("ner_model", pa.string()),
    _f("run_id", pa.string(), False),
])

ENTITIES = pa.schema([
    _f("article_id", pa.string(), False),
    _f("batch_date", pa.date32(), False),
    _f("text", pa.string(), False),
    _f("label", pa.string(), False),
    _f("norm", pa.string()),
    _f("start_char", pa.int32(), False),
    _f("end_char", pa.int32(), False),
    _f("sentence_index", pa.int32(), False),
    _f("model", pa.string(), False),
    _f("run_id", pa.string(), False),
    _f("field", pa.string()),  # title, teaser or body (null: body, before fields were enriched)
])

# Derived at publish from the batch's articles and entities (pipeline.warehouse.derived).
ARTICLE_ENTITIES = pa.schema([
    _f("article_id", pa.string(), False),
    _f("batch_date", pa.date32(), False),
    _f("day", pa.date32()),
    _f("day_precision", pa.string()),
    _f("label", pa.string(), False),
    _f("norm", pa.string(), False),
    _f("story_id", pa.string(), False),
    _f("mentions", pa.int32(), False),
    _f("run_id", pa.string(), False),
])

# Derived at publish from the batch's LOC entities and articles (pipeline.batch.places): one
# row per LOC mention, resolved to a place or kept with the reason it was not.
PLACES = pa.schema([
    _f("article_id", pa.string(), False),
    _f("batch_date", pa.date32(), False),
    _f("field", pa.string()),
    _f("start_char", pa.int32(), False),
    _f("end_char", pa.int32(), False),
    _f("text", pa.string(), False),
    _f("geonameid", pa.int64()),
    _f("name_en", pa.string()),
    _f("name_de", pa.string()),
    _f("feature", pa.string()),
    _f("country_code", pa.string()),
    _f("admin1_code", pa.string()),
    _f("latitude", pa.float64()),
    _f("longitude", pa.float64()),
    _f("population", pa.int64()),
    _f("method", pa.string(), False),
    _f("confidence", pa.float32(), False),
    _f("reason", pa.string()),
    _f("run_id", pa.string(), False),
])

TIME_MENTIONS = pa.schema([
    _f("article_id", pa.string(), False),
    _f("batch_date", pa.date32(), False),
    _f("text", pa.string(), False),
    _f("start_char", pa.int32(), False),
    _f("end_char", pa.int32(), False),
    _f("value", pa.string()),
    _f("precision", pa.string(), False),
    _f("note", pa.string()),
    _f("run_id", pa.string(), False),
])

REJECTS = pa.schema([
    _f("batch_date", pa.date32(), False),
    _f("source_file", pa.string(), False),
    _f("member", pa.string()),
    _f("locator", pa.string(), False),
    _f("reason", pa.string(), False),
    _f("reason_code", pa.string(), False),
    _f("excerpt", pa.string(), True),
    _f("run_id", pa.string(), False),
])

RUNS = pa.schema([
    _f("run_id", pa.string(), False),
    _f("batch_date", pa.date32(), False),
    _f("started_at", TS, False),
    _f("finished_at", TS, False),
    _f("code_version", pa.string(), False),
    _f("input_files", pa.int32(), False),
    _f("records_read", pa.int64(), False),
    _f("articles_loaded", pa.int64(), False),
    _f("records_rejected", pa.int64(), False),
    _f("entities_found", pa.int64(), False),
    _f("files_unchanged", pa.int32()),
    _f("files_removed", pa.int32()),
    _f("input_fingerprint", pa.string()),
    _f("is_current", pa.bool_(), False),
])

QUALITY_CHECKS = pa.schema([
    _f("batch_date", pa.date32(), False),
    _f("run_id", pa.string(), False),
    _f("check", pa.string(), False),
    _f("status", pa.string(), False),
    _f("observed", pa.float64()),
    _f("threshold", pa.float64(), False),
    _f("detail", pa.string(), False),
])

MANIFEST = pa.schema([
    _f("batch_date", pa.date32(), False),
    _f("run_id", pa.string(), False),
    _f("source_file", pa.string(), False),
    _f("size", pa.int64()),
    _f("sha256", pa.string()),
    _f("status", pa.string(), False),
    _f("read_key", pa.string()),
])

TABLES: dict[str, pa.Schema] = {
    "articles": ARTICLES,
    "entities": ENTITIES,
    "article_entities": ARTICLE_ENTITIES,
    "places": PLACES,
    "time_mentions": TIME_MENTIONS,
    "rejects": REJECTS,
    "runs": RUNS,
    "quality_checks": QUALITY_CHECKS,
    "manifest": MANIFEST,
}


INTERNAL_COLUMNS: dict[str, tuple[str, ...]] = {"articles": ("minhash",),
                                                "manifest": ("read_key",)}
"""Stored for the pipeline's own use and hidden by the catalog's views (``read_key``: what
besides its bytes shaped a file's rows, compared by a re-run; older batches lack it)."""


def view_schema(table: str) -> pa.Schema:
    """What the catalog view of ``table`` shows: the table schema without internal columns."""
    schema = TABLES[table]
    for name in INTERNAL_COLUMNS.get(table, ()):
        schema = schema.remove(schema.get_field_index(name))
    return schema


def file_schema(table: str) -> pa.Schema:
    """Schema of the Parquet files of ``table``: the table schema without the partition column."""
    schema = TABLES[table]
    return schema.remove(schema.get_field_index(PARTITION_COLUMN))


def empty_table(table: str) -> pa.Table:
    return file_schema(table).empty_table()
