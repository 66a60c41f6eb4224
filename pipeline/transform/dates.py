"""Publication dates: parse what sources write, find datelines and dates in text, read them in
the outlet's time zone, and decide which one to trust.

Parsing has a fast path (compiled regular expressions for the forms that make up nearly all real
metadata and German/English news text: ISO 8601, RFC 2822, ``30.01.2023``, ``30. Januar 2023,
14:05 Uhr``, ``Jan 30, 2023 2:05 PM EST``, ``2023-01``, epochs, two-digit years) and falls back to
dateparser, restricted to German and English (it is ~3x slower when it has to guess the language
and ~100x slower than the fast path; ``python -m bench.dates`` measures it).

Error policy: parsing never raises; it returns ``None`` for text it cannot read. The precision is
what the text gives (``2023-01`` is ``month``): never a finer one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

MONTHS: dict[str, int] = {}
for _n, _names in enumerate([
        ("januar", "jänner", "jan", "january"), ("februar", "feber", "feb", "february"),
        ("märz", "maerz", "mär", "mrz", "march", "mar"), ("april", "apr"), ("mai", "may"),
        ("juni", "jun", "june"), ("juli", "jul", "july"), ("august", "aug"),
        ("september", "sept", "sep"), ("oktober", "okt", "october", "oct"),
        ("november", "nov"), ("dezember", "dez", "december", "dec")], start=1):
    for _name in _names:
        MONTHS[_name] = _n
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
WEEKDAYS = {"montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4,
            "samstag": 5, "sonnabend": 5, "sonntag": 6, "monday": 0, "tuesday": 1,
            "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
_WEEKDAY = r"(?:(?:mo|di|mi|do|fr|sa|so|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\.?|" + \
    "|".join(WEEKDAYS) + r"),?\s+"
# North-American and European abbreviations seen in feeds; ambiguous ones (IST, CST as China)
# are read the way English-language news uses them.
TZ_ABBREVIATIONS = {
    "UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "WET": 0, "BST": 60, "IST": 60, "CET": 60, "MEZ": 60,
    "CEST": 120, "MESZ": 120, "EET": 120, "EEST": 180, "MSK": 180,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360,
    "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
    "JST": 540, "KST": 540, "AEST": 600, "AEDT": 660,
}
_TZ = r"(?P<tz>Z|[+-]\d{2}:?\d{2}|" + "|".join(sorted(TZ_ABBREVIATIONS, key=len, reverse=True)) \
    + r")"
_TIME = (r"(?P<H>\d{1,2})[:.](?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?"
         r"(?:\s*(?P<ampm>[ap]\.?m\.?))?(?:\s*Uhr)?")


@dataclass(frozen=True)
class ParsedDate:
    """A date as written: a naive local time plus the zone/offset the text states, if any."""

    local: datetime
    precision: str
    tz: tzinfo | None = None
    tz_text: str | None = None

    def utc(self, assumed: tzinfo | None = None) -> datetime | None:
        """UTC instant, reading a zone-less time in ``assumed``; None if no zone at all.

        A date without time is the start of its period in that zone.
        """
        zone = self.tz or assumed
        if zone is None:
            return None
        return self.local.replace(tzinfo=zone).astimezone(UTC)

    def local_text(self, zone: tzinfo | None = None) -> str:
        """``published_local``: as written, to its precision, with the offset when known."""
        fmt = {"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d", "minute": "%Y-%m-%dT%H:%M",
               "second": "%Y-%m-%dT%H:%M:%S"}[self.precision]
        text = self.local.strftime(fmt)
        tz = self.tz or zone
        if tz is not None and self.precision in ("minute", "second"):
            offset = self.local.replace(tzinfo=tz).strftime("%z")
            text += f"{offset[:3]}:{offset[3:]}"
        if tz is not None and self.precision in ("minute", "second") and isinstance(tz, ZoneInfo):
            text += f" [{tz.key}]"
        return text


def _year(text: str) -> int:
    """Two-digit years: 00-69 -> 2000s, 70-99 -> 1900s (POSIX strptime's pivot)."""
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


MAX_OFFSET = timedelta(hours=14)
"""UTC offsets in use run from -12:00 to +14:00; anything beyond (``+99:00``) is no offset."""


def _tz(text: str | None) -> tzinfo | None:
    """The zone a text names; ``ValueError`` for an offset no place uses (``+9900``,
    ``+24:00``, minutes of 60 or more), which makes its date unparseable, not the record."""
    if not text:
        return None
    if text in TZ_ABBREVIATIONS:
        return timezone(timedelta(minutes=TZ_ABBREVIATIONS[text]))
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4])
    offset = timedelta(hours=hours, minutes=minutes)
    if minutes >= 60 or offset > MAX_OFFSET:
        raise ValueError(f"UTC offset {text!r} out of range (-12:00 to +14:00)")
    return timezone(sign * offset)


def _build(y: int, mo: int, d: int | None, g: dict[str, Any]) -> ParsedDate | None:
    hour = g.get("H")
    try:
        if hour is None:
            return ParsedDate(datetime(y, mo, d or 1), "day" if d else "month")
        h = int(hour)
        ampm = (g.get("ampm") or "").replace(".", "").lower()
        if ampm == "pm" and h < 12:
            h += 12
        elif ampm == "am" and h == 12:
            h = 0
        seconds = g.get("S")
        local = datetime(y, mo, d or 1, h, int(g["M"]), int(seconds or 0))
        zone = _tz(g.get("tz"))
    except (TypeError, ValueError):
        return None
    return ParsedDate(local, "second" if seconds else "minute", zone, g.get("tz"))


_ISO = re.compile(r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})(?:[T ]" + _TIME.replace(
    r"(?:\s*(?P<ampm>[ap]\.?m\.?))?(?:\s*Uhr)?", "") + r")?\s*" + _TZ + "?$")
_YM = re.compile(r"^(?P<y>\d{4})(?:-(?P<mo>\d{1,2})(?:-(?P<d>\d{1,2}))?)?$")
_DOTTED = re.compile(r"^(?:" + _WEEKDAY + r")?(?P<d>\d{1,2})\.\s?(?P<mo>\d{1,2})\.\s?"
                     r"(?P<y>\d{4}|\d{2})(?:\s*,?\s*(?:um\s+|[-–]\s*)?" + _TIME + r")?(?:\s*" + _TZ
                     + ")?$", re.IGNORECASE)
_DAY_MONTH = re.compile(r"^(?:" + _WEEKDAY + r")?(?P<d>\d{1,2})(?:\.|st|nd|rd|th)?\s*(?P<mon>"
                        + _MONTH + r")\.?,?\s+(?P<y>\d{4})"
                        r"(?:\s*,?\s*(?:um\s+|at\s+|[-–]\s*)?" + _TIME
                        + r")?(?:\s*" + _TZ + ")?$", re.IGNORECASE)
_MONTH_DAY = re.compile(r"^(?:" + _WEEKDAY + r")?(?P<mon>" + _MONTH + r")\.?\s+(?P<d>\d{1,2})"
                        r"(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})(?:,?\s*(?:at\s+|-\s*)?" + _TIME
                        + r")?(?:\s*" + _TZ + ")?$", re.IGNORECASE)
_SLASHED = re.compile(r"^(?:(?P<y1>\d{4})/(?P<a1>\d{1,2})/(?P<b1>\d{1,2})|(?P<a2>\d{1,2})/"
                      r"(?P<b2>\d{1,2})/(?P<y2>\d{4}|\d{2}))(?:,?\s*" + _TIME + r")?(?:\s*"
                      + _TZ + ")?$", re.IGNORECASE)
_MONTH_YEAR = re.compile(r"^(?P<mon>" + _MONTH + r")\.?\s+(?P<y>\d{4})$", re.IGNORECASE)
_EPOCH = re.compile(r"^\d{9,10}(?:\.\d+)?$|^\d{12,13}$")
_NUMERIC_ONLY = re.compile(r"^[\d\s.:/T+-]+$")


def parse_date(text: str, fallback: bool = True,
               languages: tuple[str, ...] | None = ("de", "en"),
               reference: datetime | None = None) -> ParsedDate | None:
    """Parse one date string (metadata, a dateline); ``None`` when it is not a date.

    ``languages`` restrict the dateparser fallback (``None``: let it guess, ~3x slower);
    ``reference`` lets it resolve relative forms (``Friday``, ``10:04am``) against a fixed time.
    """
    value = " ".join(text.split())
    if not value or len(value) > 80:
        return None
    parsed = _fast(value)
    if parsed is None and fallback and (any(c.isdigit() for c in value) or reference) \
            and not _NUMERIC_ONLY.match(value):
        # never for ISO-like text that failed the fast path: 2023-13 is no date
        parsed = _dateparser(value, languages, reference)
    return parsed


def _fast(value: str) -> ParsedDate | None:
    if m := _YM.match(value):
        y, mo, d = int(m["y"]), m["mo"], m["d"]
        try:
            if d:
                return ParsedDate(datetime(y, int(mo), int(d)), "day")
            if mo:
                return ParsedDate(datetime(y, int(mo), 1), "month")
            return ParsedDate(datetime(y, 1, 1), "year") if 1000 <= y <= 2999 else None
        except ValueError:
            return None
    if m := _ISO.match(value):
        return _build(int(m["y"]), int(m["mo"]), int(m["d"]), m.groupdict())
    if _EPOCH.match(value):
        seconds = float(value) / (1000 if len(value) >= 12 and "." not in value else 1)
        return ParsedDate(datetime.fromtimestamp(int(seconds), UTC).replace(tzinfo=None),
                          "second", UTC, "epoch")
    for pattern in (_DOTTED, _DAY_MONTH, _MONTH_DAY):
        if m := pattern.match(value):
            g = m.groupdict()
            month = int(g["mo"]) if g.get("mo") else MONTHS[g["mon"].lower().rstrip(".")]
            return _build(_year(g["y"]), month, int(g["d"]), g)
    if m := _SLASHED.match(value):
        g = m.groupdict()
        if g["y1"]:  # 2023/01/30
            return _build(int(g["y1"]), int(g["a1"]), int(g["b1"]), g)
        a, b = int(g["a2"]), int(g["b2"])
        # Slashes are the US order (month/day) unless the first number cannot be a month;
        # German text writes dots (30.01.2023), which _DOTTED reads day first.
        month, day = (b, a) if a > 12 else (a, b)
        return _build(_year(g["y2"]), month, day, g)
    if m := _MONTH_YEAR.match(value):
        return ParsedDate(datetime(int(m["y"]), MONTHS[m["mon"].lower()], 1), "month")
    from email.utils import parsedate_to_datetime

    try:
        rfc = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    precision = "second" if re.search(r"\d:\d{2}:\d{2}", value) else "minute"
    return ParsedDate(rfc.replace(tzinfo=None), precision, rfc.tzinfo, "rfc2822")


@lru_cache(maxsize=8)
def _date_data_parser(languages: tuple[str, ...] | None, reference: datetime | None) -> Any:
    from dateparser.date import DateDataParser

    settings: dict[str, Any] = {"PREFER_DAY_OF_MONTH": "first",
                                "RETURN_AS_TIMEZONE_AWARE": False}
    if reference is None:  # no reference: only absolute dates, and the year must be written
        settings.update({"REQUIRE_PARTS": ["year"], "PARSERS": ["absolute-time", "timestamp"]})
    else:
        settings["RELATIVE_BASE"] = reference
    return DateDataParser(languages=list(languages) if languages else None, settings=settings)


def _dateparser(value: str, languages: tuple[str, ...] | None = ("de", "en"),
                reference: datetime | None = None) -> ParsedDate | None:
    try:
        data = _date_data_parser(languages, reference).get_date_data(value)
    except (ValueError, OverflowError, TypeError):
        return None
    if data is None or data.date_obj is None:
        return None
    obj: datetime = data.date_obj
    period = data.period or "day"
    if period == "month":
        return ParsedDate(datetime(obj.year, obj.month, 1), "month")
    if period == "year":
        return ParsedDate(datetime(obj.year, 1, 1), "year")
    if period == "time" or obj.hour or obj.minute or obj.second:
        has_seconds = bool(re.search(r"\d:\d{2}:\d{2}", value))
        return ParsedDate(obj.replace(microsecond=0, tzinfo=None),
                          "second" if has_seconds else "minute", obj.tzinfo)
    return ParsedDate(datetime(obj.year, obj.month, obj.day), "day")


# --- dates inside text -------------------------------------------------------------------------

_DATE_IN_TEXT = re.compile(
    r"(?<![\d.])(?:(?P<d1>\d{1,2})\.\s?(?P<mo1>\d{1,2})\.\s?(?P<y1>\d{4})"
    r"|(?P<d2>\d{1,2})\.\s+(?P<mon2>" + _MONTH + r")\s+(?P<y2>\d{4})"
    r"|(?P<mon3>" + _MONTH + r")\s+(?P<d3>\d{1,2})(?:st|nd|rd|th)?,\s+(?P<y3>\d{4})"
    r"|(?P<y4>\d{4})-(?P<mo4>\d{2})-(?P<d4>\d{2}))"
    r"(?:(?:,\s*|\s+-\s+|\s+um\s+|\s+)" + _TIME + r")?(?![\d])", re.IGNORECASE)


def dates_in_text(text: str) -> list[tuple[int, int, ParsedDate]]:
    """Absolute dates written in running text, with their character spans."""
    found: list[tuple[int, int, ParsedDate]] = []
    for m in _DATE_IN_TEXT.finditer(text):
        g = m.groupdict()
        for i in "1234":
            if g.get(f"y{i}"):
                month_text = g.get(f"mo{i}") or g.get(f"mon{i}") or ""
                month = int(month_text) if month_text.isdigit() else MONTHS.get(
                    month_text.lower(), 0)
                if not 1 <= month <= 12:
                    break
                parsed = _build(int(g[f"y{i}"]), month, int(g[f"d{i}"]), g)
                if parsed is not None:
                    found.append((m.start(), m.end(), parsed))
                break
    return found


_TIME_FIRST = re.compile(r"(?<!\d)(?P<H>\d{1,2}):(?P<M>\d{2})\s+(?P<d>\d{1,2})\.(?P<mo>\d{1,2})\."
                         r"(?P<y>\d{4}|\d{2})(?!\d)")
_WORD = re.compile(r"[^\W\d_]{2,}")
MAX_DATE_LINE_WORDS = 8


def date_line(text: str, max_chars: int = 700,
              max_line: int = 120) -> tuple[str, ParsedDate] | None:
    """The first short line near the top that is mostly a date (``19.04.2016, 17:41 Uhr``,
    ``Gabriel Pankow am 29. Januar 2016 um 12:01 Uhr``, ``14:31 24.02.16``): how pages print
    their publication date. Dates inside running sentences are events, not publication dates,
    and are not taken."""
    for line in text[:max_chars].splitlines():
        stripped = line.strip()
        if not stripped or len(stripped) > max_line:
            continue
        found = dates_in_text(stripped)
        spans = [(a, b, p) for a, b, p in found]
        if not spans and (m := _TIME_FIRST.search(stripped)):
            parsed = _build(_year(m["y"]), int(m["mo"]), int(m["d"]), m.groupdict())
            spans = [(m.start(), m.end(), parsed)] if parsed else []
        if not spans:
            continue
        start, end, parsed = spans[0]
        rest = stripped[:start] + " " + stripped[end:]
        if len(_WORD.findall(rest)) <= MAX_DATE_LINE_WORDS:
            return stripped[start:end], parsed
    return None


@dataclass(frozen=True)
class Dateline:
    place: str | None
    date: ParsedDate | None
    agency: str | None


_DATELINE = re.compile(
    r"^\s*(?P<place>[A-ZÄÖÜ][\wÄÖÜäöüß.'’/-]*(?:[ -][A-ZÄÖÜ][\wÄÖÜäöüß.'’/-]*){0,3})"
    r"(?:\s*/\s*[A-ZÄÖÜ][\wÄÖÜäöüß.-]*)?"
    r"\s*(?:\((?P<agency>[\w/ .-]{2,20})\))?\s*"
    r"(?:,\s*(?P<date>[^-–—:]{6,40}?(?:\s*-\s*\d{1,2}[:.]\d{2}(?:\s*Uhr)?)?))?"
    r"(?:\s*(?:[-–—]|:)\s+|\s*$)")
DATELINE_LINES = 4


def find_dateline(text: str) -> Dateline | None:
    """``DAUN, 12.04.2016 - 15:47 Uhr -`` or ``Berlin (dpa) -`` opening one of the first lines
    of the text (pages put the title, then the dateline)."""
    for line in text[:600].splitlines()[:DATELINE_LINES]:
        found = _dateline(line[:160])
        if found is not None:
            return found
    return None


def _dateline(head: str) -> Dateline | None:
    m = _DATELINE.match(head)
    if not m:
        return None
    place = m["place"].strip()
    agency = m["agency"]
    date_text = m["date"]
    parsed = None
    if date_text:
        parsed = parse_date(date_text, fallback=False)
    if parsed is None and agency is None:
        return None  # "Wichtig: ..." is not a dateline
    if len(place) > 40 or place.lower() in {"update", "eilmeldung", "hinweis", "achtung"}:
        return None
    if place.isupper() and len(place) > 2:
        place = place.title()
    return Dateline(place, parsed, agency)


# --- time zones --------------------------------------------------------------------------------

# Outlet registry: domain (or a suffix of it) -> IANA zone. Country-code domains cover most
# outlets; the entries are the exceptions and the big international ones. German-language
# sources without a known domain default to Europe/Berlin (see zone_for).
ZONES_BY_DOMAIN = {
    "orf.at": "Europe/Vienna", "derstandard.at": "Europe/Vienna", ".at": "Europe/Vienna",
    "nzz.ch": "Europe/Zurich", "srf.ch": "Europe/Zurich", ".ch": "Europe/Zurich",
    ".de": "Europe/Berlin", "dw.com": "Europe/Berlin", "euronews.com": "Europe/Paris",
    "bbc.co.uk": "Europe/London", "bbc.com": "Europe/London", ".uk": "Europe/London",
    "theguardian.com": "Europe/London", "reuters.com": "UTC",
    "npr.org": "America/New_York", "nytimes.com": "America/New_York",
    "washingtonpost.com": "America/New_York", "cnn.com": "America/New_York",
    "rt.com": "Europe/Moscow", ".fr": "Europe/Paris", ".it": "Europe/Rome", ".es": "Europe/Madrid",
    ".nl": "Europe/Amsterdam", ".pl": "Europe/Warsaw", ".jp": "Asia/Tokyo",
}
ZONES_BY_LANGUAGE = {"de": "Europe/Berlin"}


def zone_for(host: str | None, language: str | None) -> tuple[ZoneInfo | None, str]:
    """The outlet's zone and why: by domain, by country-code domain, by language, or none."""
    host = (host or "").lower().removeprefix("www.")
    if host:
        for key in sorted(ZONES_BY_DOMAIN, key=len, reverse=True):
            if (key.startswith(".") and host.endswith(key)) or host == key or \
                    host.endswith("." + key):
                return ZoneInfo(ZONES_BY_DOMAIN[key]), f"outlet {host} -> {ZONES_BY_DOMAIN[key]}"
    if language in ZONES_BY_LANGUAGE:
        zone = ZONES_BY_LANGUAGE[language]
        return ZoneInfo(zone), f"{language}-language source -> {zone}"
    return None, "no zone known"


# --- dates in URLs and file names --------------------------------------------------------------

_URL_DATE = re.compile(
    r"/(?P<y>(?:19|20)\d{2})[/-](?P<mo>[01]\d)(?:[/-](?P<d>[0-3]\d))?(?=[/_.-]|$)")
_COMPACT_DATE = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})-?(?P<mo>[01]\d)-?(?P<d>[0-3]\d)(?!\d)")


def date_in_url(url: str | None) -> ParsedDate | None:
    """``/2023/01/30/`` or ``/2023-01-30-`` in a URL path (month precision for ``/2023/01/``)."""
    if not url:
        return None
    path = re.sub(r"^[a-z]+://[^/]+", "", url)
    m = _URL_DATE.search(path)
    if m is None:
        return None
    try:
        if m["d"]:
            return ParsedDate(datetime(int(m["y"]), int(m["mo"]), int(m["d"])), "day")
        return ParsedDate(datetime(int(m["y"]), int(m["mo"]), 1), "month")
    except ValueError:
        return None


def date_in_name(name: str) -> ParsedDate | None:
    """``2023-01-30`` or ``20230130`` in a file name."""
    m = _COMPACT_DATE.search(name)
    if m is None:
        return None
    try:
        return ParsedDate(datetime(int(m["y"]), int(m["mo"]), int(m["d"])), "day")
    except ValueError:
        return None


# --- choosing the publication date -------------------------------------------------------------

# Where a date came from, in order of trust, with the confidence recorded for it.
SOURCES: dict[str, float] = {
    "header": 0.95,    # the dump's own date line
    "metadata": 0.9,   # a field of a JSON/CSV record or feed item
    "html": 0.85,      # the page's metadata / markup (htmldate)
    "dateline": 0.8,   # "DAUN, 12.04.2016 - 15:47 Uhr -" at the start of the text
    "url": 0.75,       # /2023/01/30/ in the article URL
    "text": 0.5,       # the first absolute date in the opening of the body
    "path": 0.4,       # a date in the file or archive member name
    "batch": 0.1,      # nothing else: the batch's logical date (flagged)
}


@dataclass(frozen=True)
class Candidate:
    source: str
    date: ParsedDate
    raw: str


@dataclass(frozen=True)
class Published:
    """The chosen publication date and how it was chosen (all None when there is none)."""

    at: datetime | None = None
    local: str | None = None
    precision: str | None = None
    source: str | None = None
    confidence: float | None = None
    flag: str | None = None
    notes: tuple[str, ...] = ()


def choose(candidates: list[Candidate], zone: ZoneInfo | None, zone_reason: str,
           batch_date: date | None, floor_year: int) -> Published:
    """The most trusted plausible candidate, read in the outlet's zone when it has no offset.

    Implausible dates (after the batch's one-day data interval, or before ``floor_year``) are
    flagged and passed over, never loaded as truth. With no plausible candidate, the batch date
    is the fallback, said so in ``source`` (``batch``) and ``flag``.
    """
    notes: list[str] = []
    flags: list[str] = []
    for cand in sorted(candidates, key=lambda c: -SOURCES[c.source]):
        parsed = cand.date
        day = parsed.local.date()
        if parsed.local.year < floor_year:
            flags.append(f"before_floor:{cand.source}")
            notes.append(f"{cand.source} date {cand.raw!r} is before {floor_year}: not used")
            continue
        if batch_date is not None and day > batch_date + timedelta(days=1):
            flags.append(f"after_interval:{cand.source}")
            notes.append(f"{cand.source} date {cand.raw!r} is after the batch's data interval "
                         f"({batch_date}): not used")
            continue
        if parsed.precision in ("minute", "second"):
            at = parsed.utc(zone)
            if parsed.tz is None:
                if zone is None:
                    at = parsed.local.replace(tzinfo=UTC)
                    notes.append(f"no UTC offset in {cand.raw!r} and no outlet zone: read as UTC")
                else:
                    notes.append(f"no UTC offset in {cand.raw!r}: read in {zone_reason}")
        else:  # a calendar date is not an instant: midnight UTC of the date as written
            at = parsed.local.replace(tzinfo=UTC)
        return Published(at, parsed.local_text(zone if parsed.tz is None else None),
                         parsed.precision, cand.source, SOURCES[cand.source],
                         ",".join(flags) or None, tuple(notes))
    if batch_date is None:
        return Published(flag=",".join(flags) or None, notes=tuple(notes))
    flags.append("batch_fallback")
    notes.append(f"no publication date found: the batch date {batch_date} is used")
    return Published(datetime(batch_date.year, batch_date.month, batch_date.day, tzinfo=UTC),
                     batch_date.isoformat(), "day", "batch", SOURCES["batch"], ",".join(flags),
                     tuple(notes))
