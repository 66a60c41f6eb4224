"""HTML pages and WARC archives: main text and metadata with trafilatura (dates via htmldate).

trafilatura is the reference extractor for news pages; ``favor_precision`` is used because a
warehouse of articles is hurt more by navigation and teaser boilerplate than by a missed
paragraph (measured on ../shared/data/html: see ``make eval-html``).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, BinaryIO

from pipeline.ingest.base import ReadContext, isolated, read_document, structured_record
from pipeline.ingest.containers import Leaf
from pipeline.ingest.encoding import DecodeError, decode_document
from pipeline.ingest.records import Fields, RawRecord, Reject

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
    metadata and warcinfo records are protocol, not articles, and are skipped.

    A WARC is split into records here, not by warcio: warcio trusts each ``Content-Length``, so
    one wrong length swallowed the records after it (too large: merged into one page; too
    small or not a number: the rest of the file became one ``corrupt_archive``). Here a record
    whose length does not end where the next record starts is a ``bad_warc_record`` reject at its
    offset, and reading goes on at the next ``WARC/1.x`` header (see :func:`_split_warc`);
    warcio then parses each well-delimited record from memory. ARC files still go through warcio.
    """
    if leaf.head.lstrip().startswith(b"filedesc://"):
        yield from _read_arc(leaf, ctx)
        return
    from warcio.recordloader import ArcWarcRecordLoader

    loader = ArcWarcRecordLoader(verify_http=False, arc2warc=True)
    skipped = 0
    for item in _split_warc(leaf.stream, ctx.max_record_bytes + _HTTP_HEADER_ROOM):
        locator = f"offset {item.offset}"
        if isinstance(item, _WarcDamage):
            LOGGER.warning("%s%s: WARC %s: %s", ctx.source_file,
                           f" member {leaf.member}" if leaf.member else "", locator, item.reason)
            yield ctx.reject(leaf, locator, item.code, item.reason, item.raw)
            continue
        if item.fields.get("warc-type") not in ("response", "resource"):
            skipped += 1
            continue
        try:  # warcio's parse errors are no one family; the bytes are in memory: only this record
            record = loader.parse_record_stream(io.BytesIO(item.data()), known_format="warc")
            uri = record.rec_headers.get_header("WARC-Target-URI")
            date = record.rec_headers.get_header("WARC-Date")
            ctype = (record.http_headers.get_header("Content-Type")
                     if record.http_headers else record.rec_headers.get_header("Content-Type"))
            payload = record.content_stream().read(ctx.max_record_bytes + 1)
        except Exception as exc:
            yield ctx.reject(leaf, locator, "bad_warc_record",
                             f"{item.fields.get('warc-type')} record cannot be parsed: "
                             f"{type(exc).__name__}: {exc}", item.header)
            continue
        yield _response(leaf, ctx, locator, uri, date, ctype, payload, item.complete)
    if skipped:
        LOGGER.debug("%s: skipped %d non-response WARC records", ctx.source_file, skipped)


def _response(leaf: Leaf, ctx: ReadContext, locator: str, uri: str | None, date: str | None,
              ctype: str | None, payload: bytes, complete: bool) -> RawRecord | Reject:
    """One WARC/ARC response as a page, or why not (not HTML, too large, empty)."""
    if ctype and "html" not in ctype.lower():
        return ctx.reject(leaf, locator, "not_html",
                          f"{uri}: {ctype} response, not an HTML page", payload[:200])
    if not complete or len(payload) > ctx.max_record_bytes:
        return ctx.reject(leaf, locator, "too_large",
                          f"{uri}: page larger than {ctx.max_record_bytes} bytes", payload)
    if not payload.strip():
        return ctx.reject(leaf, locator, "no_text", f"{uri}: empty response body")
    return isolated(ctx, leaf, locator, "warc record",
                    partial(_page, leaf, ctx, payload, locator, "warc", uri, date), payload)


def _read_arc(leaf: Leaf, ctx: ReadContext) -> Iterator[RawRecord | Reject]:
    """ARC files (the WARC predecessor), through warcio's iterator as WARC records."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    it = ArchiveIterator(leaf.stream, arc2warc=True)
    try:
        for record in it:
            if record.rec_type not in ("response", "resource"):
                continue
            uri = record.rec_headers.get_header("WARC-Target-URI")
            date = record.rec_headers.get_header("WARC-Date")
            ctype = (record.http_headers.get_header("Content-Type")
                     if record.http_headers else record.rec_headers.get_header("Content-Type"))
            payload = record.content_stream().read(ctx.max_record_bytes + 1)
            # get_record_offset() reads the record to its end: only after the payload.
            locator = f"offset {it.get_record_offset()}"
            yield _response(leaf, ctx, locator, uri, date, ctype, payload, True)
    except ArchiveLoadFailed as exc:
        yield ctx.reject(leaf, "file", "corrupt_archive", f"not a readable WARC: {exc}")


# --- splitting a WARC into records -------------------------------------------------------------

_HTTP_HEADER_ROOM = 64 * 1024
"""Block bytes kept beyond ``max_record_bytes``: room for the HTTP headers before the page."""
_HEADER_LIMIT = 64 * 1024
"""A WARC header block longer than this is not one."""
_SCAN_CHUNK = 1 << 16
_VERSION_LINE = re.compile(rb"WARC/1\.\d\r?\n")
_RECORD_START = re.compile(rb"\nWARC/1\.\d\r?\n")  # a version line at the start of a line
_HEADER_END = re.compile(rb"\n\r?\n")
_BLANK = re.compile(rb"[ \t\r\n]*")


@dataclass(frozen=True)
class _WarcRecord:
    """One WARC record whose ``Content-Length`` ends where the next record (or the file) starts."""

    offset: int
    fields: dict[str, str]
    """The WARC header, names in lower case."""
    header: bytes
    block: bytes
    """The block, or its first bytes when it is longer than the limit (``complete`` is False)."""
    complete: bool

    def data(self) -> bytes:
        """The record as bytes for warcio; a cut block gets a ``Content-Length`` to match."""
        header = self.header if self.complete else re.sub(
            rb"(?im)^content-length:[^\r\n]*", b"Content-Length: %d" % len(self.block),
            self.header, count=1)
        return header + self.block + b"\r\n\r\n"


@dataclass(frozen=True)
class _WarcDamage:
    """Bytes that are not a readable record: a reject at ``offset``."""

    offset: int
    reason: str
    raw: bytes
    code: str = "bad_warc_record"


class _Window:
    """A forward-only stream seen through a window that can look ahead, be searched and be
    released from the front: memory holds what is looked at, not the file."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.buf = bytearray()
        self.start = 0
        """Offset in the stream of ``buf[0]``."""
        self.eof = False

    @property
    def end(self) -> int:
        return self.start + len(self.buf)

    def fill(self, upto: int) -> int:
        """Read until the window reaches offset ``upto`` or the stream ends; the window's end."""
        while self.end < upto and not self.eof:
            chunk = self._stream.read(max(upto - self.end, _SCAN_CHUNK))
            if chunk:
                self.buf += chunk
            else:
                self.eof = True
        return self.end

    def get(self, lo: int, hi: int) -> bytes:
        assert lo >= self.start, "bytes already released"
        return bytes(self.buf[lo - self.start:hi - self.start])

    def release(self, upto: int) -> None:
        if upto > self.start:
            del self.buf[:upto - self.start]  # cheap: bytearray moves its start, not its bytes
            self.start = upto

    def skip_blank(self, pos: int) -> int | None:
        """The first offset from ``pos`` that is not blank (spaces, line breaks), else ``None``."""
        while self.fill(pos + 1) > pos:
            match = _BLANK.match(self.buf, pos - self.start)
            assert match is not None  # the pattern matches the empty string
            pos = self.start + match.end()
            if pos < self.end:
                return pos
            self.release(pos)
        return None

    def header_at(self, pos: int) -> tuple[dict[str, str], int] | str:
        """The WARC header block at ``pos``: ``(fields, length)``, or why it is not one."""
        self.fill(pos + _HEADER_LIMIT)
        data = self.get(pos, pos + _HEADER_LIMIT)
        if not _VERSION_LINE.match(data):
            return "not a WARC record header"
        end = _HEADER_END.search(data, data.index(b"\n"))
        if end is None:
            return f"WARC header without an end within {_HEADER_LIMIT} bytes"
        fields: dict[str, str] = {}
        name = ""
        for raw in data[:end.start()].split(b"\n")[1:]:
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if line[:1] in (" ", "\t") and name:  # a folded header line
                fields[name] += " " + line.strip()
                continue
            name, colon, value = line.partition(":")
            name = name.strip().lower()
            if not colon or not name:
                return f"WARC header line {line[:80]!r} is not 'Name: value'"
            fields[name] = value.strip()
        return fields, end.end()

    def find_record(self, lo: int, hi: int | None) -> int | None:
        """Offset of the first record start at ``lo <= offset < hi`` (``hi`` None: up to the end),
        a ``WARC/1.x`` line after a line break with a WARC header block; releases the bytes it
        has searched (never those from ``hi`` on)."""
        at = lo - 1  # where the line break before it may be
        while hi is None or at + 1 < hi:
            end = self.fill(at + _SCAN_CHUNK)
            match = _RECORD_START.search(self.buf, at - self.start)
            if match is None:
                if self.eof:
                    return None
                at = max(at, end - 12)  # a version line may straddle the window's end
                self.release(at if hi is None else min(at, hi))
                continue
            pos = self.start + match.start() + 1
            if hi is not None and pos >= hi:
                return None
            header = self.header_at(pos)
            if not isinstance(header, str) and "warc-type" in header[0]:
                return pos
            at = pos
        return None


def _split_warc(stream: BinaryIO, keep: int) -> Iterator[_WarcRecord | _WarcDamage]:
    """The records of an (uncompressed) WARC stream, each checked against where the next begins.

    A record is good when its ``Content-Length`` ends at line breaks followed by the next
    ``WARC/1.x`` header or the end of the file (or at the ``CRLF CRLF`` the format puts after a
    block: what follows is then judged on its own), and no WARC header block lies inside its
    block (a length too large by exactly whole records would otherwise merge them). Anything else is
    a :class:`_WarcDamage` at the record's offset, and splitting goes on at the next header found
    by scanning forward. Memory: ``keep`` bytes of a block plus the scan window.
    """
    win = _Window(stream)
    win.fill(3)
    pos = win.skip_blank(3 if win.get(0, 3) == b"\xef\xbb\xbf" else 0)
    found = False
    while pos is not None:
        win.release(pos)
        header = win.header_at(pos)
        if isinstance(header, str):
            raw = win.get(pos, pos + 200)
            nxt = win.find_record(pos + 1, None)
            if not found and nxt is None:
                yield _WarcDamage(pos, "not a readable WARC: no WARC record header found", raw,
                                  "corrupt_archive")
                return
            found = True
            yield _WarcDamage(pos, f"{header}: bytes skipped up to "
                              f"{'the end of the file' if nxt is None else f'offset {nxt}'}",
                              raw)
            pos = nxt
            continue
        found = True
        fields, size = header
        what = f"{fields.get('warc-type', 'untyped')} record"
        block_at = pos + size
        raw_header = win.get(pos, block_at)
        length_text = fields.get("content-length")
        if length_text is None or not length_text.isdigit():
            nxt = win.find_record(block_at, None)
            yield _WarcDamage(pos, f"{what}: " + (
                "no Content-Length header" if length_text is None
                else f"Content-Length {length_text!r} is not a number of bytes")
                + f"; reading goes on at {_where(nxt)}", raw_header)
            pos = nxt
            continue
        length = int(length_text)
        win.fill(block_at + min(length, keep))
        block = win.get(block_at, block_at + min(length, keep))
        inner = win.find_record(block_at, block_at + length)
        if inner is not None:
            yield _WarcDamage(pos, f"{what}: Content-Length {length} runs past the next record, "
                              f"which starts at offset {inner}: the length is wrong, the record "
                              "is not read", raw_header + block)
            pos = inner
            continue
        end = block_at + length
        if win.fill(end) < end:
            yield _WarcDamage(pos, f"{what}: the file ends {end - win.end} bytes before the "
                              f"Content-Length {length} says (cut short, or a wrong length)",
                              raw_header + block)
            return
        win.fill(end + 4)
        proper_end = win.get(end, end + 4) == b"\r\n\r\n"  # junk after it is judged on its own
        after = win.skip_blank(end)
        if (after is not None and not proper_end
                and not _VERSION_LINE.match(win.get(after, win.fill(after + 12)))):
            nxt = win.find_record(end, None)
            yield _WarcDamage(pos, f"{what}: Content-Length {length} ends inside the record (the "
                              "bytes after it are not the next record's header): the length is "
                              f"wrong, the record is not read; reading goes on at {_where(nxt)}",
                              raw_header + block)
            pos = nxt
            continue
        yield _WarcRecord(pos, fields, raw_header, block, length <= keep)
        pos = after


def _where(offset: int | None) -> str:
    return "the end of the file" if offset is None else f"offset {offset}"
