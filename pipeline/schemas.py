"""The warehouse tables, each defined once as a pyarrow schema.

Every table is Hive-partitioned by ``batch_date``: the column is part of the schema (it is what
readers see) but is not stored inside the files; it comes from the ``batch_date=YYYY-MM-DD`` folder.
Field metadata ``doc`` is the column's documentation (README and tests read it from here).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

PARTITION_COLUMN = "batch_date"
TS = pa.timestamp("us", tz="UTC")


def _f(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field[Any]:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


ARTICLES = pa.schema([
    _f("article_id", pa.string(), "Stable id: hash of the URL, else of the source id, else of the "
       "normalised title and body; the same article in a later dump gets the same id.", False),
    _f("batch_date", pa.date32(), "Logical date of the batch that loaded the row (partition).",
       False),
    _f("source_file", pa.string(), "Input file, relative to the batch's input root.", False),
    _f("member", pa.string(), "Path inside the archive(s) the record came from (`a.tar.gz` -> "
       "`x/b.jsonl.bz2` -> `b.jsonl` is `x/b.jsonl.bz2/b.jsonl`); null for a plain file."),
    _f("locator", pa.string(), "Where in the file or member: `file` (the whole file), `line N`, "
       "`row N`, `item N` or `offset N`.", False),
    _f("format", pa.string(), "Reader that produced the record: text, jsonl, json, csv, html, "
       "rss, atom, jsonfeed or warc.", False),
    _f("source_id", pa.string(), "Id the source gives the record (file name `NNN_<16 hex>.txt`, "
       "JSON `id`, feed guid), else null."),
    _f("sequence", pa.int32(), "Sequence number from the file name (`NNN_...`), else null."),
    _f("url", pa.string(), "Canonical URL of the article when the source gives one: lower-case "
       "scheme and host, no `www.`, no fragment, no tracking parameters (utm_*, fbclid, ...)."),
    _f("source_domain", pa.string(), "Host of the URL without `www.` (the outlet), when there "
       "is a URL."),
    _f("authors", pa.list_(pa.string()), "Author names as the source gives them (may be empty).",
       False),
    _f("site_name", pa.string(), "Publisher or site name (news-please source_domain, HTML "
       "site name, feed title); else the file's first folder below the landing day folder "
       "(`2023-01-31/bbc/sport/199.txt` -> `bbc`); null when neither is known."),
    _f("section", pa.string(), "Section, category or topic label the source gives, when known."),
    _f("title", pa.string(), "Headline, when the layout has one."),
    _f("teaser", pa.string(), "Lead/teaser paragraph, when the layout has one."),
    _f("body", pa.string(), "Main text: paragraphs and subheadings in order, separated by a "
       "blank line; entity offsets point into it.", False),
    _f("subheadings", pa.list_(pa.string()), "Short unpunctuated one-line paragraphs of the body.",
       False),
    _f("language", pa.string(), "ISO 639-1 code detected from title, teaser and body; null when "
       "there is too little text."),
    _f("language_confidence", pa.float32(), "Probability of the detected language (0-1; "
       "py3langid, normalised)."),
    _f("published_at", TS, "Publication time in UTC. With a time (precision minute/second): the "
       "instant, read in the outlet's zone when the source gave no offset. Without (day, month, "
       "year): midnight UTC of the calendar date as written, never shifted by a zone. Null when "
       "no plausible date was found and there is no batch to fall back on."),
    _f("published_local", pa.string(), "The date as the source gives it, to its precision, with "
       "the UTC offset (and zone) used when there is a time: `2023-01`, `2023-01-30`, "
       "`2023-01-30T14:05+01:00 [Europe/Berlin]`."),
    _f("published_precision", pa.string(), "year|month|day|minute|second: how much of the date "
       "the source actually gave (never finer)."),
    _f("published_source", pa.string(), "Where the date came from: header (dump date line), "
       "metadata (record/feed field), html (page markup), dateline, url, text (first date in "
       "the opening), path (file name) or batch (no date found: the batch date, flagged)."),
    _f("published_confidence", pa.float32(), "Trust in published_source (0-1): header 0.95, "
       "metadata 0.9, html 0.85, dateline 0.8, url 0.75, text 0.5, path 0.4, batch 0.1."),
    _f("published_flag", pa.string(), "Comma-separated problems: after_interval:<source> (a "
       "date after the batch's data interval), before_floor:<source> (before settings "
       "date_floor), batch_fallback; null when none. Flagged dates are not used."),
    _f("dateline_place", pa.string(), "Place of a dateline opening the text (`DAUN, "
       "12.04.2016 - 15:47 Uhr -`, `Berlin (dpa) -`), title-cased."),
    _f("fetched_at", TS, "When the page was crawled (WARC-Date), for WARC records; not a "
       "publication date."),
    _f("word_count", pa.int32(), "Words in body (Unicode word tokens).", False),
    _f("char_count", pa.int32(), "Characters in body.", False),
    _f("content_hash", pa.string(), "SHA-256 of the normalised title, teaser and body: equal "
       "hashes mean equal content.", False),
    _f("duplicate_cluster_id", pa.string(), "Near-duplicate cluster (wire copies, re-edits, "
       "another headline): the article_id of the cluster's first article, across batches; "
       "equal to article_id for an article with no near duplicate. MinHash/LSH on word "
       "3-shingles of the body, estimated Jaccard >= 0.5.", False),
    _f("minhash", pa.list_(pa.uint32()), "MinHash signature of the body (128 values): the "
       "index later batches are clustered against. Internal; hidden by the articles view.",
       False),
    _f("encoding", pa.string(), "Text encoding the raw bytes were decoded from.", False),
    _f("layout", pa.string(), "Layout within the format: for text dumps dated (date header), "
       "titled (title line) or plain; for JSON news-please or mapped; else the format.", False),
    _f("warnings", pa.list_(pa.string()), "Problems found that did not prevent loading.", False),
    _f("run_id", pa.string(), "Run that loaded the row (see runs).", False),
])

ENTITIES = pa.schema([
    _f("article_id", pa.string(), "Article the mention belongs to (articles.article_id).", False),
    _f("batch_date", pa.date32(), "Batch partition, as in articles.", False),
    _f("text", pa.string(), "Mention text, exactly body[start_char:end_char].", False),
    _f("label", pa.string(), "Entity type from the language's NER pipeline (PER, LOC, ORG, MISC).",
       False),
    _f("start_char", pa.int32(), "Offset of the first character in articles.body.", False),
    _f("end_char", pa.int32(), "Offset after the last character in articles.body.", False),
    _f("sentence_index", pa.int32(), "0-based sentence of the body the mention is in.", False),
    _f("model", pa.string(), "NER pipeline name and version that produced the mention.", False),
    _f("run_id", pa.string(), "Run that produced the row.", False),
])

TIME_MENTIONS = pa.schema([
    _f("article_id", pa.string(), "Article the expression is in (articles.article_id).", False),
    _f("batch_date", pa.date32(), "Batch partition, as in articles.", False),
    _f("text", pa.string(), "The expression, exactly body[start_char:end_char] (`am Dienstag`, "
       "`gestern`, `vergangene Woche`, `last year`, `vor drei Tagen`).", False),
    _f("start_char", pa.int32(), "Offset of the first character in articles.body.", False),
    _f("end_char", pa.int32(), "Offset after the last character in articles.body.", False),
    _f("value", pa.string(), "What it refers to, from the local publication date: a day "
       "`2023-01-31`, an ISO week `2023-W04`, a month `2023-01` or a year `2024`; null when the "
       "publication date is not precise enough (see note)."),
    _f("precision", pa.string(), "day|week|month|year: the granularity of the expression.",
       False),
    _f("note", pa.string(), "Why the expression is unresolved (e.g. `needs a publication day, "
       "the article has month`); null when resolved."),
    _f("run_id", pa.string(), "Run that produced the row.", False),
])

REJECTS = pa.schema([
    _f("batch_date", pa.date32(), "Batch partition.", False),
    _f("source_file", pa.string(), "Input file, relative to the batch's input root.", False),
    _f("member", pa.string(), "Path inside the archive(s), as in articles.member; null for a "
       "plain file."),
    _f("locator", pa.string(), "Where in the file or member: `file`, `line N`, `row N`, "
       "`item N`, `offset N`, or `after record N` for a file that broke off.", False),
    _f("reason", pa.string(), "Why the record was not loaded, for a person to read.", False),
    _f("reason_code", pa.string(), "Stable machine-readable reason (e.g. empty_file).", False),
    _f("excerpt", pa.string(), "First characters of the record, to recognise it.", True),
    _f("run_id", pa.string(), "Run that rejected the record.", False),
])

RUNS = pa.schema([
    _f("run_id", pa.string(), "Unique id of the run.", False),
    _f("batch_date", pa.date32(), "Batch partition the run published.", False),
    _f("started_at", TS, "When the run was planned (UTC).", False),
    _f("finished_at", TS, "When the run was published (UTC).", False),
    _f("code_version", pa.string(), "Version of news-etl that produced the run.", False),
    _f("input_files", pa.int32(), "Files read.", False),
    _f("records_read", pa.int64(), "Records found in the input files.", False),
    _f("articles_loaded", pa.int64(), "Rows written to articles.", False),
    _f("records_rejected", pa.int64(), "Rows written to rejects; read = loaded + rejected.", False),
    _f("entities_found", pa.int64(), "Rows written to entities.", False),
    _f("files_unchanged", pa.int32(), "Input files identical to the batch's previous run: not "
       "re-processed, their rows carried over."),
    _f("files_removed", pa.int32(), "Files of the batch's previous run that are gone (their rows "
       "dropped; listed in manifest)."),
    _f("input_fingerprint", pa.string(), "SHA-256 over the names and contents of the input "
       "files: a backfill skips a batch whose current run has the same fingerprint and "
       "code_version."),
    _f("is_current", pa.bool_(), "True for the run whose data is published for the batch; earlier "
       "runs of the same batch are kept as history.", False),
])

QUALITY_CHECKS = pa.schema([
    _f("batch_date", pa.date32(), "Batch partition.", False),
    _f("run_id", pa.string(), "Run the check was made for.", False),
    _f("check", pa.string(), "Check name: empty_body_share, unparseable_date_share, "
       "dates_outside_interval, language_shift, volume_ratio_low, volume_ratio_high, "
       "duplicate_rate, entity_coverage.", False),
    _f("status", pa.string(), "pass, fail (blocks publishing), skipped (inputs missing, e.g. "
       "too little history) or overridden (failed, let through by an operator).", False),
    _f("observed", pa.float64(), "The measured figure (a share or a ratio)."),
    _f("threshold", pa.float64(), "The limit from settings quality_thresholds.", False),
    _f("detail", pa.string(), "The figures behind the observation, for a person.", False),
])

MANIFEST = pa.schema([
    _f("batch_date", pa.date32(), "Batch partition.", False),
    _f("run_id", pa.string(), "Run that recorded the file.", False),
    _f("source_file", pa.string(), "Input file, relative to the batch's input root.", False),
    _f("size", pa.int64(), "Bytes (null for a removed file)."),
    _f("sha256", pa.string(), "SHA-256 of the content (null for a removed file)."),
    _f("status", pa.string(), "new (first seen in this batch), changed (re-delivered with other "
       "content: re-processed, its earlier rows replaced), unchanged (re-delivered identical: "
       "not re-processed, its rows carried over) or removed (in the batch's previous run, gone "
       "now: its rows are dropped).", False),
])

TABLES: dict[str, pa.Schema] = {
    "articles": ARTICLES,
    "entities": ENTITIES,
    "time_mentions": TIME_MENTIONS,
    "rejects": REJECTS,
    "runs": RUNS,
    "quality_checks": QUALITY_CHECKS,
    "manifest": MANIFEST,
}


INTERNAL_COLUMNS: dict[str, tuple[str, ...]] = {"articles": ("minhash",)}
"""Stored for the pipeline's own use and hidden by the catalog's views."""


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
