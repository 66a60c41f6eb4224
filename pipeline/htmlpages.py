"""HTML pages and WARC archives: main text and metadata with trafilatura (dates via htmldate).

trafilatura is the reference extractor for news pages; ``favor_precision`` is used because a
warehouse of articles is hurt more by navigation and teaser boilerplate than by a missed
paragraph (measured on ../shared/data/html: see ``make eval-html``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from pipeline.containers import Leaf
from pipeline.encoding import DecodeError, decode_document
from pipeline.formats import ReadContext, read_document, structured_record
from pipeline.records import Fields, RawRecord, Reject

LOGGER = logging.getLogger(__name__)
MIN_PAGE_CHARS = 50
"""Fewer letters/digits of main text than this is a page without an article (a menu, "Skip to
content", an error page). Counted in characters, not words: CJK text has no spaces."""


def extract(html: str, url: str | None = None) -> dict[str, Any] | None:
    """trafilatura's main text and metadata as a dict, or ``None`` when the page has no text."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, url=url, favor_precision=True, include_comments=False, include_tables=True,
        with_metadata=True,
        date_extraction_params={"original_date": True, "extensive_search": True})
    if doc is None:
        return None
    values: dict[str, Any] = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    letters = sum(1 for c in values.get("text") or "" if c.isalnum())
    return values if letters >= MIN_PAGE_CHARS else None


_TITLE_TAIL = re.compile(
    r"^(?P<head>.{12,}?)\s+(?P<sep>[|›»·:]{1,2}|[-–—])\s+(?P<tail>[^|›»·–—]{2,60})$")
_DOMAINISH = re.compile(r"\.[a-z]{2,6}$", re.IGNORECASE)


def clean_title(title: str | None, site: str | None) -> str | None:
    """Drop a ``" - Site name"`` / ``" | Site"`` tail that pages add to their <title>.

    The tail goes when it names the site (trafilatura's site name or host), looks like a domain,
    or follows a ``|``/``›``/``»``/``·`` separator (never used inside headlines).
    """
    if not title:
        return None
    title = " ".join(title.split())
    match = _TITLE_TAIL.match(title)
    if not match:
        return title
    tail = match.group("tail").strip().lower()
    names = {n.lower() for n in (site or "").split("|") if n}
    if (tail in names or any(tail in n or n in tail for n in names if len(n) > 3)
            or _DOMAINISH.search(tail) or match.group("sep") in {"|", "›", "»", "·", "||"}):
        return match.group("head").strip()
    return title


def html_fields(values: dict[str, Any], url: str | None, fetched_at: str | None = None) -> Fields:
    """Article fields of an extracted page; ``url`` (a WARC target URI) wins over the page's own
    canonical/og:url, which is sometimes wrong (an image or the home page)."""
    authors = tuple(a.strip() for a in (values.get("author") or "").split(";") if a.strip())
    categories = values.get("categories") or []
    section = (categories[0] if isinstance(categories, list) and categories
               else categories if isinstance(categories, str) and categories else None)
    return Fields(
        body=values["text"].strip(),
        title=clean_title(values.get("title"), values.get("sitename") or values.get("hostname")),
        teaser=values.get("description") or None, published=values.get("date") or None,
        url=url or values.get("url") or None, authors=authors,
        language=values.get("language") or None,
        site_name=values.get("sitename") or values.get("hostname") or None, section=section,
        source_id=None, fetched_at=fetched_at, layout="html")


def read_html(leaf: Leaf, ctx: ReadContext) -> Iterator[RawRecord | Reject]:
    """One page, one record; a page with no extractable main text is a ``no_text`` reject."""
    data = read_document(leaf, ctx, ctx.max_record_bytes)
    if isinstance(data, Reject):
        yield data
        return
    yield _page(leaf, ctx, data, "file", "html")


def _page(leaf: Leaf, ctx: ReadContext, data: bytes, locator: str, fmt: str,
          url: str | None = None, fetched_at: str | None = None) -> RawRecord | Reject:
    try:
        html, encoding, warnings = decode_document(data)
    except DecodeError as exc:
        return ctx.reject(leaf, locator, exc.reason_code, str(exc), data)
    values = extract(html, url)
    if values is None:
        return ctx.reject(leaf, locator, "no_text", "HTML page with no extractable main text "
                          f"(under {MIN_PAGE_CHARS} letters after removing boilerplate)", data)
    return structured_record(ctx, leaf, fmt, locator, html_fields(values, url, fetched_at),
                             encoding, warnings)


def read_warc(leaf: Leaf, ctx: ReadContext) -> Iterator[RawRecord | Reject]:
    """WARC/ARC: every HTML response is a page (target URI and WARC-Date kept); request,
    metadata and warcinfo records are protocol, not articles, and are skipped."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    it = ArchiveIterator(leaf.stream, arc2warc=True)
    skipped = 0
    try:
        for record in it:
            if record.rec_type not in ("response", "resource"):
                skipped += 1
                continue
            uri = record.rec_headers.get_header("WARC-Target-URI")
            date = record.rec_headers.get_header("WARC-Date")
            ctype = (record.http_headers.get_header("Content-Type")
                     if record.http_headers else record.rec_headers.get_header("Content-Type"))
            payload = record.content_stream().read(ctx.max_record_bytes + 1)
            # get_record_offset() reads the record to its end: only after the payload.
            locator = f"offset {it.get_record_offset()}"
            if ctype and "html" not in ctype.lower():
                yield ctx.reject(leaf, locator, "not_html",
                                 f"{uri}: {ctype} response, not an HTML page", payload[:200])
                continue
            if len(payload) > ctx.max_record_bytes:
                yield ctx.reject(leaf, locator, "too_large",
                                 f"{uri}: page larger than {ctx.max_record_bytes} bytes", payload)
                continue
            if not payload.strip():
                yield ctx.reject(leaf, locator, "no_text", f"{uri}: empty response body")
                continue
            yield _page(leaf, ctx, payload, locator, "warc", uri, date)
    except ArchiveLoadFailed as exc:
        yield ctx.reject(leaf, "file", "corrupt_archive", f"not a readable WARC: {exc}")
    if skipped:
        LOGGER.debug("%s: skipped %d non-response WARC records", ctx.source_file, skipped)
