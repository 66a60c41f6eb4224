"""RSS, Atom (feedparser) and JSON Feed: one record per item.

An item's HTML content is turned into plain paragraphs with lxml; the summary becomes the teaser
when there is full content, else the body. The feed's title is the item's site name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from typing import Any

from pipeline.ingest.base import (
    ReadContext,
    html_to_text,
    isolated,
    read_document,
    structured_record,
)
from pipeline.ingest.containers import Leaf
from pipeline.ingest.records import Fields, RawRecord, Reject

LOGGER = logging.getLogger(__name__)


def read_feed(leaf: Leaf, ctx: ReadContext) -> Iterator[RawRecord | Reject]:
    """RSS 0.9x/1.0/2.0 and Atom; a feed too broken to yield items is one file reject."""
    import feedparser

    data = read_document(leaf, ctx, ctx.max_document_bytes)
    if isinstance(data, Reject):
        yield data
        return
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    entries = parsed.get("entries") or []
    if not entries:
        problem = parsed.get("bozo_exception")
        yield ctx.reject(leaf, "file", "invalid_feed" if problem else "empty_feed",
                         f"feed could not be parsed: {problem}" if problem
                         else "feed has no items", data)
        return
    version = str(parsed.get("version") or "")
    fmt = "atom" if version.startswith("atom") else "rss"
    encoding = str(parsed.get("encoding") or "utf-8").lower()
    warnings: tuple[str, ...] = ()
    if parsed.get("bozo"):
        warnings = (f"feed is not well-formed, read leniently: {parsed.get('bozo_exception')}",)
    site = (parsed.get("feed") or {}).get("title")
    for index, entry in enumerate(entries, 1):
        locator = f"item {index}"
        yield isolated(ctx, leaf, locator, f"{fmt} item", partial(
            _entry_record, ctx, leaf, fmt, locator, entry, parsed, site, encoding, warnings))


def _entry_record(ctx: ReadContext, leaf: Leaf, fmt: str, locator: str, entry: Any,
                  parsed: Any, site: Any, encoding: str,
                  warnings: tuple[str, ...]) -> RawRecord | Reject:
    """One RSS/Atom entry as a record, or its reject."""
    content = entry.get("content") or []
    body_html = content[0].get("value") if content else None
    summary = html_to_text(entry.get("summary"))
    body = html_to_text(body_html) or summary
    if not body:
        return ctx.reject(leaf, locator, "no_body", f"{locator}: feed item without text",
                          str(entry.get("title") or entry.get("link") or ""))
    authors = tuple(a.get("name") for a in entry.get("authors") or [] if a.get("name"))
    tags = entry.get("tags") or []
    fields = Fields(
        body=body, title=entry.get("title") or None,
        teaser=summary if body_html and summary != body else None,
        published=dict.get(entry, "published") or dict.get(entry, "updated") or None,
        modified=dict.get(entry, "updated") if dict.get(entry, "published") else None,
        url=entry.get("link") or None, authors=authors,
        language=(entry.get("language") or (parsed.get("feed") or {}).get("language")
                  or None),
        site_name=site or None, section=tags[0].get("term") if tags else None,
        source_id=entry.get("id") or None, layout=fmt)
    return structured_record(ctx, leaf, fmt, locator, fields, encoding, warnings)


