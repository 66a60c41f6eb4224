"""Parse stage: raw records -> article rows (normalised) or rejects."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date
from pathlib import PurePosixPath
from typing import Any

from pipeline.ingest.base import options_for
from pipeline.ingest.records import RawRecord, Reject
from pipeline.settings import Settings
from pipeline.transform import dates, neardup, normalise, timex
from pipeline.transform.textdump import (
    clean_paragraph,
    parse_file_name,
    parse_text_dump,
    split_paragraphs,
)

LOGGER = logging.getLogger(__name__)


@dataclass
class _Draft:
    """What the two kinds of record (text dump, structured fields) agree on before the row."""

    title: str | None
    teaser: str | None
    body: str
    subheadings: list[str]
    layout: str
    source_id: str | None = None
    sequence: int | None = None
    url: str | None = None
    authors: list[str] = field(default_factory=list)
    site_name: str | None = None
    section: str | None = None
    given_language: str | None = None
    fetched_at: str | None = None
    date_text: str | None = None
    date_source: str = "metadata"
    raw_text: str | None = None
    """The text with its original line breaks (date lines are found line by line)."""
    warnings: list[str] = field(default_factory=list)


def build_article(record: RawRecord, run_id: str, batch_date: date | None = None,
                  date_floor: int = 1990, signature: bool = True) -> dict[str, Any] | Reject:
    """Turn one decoded record into an ``articles`` row, or a reject saying why not.

    ``batch_date`` (the start of the batch's one-day data interval) bounds plausible dates and is
    the flagged fallback when no date is found; ``date_floor`` is the earliest plausible year.
    ``signature=False`` leaves ``minhash`` out: a shard computes its signatures at once
    (``neardup.signatures``), which costs a third as much.
    """
    draft = _draft(record)
    if isinstance(draft, Reject):
        return draft
    row = _row(record, run_id, draft, batch_date, date_floor)
    if signature:
        row["minhash"] = neardup.signature(draft.body).tolist()
    return row


def _draft(record: RawRecord) -> _Draft | Reject:
    fields = record.fields
    if fields is None:
        parsed = parse_text_dump(record.text)
        if not parsed.body.strip():
            return Reject.of(record.source_file, record.locator, "no_body",
                             f"no body text ({parsed.layout} layout: only a header or title)",
                             record.text, record.member)
        name = parse_file_name(PurePosixPath(record.member or record.source_file).name)
        return _Draft(normalise.clean_inline(parsed.title), normalise.clean_inline(parsed.teaser),
                      parsed.body, list(parsed.subheadings),
                      parsed.layout, name.source_id, name.sequence, date_text=parsed.date_text,
                      date_source="header", raw_text=_after_header(record.text, parsed.date_text),
                      warnings=list(record.warnings))
    body = "\n\n".join(_paragraphs(fields.body))
    if not body.strip():
        return Reject.of(record.source_file, record.locator, "no_body", "no body text",
                         fields.title, record.member)
    source_id = None
    if fields.source_id:  # ids are only unique within a source: namespace them
        scope = fields.site_name or PurePosixPath(record.member or record.source_file).name
        source_id = f"{scope}#{fields.source_id}"
    return _Draft(normalise.clean_inline(fields.title), normalise.clean_inline(fields.teaser),
                  body, [], fields.layout or record.format, source_id,
                  url=normalise.canonical_url(fields.url), authors=list(fields.authors),
                  site_name=fields.site_name, section=fields.section,
                  given_language=fields.language, fetched_at=fields.fetched_at,
                  date_text=fields.published,
                  date_source="html" if record.format in ("html", "warc") else "metadata",
                  raw_text=fields.body, warnings=list(record.warnings))


def _after_header(text: str, date_text: str | None) -> str:
    """The text without a dump's ``date ...`` line (its date is the header candidate)."""
    if date_text is None:
        return text
    return text.split("\n", 1)[1] if "\n" in text else ""


_DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def folder_source(source_file: str) -> str | None:
    """The source a file's lineage names: its first folder below the landing day folder
    (``2023-01-31/bbc/sport/199.txt`` -> ``bbc``), if any."""
    parts = [p for p in source_file.split("/")[:-1] if p not in ("", ".")]
    if parts and _DAY_FOLDER.match(parts[0]):
        parts = parts[1:]
    return parts[0] if parts else None


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs; text without blank lines (trafilatura output, feeds)
    has one paragraph per line."""
    if "\n\n" in text.replace("\r", ""):
        return split_paragraphs(text)
    return [p for p in (clean_paragraph(line) for line in text.split("\n")) if p]


def _date_candidates(record: RawRecord, d: _Draft) -> tuple[list[dates.Candidate], str | None]:
    """Every date the record offers, by source, and the dateline's place."""
    found: list[dates.Candidate] = []
    if d.date_text:
        parsed = dates.parse_date(d.date_text, fallback=d.date_source != "header")
        if parsed is None:
            d.warnings.append(f"unparseable date {d.date_text!r} ({d.date_source})")
            LOGGER.warning("%s %s: unparseable date %r", record.source_file, record.locator,
                           d.date_text)
        else:
            found.append(dates.Candidate(d.date_source, parsed, d.date_text))
    place = None
    dateline = dates.find_dateline(d.raw_text or d.body)
    if dateline is not None:
        place = dateline.place
        if dateline.date is not None:
            found.append(dates.Candidate("dateline", dateline.date, "dateline"))
    in_url = dates.date_in_url(d.url)
    if in_url is not None:
        found.append(dates.Candidate("url", in_url, d.url or ""))
    in_text = dates.date_line(d.raw_text or "\n".join(p for p in (d.teaser, d.body) if p))
    if in_text is not None:
        found.append(dates.Candidate("text", in_text[1], in_text[0]))
    name = PurePosixPath(record.member or record.source_file).name
    in_name = dates.date_in_name(name)
    if in_name is not None:
        found.append(dates.Candidate("path", in_name, name))
    return found, place


def _row(record: RawRecord, run_id: str, d: _Draft, batch_date: date | None,
         date_floor: int) -> dict[str, Any]:
    language, score = normalise.detect_language(
        "\n".join(p for p in (d.title, d.teaser, d.body) if p))
    if language is None and d.given_language:
        language = d.given_language.split("-")[0].split("_")[0].lower()[:3] or None
    host = normalise.host_of(d.url)
    candidates, place = _date_candidates(record, d)
    zone, zone_reason = dates.zone_for(host, language)
    published = dates.choose(candidates, zone, zone_reason, batch_date, date_floor)
    d.warnings.extend(published.notes)
    fetched = dates.parse_date(d.fetched_at) if d.fetched_at else None
    chash = normalise.content_hash(d.title, d.teaser, d.body)
    return {
        "article_id": normalise.article_id(d.url, d.source_id, chash),
        "source_file": record.source_file,
        "member": record.member,
        "locator": record.locator,
        "format": record.format,
        "source_id": d.source_id,
        "sequence": d.sequence,
        "url": d.url,
        "source_domain": host,
        "authors": d.authors,
        "site_name": d.site_name or folder_source(record.source_file),
        "section": d.section,
        "title": d.title,
        "teaser": d.teaser,
        "body": d.body,
        "subheadings": d.subheadings,
        "language": language,
        "language_confidence": score,
        "published_at": published.at,
        "published_local": published.local,
        "published_precision": published.precision,
        "published_source": published.source,
        "published_confidence": published.confidence,
        "published_flag": published.flag,
        "dateline_place": place,
        "fetched_at": fetched.utc(UTC) if fetched else None,
        "word_count": normalise.word_count(d.body),
        "char_count": len(d.body),
        "content_hash": chash,
        "duplicate_cluster_id": "",  # set at publish, against every published batch
        "encoding": record.encoding,
        "layout": d.layout,
        "warnings": d.warnings,
        "run_id": run_id,
    }


def time_mentions(row: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """``time_mentions`` rows of one article, resolved against its local publication date."""
    local = row["published_local"]
    published = date.fromisoformat(local[:10]) if local and len(local) >= 10 else (
        date(int(local[:4]), int(local[5:7]) if len(local) >= 7 else 1, 1) if local else None)
    precision = row["published_precision"] if row["published_source"] != "batch" else None
    return [{"article_id": row["article_id"], "text": m.text, "start_char": m.start_char,
             "end_char": m.end_char, "value": m.value, "precision": m.precision,
             "note": m.note, "run_id": run_id}
            for m in timex.find(row["body"], published, precision)]


def reuse_row(old: dict[str, Any], relative: str, old_name: str, batch_date: date,
              old_batch: date, run_id: str, settings: Settings) -> dict[str, Any] | None:
    """``old`` (a row parsed from the same bytes under ``old_name`` in batch ``old_batch``, without
    its partition column) as parsing ``relative`` in this batch would give it, or None when that
    is not certain: ``build_article``'s counterpart for a file an earlier batch already read.

    Only plain text dumps qualify: for them, what depends on the file name (source id,
    sequence, site folder, article id) is recomputed here, and everything else comes from the
    bytes. The publication date must not depend on the batch or the name: a date chosen
    without flags from the content, a batch no earlier than the old one (plausibility only
    widens), the same date (or none) in both names, and the same format options."""
    new_leaf, old_leaf = relative.rsplit("/", 1)[-1], old_name.rsplit("/", 1)[-1]
    if (old["format"] != "text" or old["member"] is not None or old["published_flag"]
            or old["published_source"] in (None, "path", "batch") or batch_date < old_batch
            or os.path.splitext(new_leaf)[1] != os.path.splitext(old_leaf)[1]
            or dates.date_in_name(new_leaf) != dates.date_in_name(old_leaf)
            or options_for([relative], settings.formats) != options_for([old_name],
                                                                        settings.formats)):
        return None
    name = parse_file_name(new_leaf)
    row = dict(old)
    row.update(
        article_id=normalise.article_id(old["url"], name.source_id, old["content_hash"]),
        source_file=relative, source_id=name.source_id, sequence=name.sequence,
        site_name=folder_source(relative), duplicate_cluster_id="", ner_model=None,
        run_id=run_id)
    return row
