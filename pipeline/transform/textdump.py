"""Parse the text-dump layouts into title, teaser, paragraphs and subheadings.

Three layouts, told apart by the first line:

* ``dated``: the reference layout. Line 1 is `` date YYYY[-MM[-DD]] <teaser>``; then paragraphs
  separated by blank lines.
* ``titled``: line 1 is a headline (short, no final full stop) followed by a blank line (the BBC
  files).
* ``plain``: anything else; all paragraphs are body.

A paragraph is a *subheading* when it is one short line without final punctuation, introduces a
long paragraph (short lines in a row are a list: fixtures, results, credits), is not the last
paragraph (a last short line is more often a byline or credit) and is not the first one
unless a teaser precedes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DATE_HEADER = re.compile(
    r"^\s*date\s+(?P<date>\d{4}(?:-\d{1,2}(?:-\d{1,2})?)?)(?:\s+|$)(?P<rest>.*)$", re.IGNORECASE)
FILE_NAME = re.compile(r"^(?P<seq>\d+)(?:_(?P<source>[0-9a-fA-F]{16}))?(?:\.[^.]*)?$")
_PARA_SPLIT = re.compile(r"\n[ \t\f\v]*\n")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_ODD_SPACES = ("  ", "\t", "\f", "\v", "\u00a0")
"""What ``_SPACES`` would change: two spaces or any other space character."""
_TITLE_NOT_FINAL = (".", ",", ";", ":")
_FINAL_PUNCT = tuple('.!?:;,…"“”„\'’»«)]')
SUBHEADING_MAX_CHARS = 100
SUBHEADING_MAX_WORDS = 12
TITLE_MAX_CHARS = 200
TITLE_MAX_WORDS = 30


@dataclass(frozen=True)
class ParsedDump:
    layout: str
    date_text: str | None
    title: str | None
    teaser: str | None
    paragraphs: tuple[str, ...]
    subheadings: tuple[str, ...]

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True)
class FileNameInfo:
    sequence: int | None
    source_id: str | None


def parse_file_name(name: str) -> FileNameInfo:
    """``000_5fa03b91928cf31a.txt`` -> (0, '5fa03b91928cf31a'); ``199.txt`` -> (199, None)."""
    match = FILE_NAME.match(name)
    if not match:
        return FileNameInfo(None, None)
    source = match.group("source")
    return FileNameInfo(int(match.group("seq")), source.lower() if source else None)


def clean_paragraph(text: str) -> str:
    """Join a paragraph's lines and collapse runs of spaces, keeping the words as written."""
    joined = " ".join(line.strip() for line in text.split("\n"))
    if not any(c in joined for c in _ODD_SPACES):  # the common case: substring scans only
        return joined.strip()
    return _SPACES.sub(" ", joined).strip()


def split_paragraphs(text: str) -> list[str]:
    return [p for p in (clean_paragraph(raw) for raw in _PARA_SPLIT.split(text)) if p]


def is_heading_like(line: str, max_chars: int, max_words: int) -> bool:
    stripped = line.strip()
    return (0 < len(stripped) <= max_chars
            and len(stripped.split()) <= max_words
            and not stripped.endswith(_FINAL_PUNCT)
            and (stripped[0].isupper() or stripped[0].isdigit()))


def looks_like_title(line: str) -> bool:
    """A headline: short, no sentence-final full stop (an ellipsis or quote may end it)."""
    if not line or len(line) > TITLE_MAX_CHARS or len(line.split()) > TITLE_MAX_WORDS:
        return False
    return not line.endswith(_TITLE_NOT_FINAL) or line.endswith("...")


def parse_text_dump(text: str) -> ParsedDump:
    """Split decoded text into its parts; never fails (a file with neither header is ``plain``)."""
    text = text.lstrip("\ufeff")
    first, _, rest = text.lstrip("\n").partition("\n")
    header = DATE_HEADER.match(first)
    title: str | None = None
    teaser: str | None = None
    date_text: str | None = None
    if header:
        layout = "dated"
        date_text = header.group("date")
        teaser = clean_paragraph(header.group("rest")) or None
        paragraphs = split_paragraphs(rest)
    else:
        blank_after_first = rest == "" or rest.split("\n", 1)[0].strip() == ""
        title_candidate = first.strip()
        if blank_after_first and rest.strip() and looks_like_title(title_candidate):
            layout = "titled"
            title = clean_paragraph(title_candidate)
            paragraphs = split_paragraphs(rest)
        else:
            layout = "plain"
            paragraphs = split_paragraphs(text)
    subheadings = tuple(
        p for i, p in enumerate(paragraphs)
        if (i > 0 or teaser is not None) and i < len(paragraphs) - 1
        and is_heading_like(p, SUBHEADING_MAX_CHARS, SUBHEADING_MAX_WORDS)
        and len(paragraphs[i + 1]) > SUBHEADING_MAX_CHARS
    )
    return ParsedDump(layout, date_text, title, teaser, tuple(paragraphs), subheadings)
