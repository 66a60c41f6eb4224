"""Small typed normalisers: language, counts, ids, hashes, URLs and inline text.

Dates have their own module, :mod:`pipeline.transform.dates`.

Error policy: a normaliser never raises on bad input; it returns ``None`` (unknown) and the caller
records a warning naming the value. Every function here is idempotent where that makes sense
(``normalise_text(normalise_text(x)) == normalise_text(x)``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

_WS = re.compile(r"\s+")
_WORD_CHAR = re.compile(r"\w")
MIN_LANGUAGE_CHARS = 20


_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|ocid|"
                       r"ref|ref_src|cmpid|wt_mc|wt\.mc_id|at_medium|at_campaign|xtor)$",
                       re.IGNORECASE)


def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme and host, no ``www.``, no default port, no fragment, no tracking
    parameters (``utm_*``, ``fbclid``, ...); the path and other parameters as written.

    ``canonical_url(canonical_url(u)) == canonical_url(u)``; text that is not an http(s) URL is
    returned stripped, unchanged.
    """
    if url is None or not url.strip():
        return None
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    value = url.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return value
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return value
    host = parts.hostname.lower().removeprefix("www.")
    if port and (parts.scheme.lower(), port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if not _TRACKING.match(k)])
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", query, ""))


def host_of(url: str | None) -> str | None:
    """``source_domain``: the URL's host without ``www.`` (None without a URL)."""
    if not url:
        return None
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.lower().removeprefix("www.") if host else None


_SOFT = str.maketrans({"\u00ad": None, "\u200b": None, "\ufeff": None})


def clean_inline(text: str | None) -> str | None:
    """Titles and teasers: soft hyphens and zero-width characters out, whitespace collapsed,
    NFC; quotes and dashes kept as written."""
    if text is None:
        return None
    cleaned = " ".join(unicodedata.normalize("NFC", text.translate(_SOFT)).split())
    return cleaned or None


def normalise_text(text: str) -> str:
    """NFC and single spaces: the form hashes are computed on.

    ``str.split()`` splits on exactly the characters ``\\s`` matches (``str.isspace``), so this
    is ``re.sub(r"\\s+", " ", text).strip()``, three times faster."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def word_count(text: str) -> int:
    """Whitespace-separated tokens that contain a letter or digit (a lone dash is no word).

    That is ``len(re.findall(r"\\S*\\w\\S*", text))``; most tokens are all letters or digits
    (``str.isalnum``), so only the others are searched, twice as fast."""
    tokens = text.split()
    return len(tokens) - sum(1 for t in tokens if not t.isalnum() and not _WORD_CHAR.search(t))


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


LANGUAGE_MODEL = Path(__file__).resolve().parents[2] / "models" / "langid" / "lid.176.ftz"
"""fastText's language identification model (176 languages, 0.9 MB, CC BY-SA 3.0)."""
_LABEL = "__label__"


@lru_cache(maxsize=1)
def _language_identifier() -> Any:
    import fasttext

    return fasttext.load_model(str(LANGUAGE_MODEL))


def detect_language(text: str, max_chars: int = 300,
                    unsure_below: float = 0.5) -> tuple[str | None, float | None]:
    """ISO 639 code (two letters where the language has one) and probability, or
    ``(None, None)`` when there is too little text.

    The first ``max_chars`` characters decide: a paragraph is plenty (fastText is reliable on
    one-sentence teasers already) and the cost grows with the text. When that is unsure
    (probability below ``unsure_below``: a teaser of names, a dateline), the first 2,000
    characters decide instead. fastText reads one line: whitespace runs become single spaces."""
    code, prob = _predict(text[:max_chars])
    if prob is not None and prob < unsure_below and len(text) > max_chars:
        code, prob = _predict(text[:LONG_SAMPLE])
    return code, prob


LONG_SAMPLE = 2000


def _predict(text: str) -> tuple[str | None, float | None]:
    sample = " ".join(text.split())
    if len(sample) - sample.count(" ") < MIN_LANGUAGE_CHARS:
        return None, None
    labels, probs = _language_identifier().predict(sample, k=1)
    return str(labels[0]).removeprefix(_LABEL), min(1.0, float(probs[0]))
