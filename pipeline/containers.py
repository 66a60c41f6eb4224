"""Open compressed files and archives as streams and walk to the files inside.

``.gz``, ``.bz2``, ``.xz``, ``.zst``, ``.zip`` and ``.tar`` (plain or compressed), nested to any
reasonable depth, are recognised by their magic bytes (the extension is only a fallback) and read
as streams: nothing is extracted to disk, and a format reader sees a leaf as a binary stream, so
memory is bounded by the largest record, not the archive. The one exception is a zip *inside*
another container: zip needs random access, so that member is spooled to a temporary file.

Errors of a broken container (truncated gzip, corrupt tar) surface while a stream is read; the
caller turns them into rejects with :func:`archive_error`.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any, BinaryIO

HEAD_BYTES = 4096
MAX_DEPTH = 6
_MAGIC = (
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zst"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # empty zip
)
_COMPRESSED_SUFFIXES = {".gz": "gz", ".tgz": "gz", ".bz2": "bz2", ".tbz2": "bz2", ".xz": "xz",
                        ".txz": "xz", ".zst": "zst", ".zstd": "zst"}


@dataclass(frozen=True)
class Leaf:
    """A file that is not a container: what a format reader reads."""

    name: str
    """Innermost file name (compression suffixes removed): used to detect the format."""
    member: str | None
    """Path inside the archive(s), ``None`` for the input file itself."""
    stream: BinaryIO
    head: bytes
    """The first bytes of ``stream`` (already part of it: reading starts at offset 0)."""
    error: ContainerError | None = None
    """Set for a member that could not even be opened (its own compression is broken); the
    archive around it goes on with the next member."""


class ContainerError(Exception):
    """A container could not be opened or ended early; ``reason_code`` is for ``rejects``."""

    def __init__(self, reason_code: str, reason: str) -> None:
        super().__init__(reason)
        self.reason_code = reason_code


def archive_error(exc: BaseException) -> ContainerError | None:
    """Classify an exception raised while reading a container stream (``None``: not ours)."""
    import zstandard

    if isinstance(exc, ContainerError):
        return exc
    if isinstance(exc, EOFError):
        return ContainerError("truncated_archive", f"compressed data ends early: {exc}")
    if isinstance(exc, tarfile.ReadError | tarfile.HeaderError):
        return ContainerError("corrupt_archive", f"tar archive is damaged: {exc}")
    if isinstance(exc, zipfile.BadZipFile):
        return ContainerError("corrupt_archive", f"zip archive is damaged: {exc}")
    if isinstance(exc, gzip.BadGzipFile | zlib.error | lzma.LZMAError | zstandard.ZstdError):
        return ContainerError("corrupt_archive", f"compressed data is damaged: {exc}")
    if isinstance(exc, OSError) and "Invalid data stream" in str(exc):  # bz2
        return ContainerError("corrupt_archive", f"compressed data is damaged: {exc}")
    return None


class _Prefixed(io.RawIOBase):
    """A stream whose first bytes were already read (to sniff them): serve them again first."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _peek(stream: IO[bytes]) -> tuple[bytes, BinaryIO]:
    head = stream.read(HEAD_BYTES)
    return head, io.BufferedReader(_Prefixed(head, stream), buffer_size=1 << 16)


def container_kind(name: str, head: bytes) -> str | None:
    """``gz|bz2|xz|zst|zip|tar`` from the magic bytes (extension as fallback), else ``None``."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if name.lower().endswith(".tar") and len(head) >= 512:
        return "tar"  # pre-POSIX tar without the ustar magic
    return None


def _strip_suffix(name: str) -> str:
    path = PurePosixPath(name)
    suffix = path.suffix.lower()
    if suffix in {".tgz", ".tbz2", ".txz"}:
        return str(path.with_suffix(".tar"))
    if suffix in _COMPRESSED_SUFFIXES:
        return str(path.with_suffix(""))
    return name


def _decompress(kind: str, stream: IO[bytes]) -> Any:
    """A readable decompressing stream (file-like; the stdlib classes are not ``IO`` types)."""
    if kind == "gz":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if kind == "bz2":
        return bz2.BZ2File(stream, mode="rb")
    if kind == "xz":
        return lzma.LZMAFile(stream, mode="rb")
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)


def _join(member: str | None, name: str) -> str:
    return f"{member}/{name}" if member else name


def walk(name: str, stream: IO[bytes], spool_limit: int, member: str | None = None,
         depth: int = 0) -> Iterator[Leaf]:
    """Every leaf file in ``stream`` (the stream itself if it is not a container).

    ``spool_limit``: bytes of a nested zip kept in memory before its spool goes to disk.
    """
    head, peeked = _peek(stream)
    kind = container_kind(name, head)
    if kind is None:
        yield Leaf(PurePosixPath(name).name, member, peeked, head)
        return
    if depth >= MAX_DEPTH:
        raise ContainerError("too_deep", f"archives nested more than {MAX_DEPTH} levels deep")
    if kind in _COMPRESSED_SUFFIXES.values():
        inner = _strip_suffix(name)
        if inner == name:  # compressed but no suffix to strip (e.g. "dump.bin")
            inner = name + ".out"
        yield from walk(inner, _decompress(kind, peeked), spool_limit, member, depth + 1)
    elif kind == "tar":
        with tarfile.open(fileobj=peeked, mode="r|") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                extracted = tar.extractfile(info)
                if extracted is not None:
                    yield from _member(info.name, extracted, spool_limit, member, depth)
    else:  # zip: needs random access
        seekable: IO[bytes]
        if depth == 0 and stream.seekable():
            stream.seek(0)
            seekable = stream
        else:
            spool = tempfile.SpooledTemporaryFile(max_size=spool_limit)  # noqa: SIM115
            spool.write(head)
            while chunk := peeked.read(1 << 20):
                spool.write(chunk)
            spool.seek(0)
            seekable = spool
        with zipfile.ZipFile(seekable) as zf:
            for entry in zf.infolist():
                if entry.is_dir():
                    continue
                with zf.open(entry) as fh:
                    yield from _member(entry.filename, fh, spool_limit, member, depth)


def _member(name: str, stream: IO[bytes], spool_limit: int, parent: str | None,
            depth: int) -> Iterator[Leaf]:
    """Walk one archive member; a member broken at its start is reported, not fatal."""
    path = _join(parent, name)
    try:
        yield from walk(name, stream, spool_limit, path, depth + 1)
    except Exception as exc:
        err = archive_error(exc)
        if err is None:
            raise
        yield Leaf(PurePosixPath(name).name, path, io.BufferedReader(io.BytesIO(b"")), b"", err)
