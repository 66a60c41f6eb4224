"""Every input is accounted for: a broken WARC record, a cut zstd stream or a locked zip member
is a reject with its place, and what comes after it is still read (never silently dropped).

Archives are built here, in ``tmp_path``, so the tests say exactly which bytes are broken.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import random
import re
import shutil
import struct
import subprocess
import tarfile
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from pipeline.ingest.readers import InputFile, read_records
from pipeline.ingest.records import RawRecord, Reject
from pipeline.settings import Settings


def records(path: Path, **overrides: object) -> list[RawRecord | Reject]:
    return list(read_records(InputFile(path, path.name), Settings.from_mapping(overrides)))


def outcome(got: list[RawRecord | Reject]) -> list[tuple[str, str, str | None]]:
    """``(kind, locator, reason_code)`` of each record: what a test compares."""
    return [("loaded", r.locator, None) if isinstance(r, RawRecord)
            else ("reject", r.locator, r.reason_code) for r in got]


# --- WARC ------------------------------------------------------------------------------------

def _page(i: int) -> bytes:
    sentences = " ".join(f"Satz {k} des Artikels {i} berichtet ausführlich über Ereignis {k}."
                         for k in range(12))
    return (f"<!DOCTYPE html><html lang=de><head><meta charset=utf-8><title>Artikel {i}</title>"
            f"</head><body><article><h1>Überschrift {i}</h1><p>{sentences}</p>"
            f"<p>{sentences}</p></article></body></html>").encode()


def _warc_record(rec_type: str, block: bytes, uri: str | None = None,
                 length: str | None = None, content_type: str = "application/http; "
                 "msgtype=response") -> bytes:
    """One WARC record; ``length`` overrides the true Content-Length (``""``: header left out)."""
    lines = ["WARC/1.0", f"WARC-Type: {rec_type}", f"WARC-Record-ID: <urn:uuid:{uuid.uuid4()}>",
             "WARC-Date: 2023-01-30T10:00:00Z"]
    if uri:
        lines.append(f"WARC-Target-URI: {uri}")
    lines.append(f"Content-Type: {content_type}")
    if length != "":
        lines.append(f"Content-Length: {len(block) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def _response(i: int, length: str | None = None) -> bytes:
    body = _page(i)
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body
    return _warc_record("response", http, f"https://example.de/a/{i}.html", length)


def _warcinfo() -> bytes:
    return _warc_record("warcinfo", b"software: tests\r\nformat: WARC 1.0\r\n",
                        content_type="application/warc-fields")


def _block_length(record: bytes) -> int:
    return len(record) - record.index(b"\r\n\r\n") - 8


def _crawl(middle: Callable[[int], str]) -> tuple[list[bytes], list[int]]:
    """warcinfo + three responses; the middle one's Content-Length is ``middle(true length)``."""
    info, first, third = _warcinfo(), _response(1), _response(3)
    true_length = _block_length(_response(2, "0"))
    second = _response(2, str(middle(true_length)))
    parts = [info, first, second, third]
    offsets = [sum(len(p) for p in parts[:i]) for i in range(1, 4)]
    return parts, offsets


BOGUS_LENGTHS: dict[str, Callable[[int], str]] = {
    "too large": lambda n: str(n + 3000),
    "far too large": lambda n: "999999999",
    "too small": lambda n: str(n - 700),
    "slightly too small": lambda n: str(n - 2),
    "not a number": lambda n: "12ab",
    "negative": lambda n: "-5",
    "missing": lambda n: "",
}


@pytest.mark.parametrize("gzipped", [False, True], ids=["warc", "warc.gz per record"])
@pytest.mark.parametrize("bogus", sorted(BOGUS_LENGTHS))
def test_bogus_content_length_rejects_that_record_only(tmp_path: Path, bogus: str,
                                                       gzipped: bool) -> None:
    parts, (first, second, third) = _crawl(BOGUS_LENGTHS[bogus])
    path = tmp_path / ("crawl.warc.gz" if gzipped else "crawl.warc")
    path.write_bytes(b"".join(gzip.compress(p, mtime=0) for p in parts) if gzipped
                     else b"".join(parts))
    got = records(path)
    assert outcome(got) == [("loaded", f"offset {first}", None),
                            ("reject", f"offset {second}", "bad_warc_record"),
                            ("loaded", f"offset {third}", None)]
    loaded = [r for r in got if isinstance(r, RawRecord)]
    assert [r.fields.url for r in loaded if r.fields] == ["https://example.de/a/1.html",
                                                          "https://example.de/a/3.html"]
    (reject,) = [r for r in got if isinstance(r, Reject)]
    assert "Content-Length" in reject.reason and reject.excerpt


def test_a_length_that_swallows_whole_records_is_split_not_merged(tmp_path: Path) -> None:
    """Record 2's length ends exactly where record 3 ends: consistent, but it holds record 3."""
    third = _response(3)
    parts, (first, second, third_at) = _crawl(lambda n: str(n + 4 + len(third) - 4))
    path = tmp_path / "merged.warc"
    path.write_bytes(b"".join(parts))
    assert outcome(records(path)) == [("loaded", f"offset {first}", None),
                                      ("reject", f"offset {second}", "bad_warc_record"),
                                      ("loaded", f"offset {third_at}", None)]


def test_warc_cut_short_rejects_the_cut_record(tmp_path: Path) -> None:
    parts, (first, second, third) = _crawl(lambda n: str(n))
    data = b"".join(parts)
    path = tmp_path / "cut.warc"
    path.write_bytes(data[: third + 600])
    assert outcome(records(path)) == [("loaded", f"offset {first}", None),
                                      ("loaded", f"offset {second}", None),
                                      ("reject", f"offset {third}", "bad_warc_record")]


def test_junk_between_records_is_a_reject_and_reading_goes_on(tmp_path: Path) -> None:
    info, one, two = _warcinfo(), _response(1), _response(2)
    junk = b"this is not a WARC record\r\n" * 3
    path = tmp_path / "junk.warc"
    path.write_bytes(info + one + junk + two)
    assert outcome(records(path)) == [
        ("loaded", f"offset {len(info)}", None),
        ("reject", f"offset {len(info) + len(one)}", "bad_warc_record"),
        ("loaded", f"offset {len(info) + len(one) + len(junk)}", None)]


def test_well_formed_warc_is_unchanged(tmp_path: Path) -> None:
    """Offsets as warcio counts them; protocol records skipped; a large page is too_large."""
    from warcio.archiveiterator import ArchiveIterator

    big = _warc_record("response", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>"
                       + b"x" * 20_000, "https://example.de/big.html")
    request = _warc_record("request", b"GET /a/1.html HTTP/1.1\r\nHost: example.de\r\n\r\n",
                           "https://example.de/a/1.html", content_type="application/http; "
                           "msgtype=request")
    data = _warcinfo() + request + _response(1) + big + _response(2)
    path = tmp_path / "ok.warc"
    path.write_bytes(data)
    iterator = ArchiveIterator(io.BytesIO(data))
    offsets = []
    for rec in iterator:
        rec.content_stream().read()
        offsets.append(iterator.get_record_offset())
    assert outcome(records(path, max_record_bytes=10_000)) == [
        ("loaded", f"offset {offsets[2]}", None), ("reject", f"offset {offsets[3]}", "too_large"),
        ("loaded", f"offset {offsets[4]}", None)]


# --- truncated compressed streams: zstd as gzip and xz ------------------------------------------

def _jsonl(n: int) -> bytes:
    """JSON lines of random words: hard to compress, so a cut lands among many blocks."""
    rng = random.Random(7)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyzäöü", k=rng.randint(3, 9)))
             for _ in range(3000)]
    return b"".join(json.dumps({"title": f"T{i}", "text": " ".join(rng.choices(words, k=120))},
                               ensure_ascii=False).encode() + b"\n" for i in range(n))


def _zstd_stream(data: bytes) -> bytes:
    """Streaming zstd, several frames with checksums and a skippable frame in between."""
    out = io.BytesIO()
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    half = len(data) // 2
    for piece in (data[:half], data[half:]):
        with compressor.stream_writer(out, closefd=False) as writer:
            writer.write(piece)
        if piece is not data[half:]:
            out.write(struct.pack("<II", 0x184D2A50, 5) + b"skip!")
    return out.getvalue()


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": lambda d: gzip.compress(d, mtime=0),
    "xz": lzma.compress,
    "bz2": bz2.compress,
    "zst": lambda d: zstandard.ZstdCompressor().compress(d),
    "zst-frames": _zstd_stream,
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_intact_compressed_lines_load_completely(tmp_path: Path, kind: str) -> None:
    data = _jsonl(300)
    path = tmp_path / f"ok.jsonl.{kind.split('-')[0]}"
    path.write_bytes(COMPRESSORS[kind](data))
    got = records(path)
    assert all(isinstance(r, RawRecord) for r in got) and len(got) == 300


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.97])
@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_cut_compressed_lines_keep_what_was_read_and_say_so(tmp_path: Path, kind: str,
                                                            cut: float) -> None:
    whole = COMPRESSORS[kind](_jsonl(300))
    path = tmp_path / f"cut.jsonl.{kind.split('-')[0]}"
    path.write_bytes(whole[: int(len(whole) * cut)])
    got = records(path)
    loaded = [r for r in got if isinstance(r, RawRecord)]
    (broken,) = [r for r in got if isinstance(r, Reject)]
    assert broken.reason_code == "truncated_archive", broken
    assert broken.locator == (f"after record {len(loaded)}" if loaded else "file")
    assert [r.locator for r in loaded] == [f"line {i}" for i in range(1, len(loaded) + 1)]
    assert len(loaded) < 300
    if cut > 0.5 and kind != "bz2":  # past the first block (bz2's are 900 kB: none here)
        assert loaded


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_cut_compressed_text_dump_is_one_truncated_reject(tmp_path: Path, kind: str) -> None:
    text = "Titel\n\n" + _jsonl(60).decode()
    whole = COMPRESSORS[kind](text.encode())
    path = tmp_path / f"dump.txt.{kind.split('-')[0]}"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    assert outcome(records(path)) == [("reject", "file", "truncated_archive")]


def test_zstd_cut_inside_the_frame_header_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"Titel\n\nText.\n")[:5])
    assert outcome(records(path)) == [("reject", "file", "truncated_archive")]


# --- zip members: encrypted, bad CRC, unknown compression -------------------------------------

GOOD = b"Titel\n\nEin Text mit genug Worten.\n"


def _patch_zip(data: bytes, member: str, flags: int = 0, method: int | None = None,
               crc: int | None = None) -> bytes:
    """Set flag bits / compression method / CRC of ``member`` in its local and central header."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        local = zf.getinfo(member).header_offset
    central = next(m.start() for m in re.finditer(b"PK\x01\x02", data)
                   if data[m.start() + 46:m.start() + 46
                           + struct.unpack_from("<H", data, m.start() + 28)[0]]
                   == member.encode())
    for at, flag_at, method_at, crc_at in ((local, 6, 8, 14), (central, 8, 10, 16)):
        flag = struct.unpack_from("<H", out, at + flag_at)[0] | flags
        struct.pack_into("<H", out, at + flag_at, flag)
        if method is not None:
            struct.pack_into("<H", out, at + method_at, method)
        if crc is not None:
            struct.pack_into("<I", out, at + crc_at, crc)
    return bytes(out)


def _three_member_zip(compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name in ("a.txt", "secret.txt", "c.txt"):
            zf.writestr(name, GOOD)
    return buf.getvalue()


def _encrypted_with_zip_tool(tmp_path: Path) -> bytes:
    work = tmp_path / "zipwork"
    work.mkdir()
    for name in ("a.txt", "secret.txt", "c.txt"):
        (work / name).write_bytes(GOOD)
    subprocess.run(["zip", "-q", "-X", "plain.zip", "a.txt"], cwd=work, check=True)
    subprocess.run(["zip", "-q", "-X", "-P", "geheim", "plain.zip", "secret.txt"], cwd=work,
                   check=True)
    subprocess.run(["zip", "-q", "-X", "plain.zip", "c.txt"], cwd=work, check=True)
    return (work / "plain.zip").read_bytes()


def _in_tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("how", ["flag bit", "zip -P", "flag bit, zip inside a tar"])
def test_encrypted_member_is_one_reject_and_the_rest_load(tmp_path: Path, how: str) -> None:
    if how == "zip -P":
        if shutil.which("zip") is None:
            pytest.skip("needs the zip command")
        data = _encrypted_with_zip_tool(tmp_path)
    else:
        data = _patch_zip(_three_member_zip(), "secret.txt", flags=0x1)
    member_prefix = ""
    if "tar" in how:
        data, member_prefix = _in_tar("x/locked.zip", data), "x/locked.zip/"
    path = tmp_path / "locked.zip"
    path.write_bytes(data)
    got = records(path)
    assert [(type(r).__name__, r.member) for r in got] == [
        ("RawRecord", f"{member_prefix}a.txt"), ("Reject", f"{member_prefix}secret.txt"),
        ("RawRecord", f"{member_prefix}c.txt")]
    reject = got[1]
    assert isinstance(reject, Reject) and reject.reason_code == "encrypted"
    assert "secret.txt" in reject.reason and "password" in reject.reason


@pytest.mark.parametrize(("damage", "code"), [
    ({"crc": 0xDEADBEEF}, "corrupt_archive"),
    ({"method": 77}, "unsupported_compression"),
    ({"flags": 0x40}, "encrypted"),  # strong encryption
])
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_broken_zip_member_is_a_member_reject(tmp_path: Path, damage: dict[str, int],
                                              code: str, compression: int) -> None:
    path = tmp_path / "damaged.zip"
    path.write_bytes(_patch_zip(_three_member_zip(compression), "secret.txt", **damage))
    got = records(path)
    assert [(type(r).__name__, r.member) for r in got] == [
        ("RawRecord", "a.txt"), ("Reject", "secret.txt"), ("RawRecord", "c.txt")]
    assert isinstance(got[1], Reject) and got[1].reason_code == code


def test_bad_crc_after_records_of_a_large_member(tmp_path: Path) -> None:
    """A CRC mismatch is only seen at the member's end: its records are kept, one reject."""
    data = _jsonl(200)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.jsonl", data)
        zf.writestr("c.txt", GOOD)
    path = tmp_path / "crc.zip"
    path.write_bytes(_patch_zip(buf.getvalue(), "big.jsonl", crc=0))
    got = records(path)
    *lines, broken, last = got
    assert [(type(r).__name__, r.member) for r in (broken, last)] == [("Reject", "big.jsonl"),
                                                                     ("RawRecord", "c.txt")]
    assert isinstance(broken, Reject) and broken.reason_code == "corrupt_archive"
    assert broken.locator == f"after record {len(lines)}"
    assert 0 < len(lines) < 200 and all(isinstance(r, RawRecord) for r in lines)
