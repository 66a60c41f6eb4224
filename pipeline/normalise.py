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
