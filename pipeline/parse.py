"""Parse stage: raw records -> article rows (normalised) or rejects."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import Any

from pipeline import normalise
from pipeline.records import RawRecord, Reject
from pipeline.textdump import parse_file_name, parse_text_dump

LOGGER = logging.getLogger(__name__)


def build_article(record: RawRecord, run_id: str) -> dict[str, Any] | Reject:
    """Turn one decoded text record into an ``articles`` row, or a reject saying why not."""
    parsed = parse_text_dump(record.text)
    body = parsed.body
    if not body.strip():
        return Reject.of(record.source_file, record.locator, "no_body",
                         f"no body text ({parsed.layout} layout: only a header or title)",
                         record.text)
    warnings = list(record.warnings)
    published = None
    if parsed.date_text is not None:
        published = normalise.parse_header_date(parsed.date_text)
        if published is None:
            warnings.append(f"unparseable date header {parsed.date_text!r}")
            LOGGER.warning("%s: unparseable date header %r", record.source_file,
                           parsed.date_text)
    name = parse_file_name(PurePosixPath(record.source_file).name)
    language, score = normalise.detect_language(
        "\n".join(p for p in (parsed.title, parsed.teaser, body) if p))
    chash = normalise.content_hash(parsed.title, parsed.teaser, body)
    return {
        "article_id": normalise.article_id(None, name.source_id, chash),
        "source_file": record.source_file,
        "source_id": name.source_id,
        "sequence": name.sequence,
        "url": None,
        "title": parsed.title,
        "teaser": parsed.teaser,
        "body": body,
        "subheadings": list(parsed.subheadings),
        "language": language,
        "language_score": score,
        "published_at": published.at if published else None,
        "published_precision": published.precision if published else None,
        "word_count": normalise.word_count(body),
        "char_count": len(body),
        "content_hash": chash,
        "encoding": record.encoding,
        "layout": parsed.layout,
        "warnings": warnings,
        "run_id": run_id,
    }
