"""Readers of structured dumps: JSON Lines, JSON documents (arrays, wrapped lists, JSON Feed)
and CSV/TSV. Each record is mapped onto :class:`~pipeline.ingest.records.Fields`; a record that
cannot be mapped, or on which mapping raises, is that record's reject and the file goes on."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from pipeline.ingest.base import (
    TARGETS,
    FormatOptions,
    Line,
    ReadContext,
    html_to_text,
    isolated,
    iter_lines,
    map_fields,
    read_decoded,
    strip_bom,
    structured_record,
)
from pipeline.ingest.containers import Leaf
from pipeline.ingest.records import Fields, RawRecord, Reject

LOGGER = logging.getLogger(__name__)


def _record_from_object(ctx: ReadContext, leaf: Leaf, fmt: str, locator: str, obj: Any,
                        encoding: str, warnings: tuple[str, ...], raw: str
                        ) -> RawRecord | Reject:
    return isolated(ctx, leaf, locator, f"{fmt} record", lambda: _object_record(
        ctx, leaf, fmt, locator, obj, encoding, warnings, raw), raw)


def _object_record(ctx: ReadContext, leaf: Leaf, fmt: str, locator: str, obj: Any,
                   encoding: str, warnings: tuple[str, ...], raw: str) -> RawRecord | Reject:
    if not isinstance(obj, dict):
        return ctx.reject(leaf, locator, "not_an_object",
                          f"{locator}: expected a JSON object, got {type(obj).__name__}", raw)
    fields, why = map_fields(obj, ctx.options)
    if fields is None:
        return ctx.reject(leaf, locator, "no_body", f"{locator}: {why}", raw)
    return structured_record(ctx, leaf, fmt, locator, fields, encoding, warnings)


def read_jsonl(leaf: Leaf, ctx: ReadContext) -> Iterator[RawRecord | Reject]:
    """JSON Lines: one object per line; a bad line is one reject, the rest loads."""
    for line in iter_lines(leaf, ctx):
        if isinstance(line, Reject):
            yield line
            continue
        if not line.text.strip():
            continue
        locator = f"line {line.number}"
        try:
            obj = json.loads(line.text)
        except json.JSONDecodeError as exc:
            yield ctx.reject(leaf, locator, "invalid_json", f"{locator}: invalid JSON: {exc}",
                             line.text)
            continue
        yield _record_from_object(ctx, leaf, "jsonl", locator, obj, line.encoding,
                                  line.warnings, line.text)


_LIST_KEYS = ("articles", "items", "data", "records", "results", "docs", "documents")


def read_json(leaf: Leaf, ctx: ReadContext) -> Iterator[RawRecord | Reject]:
    """A JSON document: an array of records, an object holding one (``articles``, ``items``,
    ...), a JSON Feed, or a single record."""
    decoded = read_decoded(leaf, ctx, ctx.max_document_bytes)
    if isinstance(decoded, Reject):
        yield decoded
        return
    text, encoding, warnings = decoded
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        yield ctx.reject(leaf, "file", "invalid_json", f"invalid JSON document: {exc}", text)
        return
    if isinstance(doc, dict) and str(doc.get("version", "")).startswith("https://jsonfeed.org"):
        yield from jsonfeed_records(doc, leaf, ctx, encoding, warnings)
        return
    items: Any = doc
    if isinstance(doc, dict):
        items = next((doc[k] for k in _LIST_KEYS if isinstance(doc.get(k), list)), [doc])
    if not isinstance(items, list):
        yield ctx.reject(leaf, "file", "not_an_object",
                         f"expected a JSON object or array, got {type(doc).__name__}", text)
        return
    if not items:
        yield ctx.reject(leaf, "file", "empty_file", "JSON document holds no records", text)
        return
    for index, obj in enumerate(items, 1):
        raw = json.dumps(obj, ensure_ascii=False)[:400] if obj is not None else "null"
        yield _record_from_object(ctx, leaf, "json", f"item {index}", obj, encoding, warnings,
                                  raw)


def read_csv(leaf: Leaf, ctx: ReadContext) -> Iterator[RawRecord | Reject]:
    """CSV/TSV with a header (mapped like JSON keys) or configured ``columns``."""
    fmt = "tsv" if leaf.name.lower().endswith((".tsv", ".tab")) else "csv"
    opts = ctx.options
    line_rejects: list[Reject] = []
    last: list[Line] = []  # the line a row ended on: its encoding and warnings go on the record

    def lines() -> Iterator[str]:
        for line in iter_lines(leaf, ctx):
            if isinstance(line, Reject):
                line_rejects.append(line)
                continue
            last[:] = [line]
            yield line.text + "\n"  # csv needs the newline to keep quoted multi-line fields

    sample = strip_bom(leaf.head).decode("utf-8", errors="replace")
    delimiter = opts.delimiter or ("\t" if fmt == "tsv" else _sniff_delimiter(sample))
    quotechar = opts.quotechar or '"'
    csv.field_size_limit(max(ctx.max_record_bytes, 131072))
    reader = csv.reader(lines(), delimiter=delimiter, quotechar=quotechar)
    header: list[str] | None = None
    row_no = 0
    try:
        for row in reader:
            yield from line_rejects
            line_rejects.clear()
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                if opts.columns:
                    header = list(opts.columns)
                    if opts.header is True:
                        continue  # the file's own header row, replaced by `columns`
                elif opts.header is False or not _looks_like_header(row, opts):
                    yield ctx.reject(leaf, "file", "unmapped_columns",
                                     "CSV has no recognisable header and no column mapping: set "
                                     "formats.<glob>.columns (and header) in the settings",
                                     delimiter.join(row))
                    return
                else:
                    header = [c.strip() for c in row]
                    continue
            names = header
            row_no += 1
            locator = f"row {row_no}"
            if len(row) != len(names):
                yield ctx.reject(leaf, locator, "bad_row",
                                 f"{locator}: {len(row)} fields, expected {len(names)}",
                                 delimiter.join(row))
                continue
            obj = dict(zip(names, row, strict=True))
            encoding, warnings = (last[0].encoding, last[0].warnings) if last else ("utf-8", ())
            yield _record_from_object(ctx, leaf, fmt, locator, obj, encoding, warnings,
                                      delimiter.join(row))
    except csv.Error as exc:
        yield ctx.reject(leaf, f"row {row_no + 1}", "bad_row", f"CSV error: {exc}")
    yield from line_rejects


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _looks_like_header(row: list[str], opts: FormatOptions) -> bool:
    known = {k.lower() for t in TARGETS for k in opts.candidates(t)}
    return any(cell.strip().lower() in known for cell in row)


def jsonfeed_records(doc: Mapping[str, Any], leaf: Leaf, ctx: ReadContext, encoding: str,
                     warnings: tuple[str, ...]) -> Iterator[RawRecord | Reject]:
    """JSON Feed 1.0/1.1 items (https://jsonfeed.org/version/1.1)."""
    items = doc.get("items")
    if not isinstance(items, list) or not items:
        yield ctx.reject(leaf, "file", "empty_feed", "JSON Feed has no items")
        return
    site = doc.get("title")
    feed_authors = doc.get("authors") or ([doc["author"]] if doc.get("author") else [])
    for index, item in enumerate(items, 1):
        locator = f"item {index}"
        yield isolated(ctx, leaf, locator, "jsonfeed item", partial(
            _item_record, ctx, leaf, locator, item, doc, site, feed_authors, encoding, warnings))


def _item_record(ctx: ReadContext, leaf: Leaf, locator: str, item: Any,
                 doc: Mapping[str, Any], site: Any, feed_authors: Any, encoding: str,
                 warnings: tuple[str, ...]) -> RawRecord | Reject:
    """One JSON Feed item as a record, or its reject."""
    if not isinstance(item, dict):
        return ctx.reject(leaf, locator, "not_an_object", f"{locator}: not a JSON object")
    summary = html_to_text(item.get("summary"))
    body = (item.get("content_text") or "").strip() or html_to_text(item.get("content_html"))
    teaser = summary
    if not body:
        body, teaser = summary, None
    if not body:
        return ctx.reject(leaf, locator, "no_body", f"{locator}: feed item without text",
                          str(item.get("title") or item.get("url") or ""))
    people = item.get("authors") or ([item["author"]] if item.get("author") else
                                     feed_authors)
    authors = tuple(str(p.get("name")) for p in people
                    if isinstance(p, dict) and p.get("name"))
    tags = item.get("tags") or []
    fields = Fields(
        body=body, title=item.get("title") or None, teaser=teaser,
        published=item.get("date_published") or None,
        modified=item.get("date_modified") or None,
        url=item.get("url") or item.get("external_url") or None, authors=authors,
        language=item.get("language") or doc.get("language") or None,
        site_name=site or None, section=str(tags[0]) if tags else None,
        source_id=str(item["id"]) if item.get("id") is not None else None,
        layout="jsonfeed")
    return structured_record(ctx, leaf, "jsonfeed", locator, fields, encoding, warnings)
