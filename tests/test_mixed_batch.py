"""Acceptance (issue 4): one batch over a folder holding every format, archives and broken files.

The folder is tests/fixtures/mixed (built from ../shared/data by build_mixed.py); what each file
must yield is declared next to it in mixed_expected.json.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline import stages
from pipeline.ingest import readers
from pipeline.settings import Settings
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"
MIXED = FIXTURES / "mixed"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (FIXTURES / "mixed_expected.json").read_text(encoding="utf-8"))
DAY = date(2023, 1, 31)
SETTINGS = {
    "max_record_bytes": 250_000,
    "ner_models": {"de": "none", "en": "none"},
    "formats": {"10kgnad*.csv": {"delimiter": ";", "quotechar": "'", "header": "no",
                                 "columns": "section,body"}},
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    wh = tmp_path_factory.mktemp("wh")
    settings = Settings.from_mapping({**SETTINGS, "warehouse": wh, "shard_files": 7})
    result = stages.run_batch(readers.list_input_files(MIXED), DAY, settings)
    return duckdb.connect(str(result.catalog), read_only=True)


def query(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def complete_lines_before_cut(path: Path) -> int:
    """JSON lines fully recoverable from a truncated gzip file (computed independently)."""
    data = zlib.decompressobj(wbits=31).decompress(path.read_bytes())
    return data.count(b"\n")


def test_counts_reconcile(warehouse: duckdb.DuckDBPyConnection) -> None:
    (run,) = query(warehouse, "SELECT * FROM runs")
    assert run["input_files"] == len(EXPECTED) == len(list(p for p in MIXED.rglob("*")
                                                          if p.is_file()))
    assert run["records_read"] == run["articles_loaded"] + run["records_rejected"]
    (n_articles,) = warehouse.execute("SELECT count(*) FROM articles").fetchone() or (0,)
    (n_rejects,) = warehouse.execute("SELECT count(*) FROM rejects").fetchone() or (0,)
    assert (n_articles, n_rejects) == (run["articles_loaded"], run["records_rejected"])


def test_every_file_yields_what_it_should(warehouse: duckdb.DuckDBPyConnection) -> None:
    loaded = Counter(r["source_file"] for r in query(warehouse, "SELECT source_file FROM articles"))
    rejected: dict[str, Counter[str]] = {}
    for r in query(warehouse, "SELECT source_file, reason_code FROM rejects"):
        rejected.setdefault(r["source_file"], Counter())[r["reason_code"]] += 1
    for name, expect in EXPECTED.items():
        want_loaded = expect.get("loaded", 0)
        if want_loaded == "complete lines before the cut":
            want_loaded = complete_lines_before_cut(MIXED / name)
            assert want_loaded > 0
        assert loaded.get(name, 0) == want_loaded, name
        assert dict(rejected.get(name, {})) == expect.get("rejects", {}), name


def test_formats_layouts_and_encodings(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = query(warehouse, "SELECT source_file, format, layout, encoding FROM articles")
    by_file: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_file.setdefault(row["source_file"], []).append(row)
    for name, expect in EXPECTED.items():
        for key in ("format", "layout", "encoding"):
            if key in expect and expect.get("loaded"):
                assert {r[key] for r in by_file[name]} == {expect[key]}, (name, key)
    formats = {r["format"] for r in rows}
    assert formats == {"text", "json", "jsonl", "csv", "html", "jsonfeed", "rss", "atom", "warc"}


def test_lineage_names_file_member_and_place(warehouse: duckdb.DuckDBPyConnection) -> None:
    members = query(warehouse, "SELECT member, locator, format FROM articles "
                               "WHERE source_file = 'archive.tar.gz' ORDER BY member, locator")
    assert [(m["member"], m["locator"]) for m in members] == [
        ("dumps/a.txt", "file"), ("dumps/b.jsonl.bz2", "line 1"), ("dumps/b.jsonl.bz2", "line 2"),
        ("dumps/nested.zip/c.txt", "file"), ("dumps/nested.zip/d.txt.xz", "file")]
    assert set(EXPECTED["archive.tar.gz"]["members"]) == {m["member"] for m in members}
    warc = query(warehouse, "SELECT url, fetched_at, locator, title FROM articles "
                            "WHERE format = 'warc' ORDER BY url")
    assert [w["url"] for w in warc] == [f"https://example.de/fixture/page-{i}.html"
                                        for i in range(2)]
    assert all(w["locator"].startswith("offset ") and w["fetched_at"] is not None for w in warc)
    assert str(warc[0]["fetched_at"])[:10] == "2023-01-30"
    jsonl = query(warehouse, "SELECT locator FROM rejects WHERE source_file = 'smartdata.jsonl' "
                             "ORDER BY locator")
    assert [r["locator"] for r in jsonl] == ["line 3", "line 4", "line 5", "line 7"]


def test_reject_reasons_are_readable(warehouse: duckdb.DuckDBPyConnection) -> None:
    rejects = {(r["source_file"], r["reason_code"]): r for r in query(
        warehouse, "SELECT * FROM rejects")}
    assert "invalid JSON" in rejects[("smartdata.jsonl", "invalid_json")]["reason"]
    assert "longer than the record limit" in rejects[("smartdata.jsonl", "too_large")]["reason"]
    assert "not an HTML page" in rejects[("crawl.warc.gz", "not_html")]["reason"]
    assert "no extractable main text" in rejects[("pages/no_text.html", "no_text")]["reason"]
    assert "ends early" in rejects[("broken/truncated.jsonl.gz", "truncated_archive")]["reason"]
    assert "duplicate of" in rejects[("broken/copy_of_seed.txt", "duplicate")]["reason"]
    assert all(r["reason"] and r["reason_code"] for r in rejects.values())
    cut = rejects[("broken/truncated.jsonl.gz", "truncated_archive")]
    assert cut["locator"] == f"after record {complete_lines_before_cut(MIXED / cut['source_file'])}"


def test_usable_articles_load_with_warnings(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = {(r["source_file"], r["locator"]): r for r in query(
        warehouse, "SELECT source_file, locator, warnings, body, published_source, "
                   "published_flag FROM articles")}
    for name, expect in EXPECTED.items():
        for locator, text in (expect.get("warnings") or {}).items():
            row = rows[(name, locator)]
            assert any(text in w for w in row["warnings"]), (name, row["warnings"])
            if "date" in text:  # no usable date: the batch date, and it says so
                assert row["published_source"] == "batch"
                assert "batch_fallback" in row["published_flag"]
    assert "München" in rows[("broken/mojibake.txt", "file")]["body"]
    assert "Ã" not in rows[("broken/mojibake.txt", "file")]["body"]


def test_feed_and_csv_fields(warehouse: duckdb.DuckDBPyConnection) -> None:
    rss = query(warehouse, "SELECT title, teaser, url, site_name, published_at, "
                           "published_precision FROM articles WHERE format = 'rss' ORDER BY url")
    assert rss[0]["site_name"] == "BBC News (excerpt)" and rss[0]["teaser"]
    assert str(rss[0]["published_at"]) .startswith("2005-03-01 09:30")
    assert rss[0]["published_precision"] == "second"
    npr = query(warehouse, "SELECT authors, source_id FROM articles WHERE format = 'jsonfeed'")
    assert all(r["authors"] and r["source_id"].startswith("Technology#") for r in npr)
    csv_rows = query(warehouse, "SELECT section FROM articles WHERE format = 'csv'")
    assert all(r["section"] for r in csv_rows)


def test_fixture_truncation_is_real() -> None:
    with pytest.raises(EOFError), gzip.open(MIXED / "broken/truncated.jsonl.gz") as fh:
        fh.read()
