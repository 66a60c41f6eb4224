"""Find input files and turn each into raw records (or rejects), with lineage.

Readers form a small registry: each has a name, a test on the file name and first bytes, and a
``read`` generator. A reader never raises for bad input: a record it cannot use becomes a
:class:`~pipeline.records.Reject`, a file it cannot read at all becomes one ``file`` reject.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pipeline.encoding import DecodeError, decode
from pipeline.records import RawRecord, Reject

LOGGER = logging.getLogger(__name__)

DEFAULT_IGNORE = ("README*", "LICENSE*", "NOTICE*", ".*", "_*", "*.md5", "*.sha256")
SNIFF_BYTES = 4096


@dataclass(frozen=True)
class InputFile:
    """A file to read and its name relative to the batch's input root (its lineage)."""

    path: Path
    relative: str


Reader = Callable[[InputFile, int], Iterator[RawRecord | Reject]]


@dataclass(frozen=True)
class ReaderSpec:
    name: str
    accepts: Callable[[str, bytes], bool]
    read: Reader


def read_text_file(item: InputFile, max_bytes: int) -> Iterator[RawRecord | Reject]:
    """A text dump holds one article: the whole decoded file is one record."""
    try:
        size = item.path.stat().st_size
        if size > max_bytes:
            yield Reject.of(item.relative, "file", "too_large",
                            f"file of {size} bytes exceeds the record size limit of {max_bytes}")
            return
        data = item.path.read_bytes()
    except OSError as exc:
        yield Reject.of(item.relative, "file", "unreadable", f"cannot read file: {exc}")
        return
    if not data.strip():
        yield Reject.of(item.relative, "file", "empty_file",
                        "empty file" if not data else "file holds only whitespace", data)
        return
    try:
        text, encoding = decode(data)
    except DecodeError as exc:
        yield Reject.of(item.relative, "file", exc.reason_code, str(exc), data)
        return
    warnings = () if encoding == "utf-8" else (f"decoded as {encoding}, not UTF-8",)
    yield RawRecord(item.relative, "file", text, encoding, warnings)


READERS: list[ReaderSpec] = [
    ReaderSpec("text", lambda name, head: True, read_text_file),
]


def reader_for(item: InputFile) -> ReaderSpec:
    """First registered reader that accepts the file (the text reader accepts everything)."""
    try:
        with item.path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        head = b""
    for spec in READERS:
        if spec.accepts(item.path.name.lower(), head):
            return spec
    raise LookupError(f"no reader accepts {item.relative}")  # unreachable: text accepts all


def read_records(item: InputFile, max_bytes: int) -> Iterator[RawRecord | Reject]:
    """Records of one file; an unexpected reader error becomes a file reject, not a crash."""
    spec = reader_for(item)
    produced = 0
    try:
        for rec in spec.read(item, max_bytes):
            produced += 1
            yield rec
    except Exception as exc:  # a reader bug must not stop the batch
        LOGGER.exception("reader %s failed on %s after %d records", spec.name, item.relative,
                         produced)
        yield Reject.of(item.relative, f"after-record-{produced}", "reader_error",
                        f"{spec.name} reader failed: {type(exc).__name__}: {exc}")


def _ignored(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, pat) for pat in patterns)


def list_input_files(root: Path, ignore: Sequence[str] = DEFAULT_IGNORE) -> list[InputFile]:
    """Files under ``root`` (or ``root`` itself), sorted, names relative to ``root``.

    Names matching ``ignore`` (READMEs, hidden files, ``_SUCCESS`` markers) are skipped with a
    log line, so a dataset's own documentation is not loaded as an article.
    """
    if root.is_file():
        return [InputFile(root, root.name)]
    if not root.is_dir():
        raise FileNotFoundError(f"input not found: {root}")
    found: list[InputFile] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(_ignored(part, ignore) for part in rel.parts):
            if path.is_file():
                LOGGER.info("ignoring %s (matches an ignore pattern)", rel.as_posix())
            continue
        if path.is_file():
            found.append(InputFile(path, rel.as_posix()))
    return found


def landing_dirs(landing: Path, start: date, end: date) -> list[Path]:
    """Landing day folders ``<landing>/YYYY-MM-DD`` for the days in ``[start, end)``.

    An interval shorter than a day (``start == end``) covers the day of ``start``.
    """
    days = max((end - start).days, 1)
    return [landing / (start + timedelta(days=i)).isoformat() for i in range(days)]


def landing_files(landing: Path, start: date, end: date,
                  ignore: Sequence[str] = DEFAULT_IGNORE) -> list[InputFile]:
    """Every file that landed in ``[start, end)``; lineage names keep the day folder."""
    files: list[InputFile] = []
    for day_dir in landing_dirs(landing, start, end):
        if not day_dir.is_dir():
            LOGGER.info("no landing folder %s", day_dir)
            continue
        files.extend(InputFile(f.path, f"{day_dir.name}/{f.relative}")
                     for f in list_input_files(day_dir, ignore))
    return files
