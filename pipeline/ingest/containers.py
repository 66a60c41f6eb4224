"""Open compressed files and archives as streams and walk to the files inside.

``.gz``, ``.bz2``, ``.xz``, ``.zst``, ``.zip`` and ``.tar`` (plain or compressed), nested to any
reasonable depth, are recognised by their magic bytes (the extension is only a fallback) and read
as streams: nothing is extracted to disk, and a format reader sees a leaf as a binary stream, so
memory is bounded by the largest record, not the archive. The one exception is a zip *inside*
another container: zip needs random access, so that member is spooled to a temporary file.

Errors of a broken container (truncated gzip or zstd, corrupt tar) surface while a stream is
read; the caller turns them into rejects with :func:`archive_error`. A zip member that cannot be
opened (encrypted, unknown compression method, damaged header) is a :class:`Leaf` with ``error``
set, and the members after it are still read.
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
from typing import IO, Any, BinaryIO, cast

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
_ZIP_ENCRYPTED = 0x1
_ZIP_STRONG_ENCRYPTION = 0x40
_ZIP_AES = 99  # WinZip AES: compression method 99 stands for "encrypted, see extra field"
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
    return _ZstdReader(stream)


_ZSTD_MAGIC = 0xFD2FB528
_ZSTD_SKIPPABLE = 0x184D2A50  # the low 4 bits are free: 0x184D2A50 to 0x184D2A5F
_ZSTD_HEADER_BYTES = {"magic": 4, "skippable": 4, "frame": 1, "block": 3}
"""Bytes read in each state of :class:`_ZstdFrames` before a decision (frame: its descriptor)."""


class _ZstdFrames(io.RawIOBase):
    """The compressed side of a zstd stream, passed through unchanged while its frame layout is
    followed, so that the end of the input can be told from the end of a frame.

    Frame and block headers give every length (RFC 8878), so this costs one small step per block
    (up to 128 KiB of output), not per byte. Layouts it does not know (a bad magic number, a
    reserved block type) stop the following and count as complete: the decompressor reports
    those itself, as corrupt data.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._state = "magic"  # magic | skippable | frame | block | skip | lost
        self._header = bytearray()
        self._skip = 0
        self._then = "magic"
        self._checksum = False

    @property
    def between_frames(self) -> bool:
        """True when the bytes so far end exactly after a whole frame (or were not followed)."""
        return self._state == "lost" or (self._state == "magic" and not self._header)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._follow(memoryview(data))
        return len(data)

    def _follow(self, data: memoryview) -> None:
        at = 0
        while at < len(data) and self._state != "lost":
            if self._state == "skip":
                step = min(self._skip, len(data) - at)
                self._skip -= step
                at += step
                if not self._skip:
                    self._state = self._then
                continue
            want = _ZSTD_HEADER_BYTES[self._state] - len(self._header)
            self._header += data[at:at + want]
            at += min(want, len(data) - at)
            if len(self._header) == _ZSTD_HEADER_BYTES[self._state]:
                header = bytes(self._header)
                self._header.clear()
                self._read_header(header)

    def _skip_then(self, size: int, then: str) -> None:
        self._state, self._skip, self._then = ("skip", size, then) if size else (then, 0, then)

    def _read_header(self, header: bytes) -> None:
        value = int.from_bytes(header, "little")
        if self._state == "magic":
            self._state = ("frame" if value == _ZSTD_MAGIC else
                           "skippable" if value & ~0xF == _ZSTD_SKIPPABLE else "lost")
        elif self._state == "skippable":
            self._skip_then(value, "magic")
        elif self._state == "frame":  # Frame_Header_Descriptor, then the rest of the header
            single_segment = value >> 5 & 1
            if value >> 3 & 1:  # reserved bit
                self._state = "lost"
                return
            self._checksum = bool(value >> 2 & 1)
            rest = ((0 if single_segment else 1) + (0, 1, 2, 4)[value & 3]
                    + (single_segment, 2, 4, 8)[value >> 6])
            self._skip_then(rest, "block")
        else:  # block header: last-block bit, type (raw, RLE, compressed, reserved), size
            last, kind, size = value & 1, value >> 1 & 3, value >> 3
            if kind == 3:
                self._state = "lost"
                return
            body = 1 if kind == 1 else size
            if last:
                self._skip_then(body + (4 if self._checksum else 0), "magic")
            else:
                self._skip_then(body, "block")


class _ZstdReader(io.RawIOBase):
    """zstd decompression that raises ``EOFError`` when the input ends inside a frame.

    python-zstandard's ``stream_reader`` just reports end of file there, so a cut ``.zst`` would
    load the part before the cut silently, where gzip, bz2 and xz raise ``EOFError``. Its
    ``decompressobj`` knows (``eof``) but returns all the output of an input chunk at once,
    unbounded for a small, highly compressed chunk; the stream reader's reads stay bounded.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        import zstandard

        self._frames = _ZstdFrames(raw)
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], self._frames), read_across_frames=True)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n: int = self._reader.readinto(buffer)
        if n == 0 and len(buffer) and not self._frames.between_frames:
            raise EOFError("zstd data ends inside a frame (the file was cut short)")
        return n


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
                try:
                    fh = _open_zip_member(zf, entry)
                except ContainerError as exc:
                    yield _broken(entry.filename, member, exc)
                    continue
                with fh:
                    yield from _member(entry.filename, fh, spool_limit, member, depth)


def _open_zip_member(zf: zipfile.ZipFile, entry: zipfile.ZipInfo) -> IO[bytes]:
    """Open one zip member, or say why it cannot be read (it is then a reject of its own).

    ``zipfile`` raises ``RuntimeError`` for a password-protected member and
    ``NotImplementedError`` for an unknown compression method: neither is a broken archive, and
    the other members are fine, so neither may escape the walk.
    """
    name = entry.filename
    if (entry.flag_bits & (_ZIP_ENCRYPTED | _ZIP_STRONG_ENCRYPTION)
            or entry.compress_type == _ZIP_AES):
        raise ContainerError("encrypted", f"zip member {name} is encrypted: it needs a password, "
                                          "and none is configured")
    try:
        return zf.open(entry)
    except NotImplementedError as exc:
        raise ContainerError("unsupported_compression",
                             f"zip member {name} uses compression method {entry.compress_type}, "
                             f"which cannot be read here: {exc}") from exc
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError) as exc:
        raise ContainerError("corrupt_archive",
                             f"zip member {name} cannot be opened: {exc}") from exc


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
        yield _broken(name, parent, err)


def _broken(name: str, parent: str | None, err: ContainerError) -> Leaf:
    """The leaf of a member that cannot be read: no bytes, only the reason."""
    return Leaf(PurePosixPath(name).name, _join(parent, name),
                io.BufferedReader(io.BytesIO(b"")), b"", err)
