"""RSS, Atom (feedparser) and JSON Feed: one record per item.

An item's HTML content is turned into plain paragraphs with lxml; the summary becomes the teaser
when there is full content, else the body. The feed's title is the item's site name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from pipeline.containers import Leaf
from pipeline.formats import ReadContext, isolated, read_document, structured_record
from pipeline.records import Fields, RawRecord, Reject

LOGGER = logging.getLogger(__name__)
_BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr",
           "section", "article", "figcaption", "pre"}


def html_to_text(fragment: str | None) -> str | None:
    """Paragraph text of an HTML fragment (feed content), without tags, scripts or styles."""
    if not fragment or not fragment.strip():
        return None
    if "<" not in fragment:
        return " ".join(fragment.split()) or None
    import lxml.html
    from lxml.etree import ParserError

    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ParserError, ValueError):
        return " ".join(fragment.split()) or None
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = " ".join(" ".join(current).split())
        if text:
            paragraphs.append(text)
        current.clear()

    for event, el in _walk(root):
        if event == "text":
            current.append(el)
        elif event in {"start", "end"} and el in _BLOCKS:
            flush()
    flush()
    return "\n\n".join(paragraphs) or None


def _walk(el: Any) -> Iterator[tuple[str, Any]]:
    tag = el.tag if isinstance(el.tag, str) else ""
    yield "start", tag
    if el.text and tag:
        yield "text", el.text
    for child in el:
        yield from _walk(child)
        if child.tail:
            yield "text", child.tail
    yield "end", tag


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
