"""Parse stage: raw records -> article rows (normalised) or rejects."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any

from pipeline import normalise
from pipeline.records import Fields, RawRecord, Reject
from pipeline.textdump import (
    clean_paragraph,
    parse_file_name,
    parse_text_dump,
    split_paragraphs,
)

LOGGER = logging.getLogger(__name__)


def build_article(record: RawRecord, run_id: str) -> dict[str, Any] | Reject:
    """Turn one decoded record into an ``articles`` row, or a reject saying why not."""
    if record.fields is not None:
        return _from_fields(record, record.fields, run_id)
    parsed = parse_text_dump(record.text)
    body = parsed.body
    if not body.strip():
        return Reject.of(record.source_file, record.locator, "no_body",
                         f"no body text ({parsed.layout} layout: only a header or title)",
                         record.text, record.member)
    warnings = list(record.warnings)
    published = None
    if parsed.date_text is not None:
        published = normalise.parse_header_date(parsed.date_text)
        if published is None:
            warnings.append(f"unparseable date header {parsed.date_text!r}")
            LOGGER.warning("%s: unparseable date header %r", record.source_file,
                           parsed.date_text)
    name = parse_file_name(PurePosixPath(record.member or record.source_file).name)
    return _row(record, run_id, title=parsed.title, teaser=parsed.teaser, body=body,
                subheadings=list(parsed.subheadings), url=None, source_id=name.source_id,
                sequence=name.sequence, published=published, layout=parsed.layout,
                warnings=warnings, fields=None)


def _from_fields(record: RawRecord, fields: Fields, run_id: str) -> dict[str, Any] | Reject:
    body = "\n\n".join(_paragraphs(fields.body))
    if not body.strip():
        return Reject.of(record.source_file, record.locator, "no_body", "no body text",
                         fields.title, record.member)
    warnings = list(record.warnings)
    published = None
    if fields.published:
        published, note = normalise.parse_date(fields.published)
        if published is None:
            warnings.append(f"unparseable publication date {fields.published!r}")
            LOGGER.warning("%s %s: unparseable publication date %r", record.source_file,
                           record.locator, fields.published)
        elif note:
            warnings.append(note)
    source_id = None
    if fields.source_id:  # ids are only unique within a source: namespace them
        scope = fields.site_name or PurePosixPath(record.member or record.source_file).name
        source_id = f"{scope}#{fields.source_id}"
    return _row(record, run_id, title=_clean(fields.title), teaser=_clean(fields.teaser),
                body=body, subheadings=[], url=fields.url, source_id=source_id, sequence=None,
                published=published, layout=fields.layout or record.format, warnings=warnings,
                fields=fields)


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs; text without blank lines (trafilatura output, feeds)
    has one paragraph per line."""
    if "\n\n" in text.replace("\r", ""):
        return split_paragraphs(text)
    return [p for p in (clean_paragraph(line) for line in text.split("\n")) if p]


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    return " ".join(value.split()) or None


def _row(record: RawRecord, run_id: str, *, title: str | None, teaser: str | None, body: str,
         subheadings: list[str], url: str | None, source_id: str | None, sequence: int | None,
         published: normalise.PublishedDate | None, layout: str, warnings: list[str],
         fields: Fields | None) -> dict[str, Any]:
    language, score = normalise.detect_language(
        "\n".join(p for p in (title, teaser, body) if p))
    if language is None and fields is not None and fields.language:
        language = fields.language.split("-")[0].split("_")[0].lower()[:3] or None
    chash = normalise.content_hash(title, teaser, body)
    fetched = normalise.parse_date(fields.fetched_at)[0] if fields and fields.fetched_at else None
    return {
        "article_id": normalise.article_id(url, source_id, chash),
        "source_file": record.source_file,
        "member": record.member,
        "locator": record.locator,
        "format": record.format,
        "source_id": source_id,
        "sequence": sequence,
        "url": url,
        "authors": list(fields.authors) if fields else [],
        "site_name": fields.site_name if fields else None,
        "section": fields.section if fields else None,
        "title": title,
        "teaser": teaser,
        "body": body,
        "subheadings": subheadings,
        "language": language,
        "language_score": score,
        "published_at": published.at if published else None,
        "published_precision": published.precision if published else None,
        "fetched_at": fetched.at if fetched else None,
        "word_count": normalise.word_count(body),
        "char_count": len(body),
        "content_hash": chash,
        "encoding": record.encoding,
        "layout": layout,
        "warnings": warnings,
        "run_id": run_id,
    }
