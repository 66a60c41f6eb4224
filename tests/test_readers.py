"""Readers: format detection, field mapping, CSV options, archives as streams, bad bytes."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest.base import FormatOptions, detect_format, map_fields
from pipeline.ingest.containers import walk
from pipeline.ingest.readers import READERS, InputFile, list_input_files, read_records
from pipeline.ingest.records import RawRecord, Reject
from pipeline.settings import Settings
from pipeline.transform.article import build_article
from tests.conftest import REPO

MIXED = REPO / "tests" / "fixtures" / "mixed"


def records(path: Path, **overrides: object) -> list[RawRecord | Reject]:
    return list(read_records(InputFile(path, path.name), Settings.from_mapping(overrides)))


@pytest.mark.parametrize(("name", "head", "expected"), [
    ("a.txt", b" date 2023-01 \nText", "text"),
    ("a.txt", b'{"title": "x", "text": "y"}\n{"title": "z"}', "jsonl"),
    ("a", b'{\n  "title": "x"\n}', "json"),
    ("a.dat", b"[{\"text\": 1}]", "json"),
    ("page", b"<!DOCTYPE html><html><body>", "html"),
    ("feed.xml", b'<?xml version="1.0"?><rss version="2.0">', "feed"),
    ("x.txt", b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
     "feed"),
    ("crawl", b"WARC/1.0\r\nWARC-Type: warcinfo", "warc"),
    ("a.csv", b"title,text\nx,y", "csv"),
    ("a.tsv", b"title\ttext", "tsv"),
    ("a.jsonl", b"", "jsonl"),
])
def test_format_is_detected_by_content_then_extension(name: str, head: bytes,
                                                       expected: str) -> None:
    assert detect_format(name, head) == expected


def test_forced_format_wins() -> None:
    assert detect_format("a.txt", b"{}", forced="csv") == "csv"


def test_newsplease_record_maps_every_field(shared: Path) -> None:
    raw = json.loads((shared / "formats/newsplease_sample.json").read_text(encoding="utf-8"))
    fields, _ = map_fields(raw, FormatOptions())
    assert fields is not None and fields.layout == "news-please"
    assert fields.title and fields.title.startswith("Moscow to Kiev")
    assert fields.teaser and fields.body.startswith(raw["maintext"][:30])
    assert fields.published == "2017-07-17 17:03:00" and fields.site_name == "www.rt.com"
    assert fields.url == raw["url"] and fields.language == "en"


def test_configured_mapping_is_tried_before_the_defaults() -> None:
    record = {"text": "default body", "story": {"full": "the real body"}, "when": "2023-01-30"}
    options = FormatOptions.parse({"body": "story.full", "published": "when"})
    fields, _ = map_fields(record, options)
    assert fields is not None
    assert (fields.body, fields.published) == ("the real body", "2023-01-30")


def test_unknown_option_is_an_error_not_ignored() -> None:
    with pytest.raises(ValueError, match="unknown option"):
        FormatOptions.parse({"delimter": ";"})


def test_csv_with_column_mapping(shared: Path) -> None:
    path = shared / "news_de/10kgnad_dev.csv"
    opts = {"formats": {"10kgnad*": {"delimiter": ";", "quotechar": "'", "header": "no",
                                     "columns": "section,body"}}}
    got = records(path, **opts)
    with path.open(encoding="utf-8", newline="") as fh:  # the file read independently
        rows = list(csv.reader(fh, delimiter=";", quotechar="'"))
    assert len(got) == len(rows) == 291 and all(isinstance(r, RawRecord) for r in got)
    first, last = got[0], got[-1]
    assert isinstance(first, RawRecord) and first.fields is not None
    assert (first.fields.section, first.locator) == (rows[0][0], "row 1")
    assert first.fields.body == " ".join(rows[0][1].split())
    assert isinstance(last, RawRecord) and last.fields is not None
    assert last.fields.section == rows[-1][0] and last.locator == "row 291"


def test_csv_without_header_or_mapping_is_one_clear_reject(shared: Path) -> None:
    (only,) = records(shared / "news_de/10kgnad_dev.csv")
    assert isinstance(only, Reject) and only.reason_code == "unmapped_columns"
    assert "columns" in only.reason


def test_csv_header_is_mapped_and_bad_rows_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text('headline,published_at,body\n"Eins","2023-01-30","Erster Text."\n'
                    '"Zwei","2023-01-31"\n"Drei","2023-02-01","Dritter, mit Komma."\n',
                    encoding="utf-8")
    got = records(path)
    assert [r.locator for r in got] == ["row 1", "row 2", "row 3"]
    assert isinstance(got[1], Reject) and got[1].reason_code == "bad_row"
    third = got[2]
    assert isinstance(third, RawRecord) and third.fields is not None
    assert third.fields.body == "Dritter, mit Komma." and third.fields.title == "Drei"


def test_json_array_and_wrapped_lists(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps({"articles": [{"text": "A body."}, {"title": "no body"}, 7]}),
                    encoding="utf-8")
    got = records(path)
    assert [type(r).__name__ for r in got] == ["RawRecord", "Reject", "Reject"]
    assert [r.locator for r in got] == ["item 1", "item 2", "item 3"]
    assert {r.reason_code for r in got if isinstance(r, Reject)} == {"no_body", "not_an_object"}


def test_blank_jsonl_is_reported_not_silently_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n   \n", encoding="utf-8")
    (only,) = records(path)
    assert isinstance(only, Reject) and only.reason_code in {"no_records", "empty_file"}


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def test_nested_archives_are_walked_as_streams_with_member_paths(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep/a.txt", "Titel A\n\nText A mit genug Wörtern.\n")
        zf.writestr("deep/b.jsonl.gz", gzip.compress(b'{"text": "B1"}\n{"text": "B2"}\n'))
    path = tmp_path / "bundle.tar.xz"
    path.write_bytes(_tar({"x/inner.zip": inner.getvalue(),
                           "y/c.txt.bz2": bz2.compress(b"Titel C\n\nText C.\n")}))
    with path.open("rb") as fh:
        leaves = [(leaf.member, leaf.name) for leaf in walk(path.name, fh, 1 << 20)]
    assert leaves == [("x/inner.zip/deep/a.txt", "a.txt"),
                      ("x/inner.zip/deep/b.jsonl.gz", "b.jsonl"),
                      ("y/c.txt.bz2", "c.txt")]
    got = records(path)
    assert [(r.member, r.locator, r.format) for r in got] == [
        ("x/inner.zip/deep/a.txt", "file", "text"),
        ("x/inner.zip/deep/b.jsonl.gz", "line 1", "jsonl"),
        ("x/inner.zip/deep/b.jsonl.gz", "line 2", "jsonl"),
        ("y/c.txt.bz2", "file", "text")]


def test_truncated_archive_keeps_what_was_read(tmp_path: Path) -> None:
    lines = b"".join(json.dumps({"text": f"Artikel {i} " * 40}).encode() + b"\n"
                     for i in range(50))
    whole = gzip.compress(lines, mtime=0)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    got = records(path)
    loaded = [r for r in got if isinstance(r, RawRecord)]
    (broken,) = [r for r in got if isinstance(r, Reject)]
    assert broken.reason_code == "truncated_archive"
    assert broken.locator == f"after record {len(loaded)}" and 0 < len(loaded) < 50
    assert [r.locator for r in loaded] == [f"line {i}" for i in range(1, len(loaded) + 1)]


def test_broken_member_does_not_stop_the_rest_of_the_archive(tmp_path: Path) -> None:
    good = b"Titel\n\nEin Text.\n"
    path = tmp_path / "mixed.tar.xz"
    path.write_bytes(_tar({"a.txt.gz": gzip.compress(good)[:15], "b.txt": good}))
    got = records(path)
    assert [(type(r).__name__, r.member) for r in got] == [
        ("Reject", "a.txt.gz"), ("RawRecord", "b.txt")]


def test_memory_is_bounded_by_the_record_limit(tmp_path: Path) -> None:
    """A 12 MB line in a gzip stream is rejected without being held whole."""
    path = tmp_path / "big.jsonl.gz"
    with gzip.open(path, "wb") as gz:
        gz.write(b'{"text": "ok"}\n{"text": "' + b"x" * 12_000_000 + b'"}\n{"text": "ok2"}\n')
    got = records(path, max_record_bytes=1_000_000)
    assert [(type(r).__name__, r.locator) for r in got] == [
        ("RawRecord", "line 1"), ("Reject", "line 2"), ("RawRecord", "line 3")]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(reader=st.sampled_from(sorted(READERS)), data=st.one_of(
    st.binary(max_size=2000),
    st.sampled_from(sorted(p.name for p in MIXED.rglob("*") if p.is_file())).flatmap(
        lambda name: st.tuples(st.just(name), st.integers(0, 4000), st.binary(max_size=30))
    ).map(lambda t: _mutated(*t)),
))
def test_every_reader_survives_random_and_mutated_bytes(tmp_path: Path, reader: str,
                                                         data: bytes) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    opts = {"formats": {"*": {"format": reader}}, "max_record_bytes": 50_000}
    got = records(path, **opts)
    assert got, "every file yields at least one record or reject"
    outcome: Counter[str] = Counter()
    for rec in got:
        if isinstance(rec, Reject):
            assert rec.reason and rec.reason_code
            outcome["rejected"] += 1
            continue
        row = build_article(rec, "prop")
        outcome["rejected" if isinstance(row, Reject) else "loaded"] += 1
    assert outcome["loaded"] + outcome["rejected"] == len(got)


def _mutated(name: str, cut: int, junk: bytes) -> bytes:
    data = next(p for p in MIXED.rglob(name) if p.is_file()).read_bytes()
    pos = cut % (len(data) + 1)
    return data[:pos] + junk + data[pos + len(junk):]


def test_line_formats_record_each_line_encoding(tmp_path: Path) -> None:
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"text": "Grüße aus Köln"}\n'.encode("cp1252"))
    wide = tmp_path / "wide.csv"
    wide.write_text('title,text\n"Zwei","Text mit ""Anführung""\nund zweiter Zeile"\n',
                    encoding="utf-16")
    (rec,) = records(latin)
    assert isinstance(rec, RawRecord) and rec.encoding == "cp1252" and rec.text == "Grüße aus Köln"
    (row,) = records(wide)
    assert isinstance(row, RawRecord) and row.encoding == "utf-16" and row.fields is not None
    assert row.fields.body == 'Text mit "Anführung"\nund zweiter Zeile'


def test_listing_skips_ignored_names_and_sorts_by_path_parts(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("b.txt", "a-b.txt", "a/b.txt", "a/c/d.txt", "README.md", "x/LICENSE",
                 ".git/config", "_tmp/e.txt", "day.sha256", "f.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    with caplog.at_level("INFO", logger="pipeline.ingest.readers"):
        listed = list_input_files(tmp_path)
    # Path order compares folder by folder: "a/..." comes before "a-b.txt" ('/' > '-' as text).
    assert [f.relative for f in listed] == ["a/b.txt", "a/c/d.txt", "a-b.txt", "b.txt",
                                            "f.json"]
    assert all(f.path == tmp_path / f.relative for f in listed)
    ignored = {r.getMessage().split()[1] for r in caplog.records if "ignoring" in r.getMessage()}
    assert ignored == {"README.md", "x/LICENSE", ".git/config", "_tmp/e.txt", "day.sha256"}
    assert list_input_files(tmp_path / "b.txt") == [InputFile(tmp_path / "b.txt", "b.txt")]
