"""Small typed normalisers: dates from dump headers, language, counts, ids and hashes.

Error policy: a normaliser never raises on bad input; it returns ``None`` (unknown) and the caller
records a warning naming the value. Every function here is idempotent where that makes sense
(``normalise_text(normalise_text(x)) == normalise_text(x)``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

PRECISIONS = ("year", "month", "day", "minute", "second")
_HEADER_DATE = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?)?$")
_WS = re.compile(r"\s+")
_HAS_ALNUM = re.compile(r"\w")
MIN_LANGUAGE_CHARS = 20


class PublishedDate(NamedTuple):
    at: datetime
    precision: str


def parse_header_date(text: str) -> PublishedDate | None:
    """``2023-01`` -> 2023-01-01T00:00Z with precision ``month``; never invents a finer precision.

    Returns None for text that is not a valid ``YYYY[-MM[-DD]]`` date.
    """
    match = _HEADER_DATE.match(text.strip())
    if not match:
        return None
    year = int(match.group("y"))
    month = int(match.group("m") or 1)
    day = int(match.group("d") or 1)
    precision = "day" if match.group("d") else "month" if match.group("m") else "year"
    try:
        return PublishedDate(datetime(year, month, day, tzinfo=UTC), precision)
    except ValueError:
        return None


_DOTTED = re.compile(r"^(?P<d>\d{1,2})\.\s?(?P<m>\d{1,2})\.\s?(?P<y>\d{4})"
                     r"(?:,?\s+(?P<H>\d{1,2})[:.](?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\s*Uhr)?)?$")
_CLOCK = re.compile(r"\d{1,2}:\d{2}")
_CLOCK_SECONDS = re.compile(r"\d{1,2}:\d{2}:\d{2}")
_EPOCH = re.compile(r"^\d{9,10}(?:\.\d+)?$|^\d{12,13}$")


def parse_date(text: str) -> tuple[PublishedDate | None, str | None]:
    """A date as sources write it in metadata: ``YYYY[-MM[-DD]]``, ISO 8601 (with or without
    offset), RFC 2822 (feeds), ``30.01.2023[ 14:05]``, Unix epoch seconds or milliseconds.

    Returns ``(date, warning)``; ``(None, None)`` for text it cannot read. A time without a UTC
    offset is read as UTC and says so in the warning (issue 5 brings outlet time zones).
    """
    value = text.strip()
    if not value:
        return None, None
    header = parse_header_date(value)
    if header is not None:
        return header, None
    if _EPOCH.match(value):
        seconds = float(value) / (1000 if len(value) >= 12 and "." not in value else 1)
        return PublishedDate(datetime.fromtimestamp(int(seconds), UTC), "second"), None
    dotted = _DOTTED.match(value)
    if dotted:
        g = dotted.groupdict()
        try:
            at = datetime(int(g["y"]), int(g["m"]), int(g["d"]), int(g["H"] or 0),
                          int(g["M"] or 0), int(g["S"] or 0), tzinfo=UTC)
        except ValueError:
            return None, None
        precision = "second" if g["S"] else "minute" if g["H"] else "day"
        return PublishedDate(at, precision), (None if precision == "day" else
                                              f"no UTC offset in {value!r}; read as UTC")
    iso = value.replace("Z", "+00:00") if value.endswith("Z") else value
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        parsed = None
    if parsed is None:
        from email.utils import parsedate_to_datetime

        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None, None
    if not _CLOCK.search(value):
        return PublishedDate(parsed.replace(tzinfo=UTC), "day"), None
    precision = "second" if _CLOCK_SECONDS.search(value) else "minute"
    if parsed.tzinfo is None:
        return (PublishedDate(parsed.replace(tzinfo=UTC), precision),
                f"no UTC offset in {value!r}; read as UTC")
    return PublishedDate(parsed.astimezone(UTC).replace(microsecond=0), precision), None


def normalise_text(text: str) -> str:
    """NFC and single spaces: the form hashes are computed on."""
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


def word_count(text: str) -> int:
    """Whitespace-separated tokens that contain a letter or digit (a lone dash is no word)."""
    return sum(1 for token in text.split() if _HAS_ALNUM.search(token))


def content_hash(*parts: str | None) -> str:
    """SHA-256 of the normalised parts; equal hashes mean the same title, teaser and body."""
    joined = "\x1f".join(normalise_text(p) if p else "" for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def article_id(url: str | None, source_id: str | None, content: str) -> str:
    """Stable id: from the URL when known, else the dump's source id, else the content hash.

    The same article delivered again (another batch, another file name sequence) keeps its id.
    """
    if url:
        key = "url:" + url.strip()
    elif source_id:
        key = "src:" + source_id.lower()
    else:
        key = "txt:" + content
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=1)
def _language_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, max_chars: int = 5000) -> tuple[str | None, float | None]:
    """ISO 639-1 code and probability, or ``(None, None)`` when there is too little text."""
    sample = text[:max_chars]
    if len(_WS.sub("", sample)) < MIN_LANGUAGE_CHARS:
        return None, None
    code, prob = _language_identifier().classify(sample)
    return str(code), float(prob)
