"""Text hygiene at the reader boundary: what a record carries is valid, printable Unicode.

Applied once to every record and reject as it leaves
:func:`pipeline.ingest.readers.read_records`, so no later step (language detection, hashing, the
Parquet writer, a terminal showing a query result) meets a lone surrogate, a NUL or an escape
sequence:

- lone surrogates (``\\ud800`` from a JSON escape, ``\\udcff`` from a non-UTF-8 file name read
  with ``surrogateescape``) are replaced by U+FFFD;
- C0 and C1 control characters other than tab, newline and carriage return are removed
  (NUL, ESC of terminal escape sequences, DEL, the C1 block that mojibake leaves).

A record whose text changed says so in its ``warnings``; the policy is explicit, never silent.
Clean text (nearly all of it) costs one regex search per field.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Any

from pipeline.ingest.records import RawRecord, Reject

_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_SURROGATE = "\ud800-\udfff"
_BAD = re.compile(f"[{_CONTROL}{_SURROGATE}]")
_CONTROL_RE = re.compile(f"[{_CONTROL}]+")
_SURROGATE_RE = re.compile(f"[{_SURROGATE}]")
REPLACEMENT = "\ufffd"


def clean_text(text: str, tally: Counter[str] | None = None) -> str:
    """``text`` without control characters (but tab/newline/CR) and with lone surrogates
    replaced; ``tally`` counts what was changed ("control", "surrogate"). Idempotent."""
    if not _BAD.search(text):
        return text
    if tally is not None:
        tally["surrogate"] += len(_SURROGATE_RE.findall(text))
        tally["control"] += sum(len(m) for m in _CONTROL_RE.findall(text))
    return _CONTROL_RE.sub("", _SURROGATE_RE.sub(REPLACEMENT, text))


def _opt(text: str | None, tally: Counter[str]) -> str | None:
    return None if text is None else clean_text(text, tally)


def display_name(name: str) -> str:
    """A file or member name as it can be stored and shown: undecodable bytes (which
    ``os.walk`` gives as surrogate escapes) as ``\\xff``, control characters as ``\\x1b``."""
    if not _BAD.search(name):
        return name
    raw = name.encode("utf-8", "surrogateescape") if _SURROGATE_RE.search(name) else None
    if raw is not None:
        try:
            name = raw.decode("utf-8", "backslashreplace")
        except UnicodeError:
            name = _SURROGATE_RE.sub(REPLACEMENT, name)
    name = _SURROGATE_RE.sub(REPLACEMENT, name)
    return _CONTROL_RE.sub(lambda m: "".join(f"\\x{ord(c):02x}" for c in m.group()), name)


def _note(tally: Counter[str]) -> tuple[str, ...]:
    notes = []
    if tally["control"]:
        notes.append(f"removed {tally['control']} control character(s) (NUL, escape "
                     "sequences, C1)")
    if tally["surrogate"]:
        notes.append(f"replaced {tally['surrogate']} lone surrogate(s) with U+FFFD")
    return tuple(notes)


def clean_record(rec: RawRecord) -> RawRecord:
    """The record with every text field cleaned and, if anything changed, a warning."""
    tally: Counter[str] = Counter()
    fields = rec.fields  # a structured record's text is its body: counted once, with fields
    text = clean_text(rec.text, tally if fields is None else None)
    if fields is not None:
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(fields):
            value = getattr(fields, f.name)
            if isinstance(value, str):
                new = clean_text(value, tally)
                if new is not value:
                    changes[f.name] = new
            elif isinstance(value, tuple):
                new_tuple = tuple(clean_text(v, tally) for v in value)
                if new_tuple != value:
                    changes[f.name] = new_tuple
        if changes:
            fields = dataclasses.replace(fields, **changes)
    member = None if rec.member is None else display_name(rec.member)
    if not tally and member == rec.member:
        return rec
    return dataclasses.replace(rec, text=text, fields=fields, member=member,
                               source_file=display_name(rec.source_file),
                               locator=display_name(rec.locator),
                               warnings=(*rec.warnings, *_note(tally)))


def clean_reject(rej: Reject) -> Reject:
    """A reject whose strings can be stored and shown (its excerpt is raw input)."""
    tally: Counter[str] = Counter()
    excerpt, reason = _opt(rej.excerpt, tally), clean_text(rej.reason, tally)
    names = (display_name(rej.source_file), display_name(rej.locator),
             None if rej.member is None else display_name(rej.member))
    if not tally and names == (rej.source_file, rej.locator, rej.member):
        return rej
    return dataclasses.replace(rej, excerpt=excerpt, reason=reason, source_file=names[0],
                               locator=names[1], member=names[2])

