"""The readers' shared base: format names and detection, per-source reading options, the read
context, line iteration with per-line decoding, field mapping of structured records and the
per-record isolation (``isolated``) every multi-record reader uses.

Readers (``text``, ``structured``, ``html``, ``feeds``) import this module and never each other.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from pipeline.ingest.containers import Leaf
from pipeline.ingest.encoding import DecodeError, decode_document, repair_mojibake
from pipeline.ingest.records import Fields, RawRecord, Reject

LOGGER = logging.getLogger(__name__)


FORMATS = ("text", "jsonl", "json", "csv", "tsv", "html", "feed", "warc")


TARGETS = ("body", "title", "teaser", "published", "modified", "url", "authors", "language",
           "site_name", "section", "source_id")


DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "body": ("maintext", "body", "text", "content", "article", "articleBody", "content_text",
             "full_text", "fulltext", "story"),
    "title": ("title", "headline", "name"),
    "teaser": ("description", "teaser", "summary", "lead", "abstract", "subtitle", "subheadline"),
    "published": ("date_publish", "published", "date_published", "datePublished", "published_at",
                  "pubDate", "publication_date", "publish_date", "date", "created_at", "timestamp",
                  "time"),
    "modified": ("date_modify", "modified", "date_modified", "dateModified", "updated",
                 "updated_at", "last_modified"),
    "url": ("url", "link", "canonical_url", "href", "uri"),
    "authors": ("authors", "author", "byline", "creator", "creators"),
    "language": ("language", "lang", "inLanguage", "locale"),
    "site_name": ("source_domain", "site_name", "sitename", "source", "publisher", "site",
                  "domain", "outlet"),
    "section": ("section", "category", "categories", "label", "topic", "rubric"),
    "source_id": ("id", "guid", "uuid", "_id", "article_id", "doc_id"),
}


NEWSPLEASE_KEYS = frozenset({"maintext", "date_publish", "source_domain"})


_OPTION_KEYS = {"format", "delimiter", "quotechar", "header", "columns", "encoding"}


@dataclass(frozen=True)
class FormatOptions:
    """How to read one source: forced format, CSV dialect, and field mapping overrides."""

    format: str | None = None
    delimiter: str | None = None
    quotechar: str | None = None
    header: bool | None = None
    columns: tuple[str, ...] = ()
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, str], where: str = "formats") -> FormatOptions:
        """Options from a settings table; unknown keys and formats are errors, not ignored."""
        unknown = set(raw) - _OPTION_KEYS - set(TARGETS)
        if unknown:
            raise ValueError(f"{where}: unknown option(s) {', '.join(sorted(unknown))}; expected "
                             f"{', '.join(sorted(_OPTION_KEYS | set(TARGETS)))}")
        fmt = raw.get("format")
        if fmt is not None and fmt not in FORMATS:
            raise ValueError(f"{where}: unknown format {fmt!r}; expected one of {FORMATS}")
        header = raw.get("header")
        return cls(
            format=fmt,
            delimiter=_unescape(raw["delimiter"]) if raw.get("delimiter") else None,
            quotechar=raw.get("quotechar") or None,
            header=None if header in (None, "", "auto") else str(header).lower() in
            {"1", "true", "yes", "on"},
            columns=tuple(c.strip() for c in raw.get("columns", "").split(",") if c.strip()),
            fields={t: tuple(k.strip() for k in str(raw[t]).split("|") if k.strip())
                    for t in TARGETS if raw.get(t)},
        )

    def candidates(self, target: str) -> tuple[str, ...]:
        return self.fields.get(target, ()) + DEFAULT_FIELDS[target]


def _unescape(value: str) -> str:
    return {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(value, value)


def options_for(names: list[str], table: Mapping[str, Mapping[str, str]]) -> FormatOptions:
    """Options of the first glob in ``table`` matching any of ``names`` (file, member)."""
    for pattern, raw in table.items():
        if any(fnmatch.fnmatch(n, pattern) or fnmatch.fnmatch(PurePosixPath(n).name, pattern)
               for n in names if n):
            return FormatOptions.parse(raw, f"formats.{pattern!r}")
    return FormatOptions()


_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv",
               ".tsv": "tsv", ".tab": "tsv", ".html": "html", ".htm": "html", ".xhtml": "html",
               ".rss": "feed", ".atom": "feed", ".warc": "warc", ".arc": "warc"}


_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:RDF)[\s>]", re.IGNORECASE)


_HTML_START = re.compile(rb"<(!doctype\s+html|html|head|body|meta|title)[\s>]", re.IGNORECASE)


def detect_format(name: str, head: bytes, forced: str | None = None) -> str:
    """The reader for a leaf: a forced format, else content for the unambiguous signatures
    (WARC, feeds, HTML, JSON), else the extension, else ``text``."""
    if forced:
        return forced
    stripped = strip_bom(head).lstrip()
    if stripped.startswith((b"WARC/", b"filedesc://")):
        return "warc"
    ext = PurePosixPath(name.lower()).suffix
    by_ext = _EXTENSIONS.get(ext)
    if by_ext in {"csv", "tsv", "jsonl", "json", "warc"}:
        return by_ext
    if stripped.startswith(b"<"):
        if _FEED_ROOT.search(stripped[:2048]):
            return "feed"
        if by_ext == "html" or _HTML_START.search(stripped[:2048]):
            return "html"
        if stripped.startswith(b"<?xml") and by_ext == "feed":
            return "feed"
    if by_ext is not None:
        return by_ext
    if stripped.startswith(b"{"):
        first = stripped.split(b"\n", 1)[0].strip()
        return "jsonl" if first.endswith(b"}") else "json"
    if stripped.startswith(b"["):
        return "json"
    return "text"


def strip_bom(data: bytes) -> bytes:
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


@dataclass(frozen=True)
class ReadContext:
    """What a reader needs besides the leaf: lineage, options and limits."""

    source_file: str
    options: FormatOptions
    max_record_bytes: int
    max_document_bytes: int

    def reject(self, leaf: Leaf, locator: str, code: str, reason: str,
               raw: str | bytes | None = None) -> Reject:
        return Reject.of(self.source_file, locator, code, reason, raw, leaf.member)


LeafReader = Callable[[Leaf, ReadContext], Iterator[RawRecord | Reject]]


def read_document(leaf: Leaf, ctx: ReadContext, limit: int) -> bytes | Reject:
    """The whole leaf (one document), or a reject when it is empty or over ``limit``."""
    data = leaf.stream.read(limit + 1)
    if len(data) > limit:
        return ctx.reject(leaf, "file", "too_large",
                          f"document larger than the limit of {limit} bytes", data)
    if not data.strip():
        return ctx.reject(leaf, "file", "empty_file",
                          "empty file" if not data else "file holds only whitespace", data)
    return data


def read_decoded(leaf: Leaf, ctx: ReadContext, limit: int
                 ) -> tuple[str, str, tuple[str, ...]] | Reject:
    """``read_document`` decoded: (text, encoding, warnings), or the reject of the file."""
    data = read_document(leaf, ctx, limit)
    if isinstance(data, Reject):
        return data
    try:
        return decode_document(data)
    except DecodeError as exc:
        return ctx.reject(leaf, "file", exc.reason_code, str(exc), data)


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    encoding: str
    warnings: tuple[str, ...]


def iter_lines(leaf: Leaf, ctx: ReadContext) -> Iterator[Line | Reject]:
    """Decoded lines (1-based numbers); a line over the record limit or undecodable is a reject.

    Each line is decoded on its own (UTF-8, else Windows-1252), so one bad line does not spoil
    the file and memory stays bounded by the longest line. A file with a UTF-16/32 byte-order
    mark is decoded as a whole stream instead (its newlines are not single bytes).
    """
    wide = next((name for bom, name in _WIDE_BOMS if leaf.head.startswith(bom)), None)
    if wide is not None:
        yield from _wide_lines(leaf, ctx, wide)
        return
    for number, raw, too_long in _bounded_lines(leaf.stream.readline, ctx.max_record_bytes,
                                                b"\n"):
        if too_long:
            yield _too_long(leaf, ctx, number, raw)
            continue
        raw = strip_bom(raw) if number == 1 else raw
        if not raw.strip():
            yield Line(number, "", "utf-8", ())
            continue
        try:
            text, encoding, warnings = decode_document(raw)
        except DecodeError as exc:
            yield ctx.reject(leaf, f"line {number}", exc.reason_code, f"line {number}: {exc}",
                             raw)
            continue
        yield Line(number, text.rstrip("\n"), encoding, warnings)


_WIDE_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
              (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def _bounded_lines(readline: Callable[[int], Any], limit: int, newline: Any
                   ) -> Iterator[tuple[int, Any, bool]]:
    """``(number, line, too_long)``: a line over ``limit`` is cut there and the rest skipped
    unread into memory (bytes or text alike)."""
    number = 0
    while line := readline(limit + 1):
        number += 1
        too_long = len(line) > limit and not line.endswith(newline)
        if too_long:
            while (rest := readline(1 << 20)) and not rest.endswith(newline):
                pass
        yield number, line, too_long


def _too_long(leaf: Leaf, ctx: ReadContext, number: int, raw: str | bytes) -> Reject:
    return ctx.reject(leaf, f"line {number}", "too_large",
                      f"line {number} is longer than the record limit of "
                      f"{ctx.max_record_bytes} bytes", raw)


def _wide_lines(leaf: Leaf, ctx: ReadContext, encoding: str) -> Iterator[Line | Reject]:
    import io

    text_stream = io.TextIOWrapper(leaf.stream, encoding=encoding, errors="replace", newline="")
    for number, line, too_long in _bounded_lines(text_stream.readline, ctx.max_record_bytes,
                                                 "\n"):
        if too_long:
            yield _too_long(leaf, ctx, number, line)
            continue
        yield Line(number, line.rstrip("\r\n"), encoding,
                   (f"decoded as {encoding}, not UTF-8",))


def _text(value: Any) -> str | None:
    """A scalar, list of paragraphs or ``{"name": ...}`` object as clean text."""
    if value is None:
        return None
    if isinstance(value, str):
        out = value
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int | float):
        out = str(value)
    elif isinstance(value, list):
        parts = [t for t in (_text(v) for v in value) if t]
        out = "\n\n".join(parts)
    elif isinstance(value, dict):
        return _text(value.get("name") or value.get("value") or value.get("text"))
    else:
        return None
    out = out.replace("\r\n", "\n").replace("\r", "\n").strip()
    return out or None


def _authors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        name = _text(item)
        if name:
            names.extend(n.strip() for n in re.split(r"\s*;\s*", name) if n.strip())
    return tuple(dict.fromkeys(names))


def _lookup(record: Mapping[str, Any], key: str) -> Any:
    """``a.b`` walks into nested objects; exact keys first, then case-insensitive."""
    if key in record:
        return record[key]
    if "." in key:
        head, _, rest = key.partition(".")
        inner = record.get(head)
        return _lookup(inner, rest) if isinstance(inner, Mapping) else None
    lowered = {k.lower(): v for k, v in record.items() if isinstance(k, str)}
    return lowered.get(key.lower())


def map_fields(record: Mapping[str, Any], options: FormatOptions) -> tuple[Fields | None, str]:
    """Map a source record onto :class:`Fields`; ``(None, reason)`` when it has no body."""
    found: dict[str, Any] = {}
    for target in TARGETS:
        for key in options.candidates(target):
            value = _lookup(record, key)
            if value not in (None, "", [], {}):
                found[target] = value
                break
    body = _text(found.get("body"))
    if not body:
        tried = ", ".join(options.candidates("body")[:6])
        return None, f"no body text (looked for {tried}, ...)"
    layout = "news-please" if set(record) >= NEWSPLEASE_KEYS else "mapped"
    return Fields(
        body=body, title=_text(found.get("title")), teaser=_text(found.get("teaser")),
        published=_text(found.get("published")), modified=_text(found.get("modified")),
        url=_text(found.get("url")), authors=_authors(found.get("authors")),
        language=_text(found.get("language")), site_name=_text(found.get("site_name")),
        section=_text(found.get("section")), source_id=_text(found.get("source_id")),
        layout=layout,
    ), ""


def structured_record(ctx: ReadContext, leaf: Leaf, fmt: str, locator: str, fields: Fields,
                      encoding: str, warnings: tuple[str, ...] = ()) -> RawRecord:
    """A record from mapped fields; text fields get the same mojibake repair as documents."""
    repaired = False
    values: dict[str, Any] = {}
    for name in ("body", "title", "teaser"):
        value = getattr(fields, name)
        if value:
            value, fixed = repair_mojibake(value)
            repaired |= fixed
        values[name] = value
    if repaired:
        warnings = (*warnings, "repaired mojibake (UTF-8 that had been decoded as Windows-1252)")
    fields = Fields(**{**fields.__dict__, **values})
    return RawRecord(ctx.source_file, locator, fields.body, encoding, warnings, leaf.member, fmt,
                     fields)


def isolated(ctx: ReadContext, leaf: Leaf, locator: str, stage: str,
             build: Callable[[], RawRecord | Reject], raw: str | bytes | None = None
             ) -> RawRecord | Reject:
    """``build()`` of one record of a multi-record file; if it raises, that record is an
    ``internal_error`` reject (traceback logged) and the reader goes on with the next."""
    try:
        return build()
    except Exception as exc:
        LOGGER.error("internal error reading %s%s [%s]: %s: %s", ctx.source_file,
                     f" member {leaf.member}" if leaf.member else "", locator,
                     type(exc).__name__, exc, exc_info=exc)
        return ctx.reject(leaf, locator, "internal_error",
                          f"read ({stage}) failed: {type(exc).__name__}: {exc}"[:2000], raw)


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
