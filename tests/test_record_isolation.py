"""No record can stop a batch: each cause found by the hostile test is fixed at its root, and a
step that still raises on one record makes that record an ``internal_error`` reject."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import stages
from pipeline.ingest import readers
from pipeline.settings import Settings
from pipeline.transform import dates, timex
from pipeline.warehouse import quality
from tests.conftest import SAMPLES

DAY = date(2023, 1, 31)
SEED = (SAMPLES / "2023-01-31" / "000_5fa03b91928cf31a.txt").read_text(encoding="utf-8")


def _run(root: Path, wh: Path, **extra: Any) -> tuple[duckdb.DuckDBPyConnection, dict[str, Any]]:
    """``newsetl run`` of ``root`` (NER off); the catalog and the run's counts."""
    s = Settings.from_mapping({"warehouse": wh, "ner_models": {"de": "none"}, **extra})
    result = stages.run_batch(readers.list_input_files(root), DAY, s)
    con = duckdb.connect(str(result.catalog), read_only=True)
    row = con.execute("SELECT records_read, articles_loaded, records_rejected FROM runs "
                      "WHERE is_current").fetchone()
    assert row is not None
    counts = dict(zip(("read", "loaded", "rejected"), row, strict=True))
    assert counts["read"] == counts["loaded"] + counts["rejected"]
    return con, counts


def _with_sentence(sentence: str) -> str:
    """The seed article with one more sentence in its second paragraph."""
    head, rest = SEED.split("\n\n", 1)
    return f"{head}\n\n{sentence}. {rest}"


EXTREME_RELATIVE_TIMES = ["vor 8000 Jahren", "vor 2023 Jahren", "vor 30000 Monaten",
                          "9000 years ago", "99999999 days ago", "vor 99999999999 Tagen",
                          "vor 999999999 Wochen"]


@pytest.mark.parametrize("text", EXTREME_RELATIVE_TIMES)
def test_relative_times_out_of_range_stay_unresolved(text: str) -> None:
    [mention] = list(timex.find(f"Das war {text}.", date(2023, 1, 30), "day"))
    assert mention.value is None
    assert mention.note is not None and "unresolved" in mention.note


def test_plausible_relative_times_still_resolve() -> None:
    found = {m.text: m.value for m in timex.find(
        "Vor 3 Tagen, vor 900 Jahren und 2 weeks ago.", date(2023, 1, 30), "day")}
    assert found == {"Vor 3 Tagen": "2023-01-27", "vor 900 Jahren": "1123",
                     "2 weeks ago": "2023-W03"}


@given(n=st.integers(0, 10**15), unit=st.sampled_from(["Tagen", "Wochen", "Monaten", "Jahren"]),
       published=st.dates())
def test_no_relative_time_raises(n: int, unit: str, published: date) -> None:
    for precision in ("day", "month", "year"):
        for m in timex.find(f"vor {n} {unit}, nächstes Jahr, gestern, am Montag", published,
                            precision):
            assert m.value is not None or m.note


@pytest.mark.parametrize("text", ["2023-01-30T10:00+99:00", "30.01.2023 10.00 +9900",
                                  "2023-01-30T10:00+24:00", "2023-01-30T10:00-15:00",
                                  "2023-01-30T10:00+01:75", "Mon, 30 Jan 2023 10:00:00 +9900"])
def test_impossible_utc_offsets_make_the_date_unparseable(text: str) -> None:
    assert dates.parse_date(text) is None


def test_real_offsets_still_parse() -> None:
    parsed = dates.parse_date("2023-01-30T10:00+05:45")
    assert parsed is not None and parsed.utc() is not None
    assert parsed.utc().isoformat() == "2023-01-30T04:15:00+00:00"  # type: ignore[union-attr]


@given(hours=st.integers(0, 99), minutes=st.integers(0, 99), sign=st.sampled_from("+-"))
def test_no_offset_raises(hours: int, minutes: int, sign: str) -> None:
    for text in (f"2023-01-30T10:00{sign}{hours:02d}:{minutes:02d}",
                 f"30.01.2023 10.00 {sign}{hours:02d}{minutes:02d}"):
        parsed = dates.parse_date(text)
        assert (parsed is not None) == (hours * 60 + minutes <= 14 * 60 and minutes < 60)


def test_hostile_records_are_loaded_or_rejected_and_the_batch_publishes(tmp_path: Path) -> None:
    """Every cause of the hostile test in one batch: the run exits normally and reconciles."""
    root = tmp_path / "in"
    root.mkdir()
    for i, text in enumerate(EXTREME_RELATIVE_TIMES):
        (root / f"1{i:02d}_timex.txt").write_text(_with_sentence(f"Variante {i}: {text}"),
                                                  encoding="utf-8")
    dateline = SEED.split("\n\n", 1)[1]
    (root / "200_dateline.txt").write_text(
        f" date 2023-01 \nTeaser.\n\nBERLIN, 30.01.2023 10.00 +9900 - {dateline}",
        encoding="utf-8")
    body = SEED.split("\n\n", 1)[1]
    records = [
        {"title": "Offset", "text": body, "date": "2023-01-30T10:00+99:00",
         "url": "https://example.de/offset"},
        {"title": "Surrogate \ud800", "text": body.replace("Seoul", "Seoul \udc80", 1),
         "date": "2023-01-30", "url": "https://example.de/surrogate"},
        {"title": "Steuer\u0000zeichen \u001b[31mrot\u001b[0m \u0085",
         "text": body.replace("Seoul", "Seoul\u0000 \u001b[2J", 1), "date": "2023-01-30",
         "url": "https://example.de/control", "author": "A\u0007B"},
    ]
    (root / "300_feed.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n",
                                         encoding="utf-8")
    odd = os.fsdecode(b"400_bad\xff\xfename.txt")
    (root / odd).write_text(_with_sentence("Ein anderer Satz"), encoding="utf-8")
    con, counts = _run(root, tmp_path / "wh")
    assert counts == {"read": 12, "loaded": 12, "rejected": 0}
    rows = con.execute("SELECT source_file, title, body, warnings, published_local, authors "
                       "FROM articles ORDER BY source_file").fetchall()
    for source_file, title, body, _, _, authors in rows:
        for text in (source_file, title or "", body, *authors):
            assert not any((ord(c) < 32 and c not in "\t\n\r") or 0x7f <= ord(c) <= 0x9f
                           or 0xD800 <= ord(c) <= 0xDFFF for c in text), (source_file, text)
    by_title = {r[1]: r for r in rows}
    assert any("lone surrogate" in w for w in by_title["Surrogate \ufffd"][3])
    control = by_title["Steuerzeichen [31mrot[0m"]
    assert any("control character" in w for w in control[3])
    assert control[5] == ["AB"]
    assert any("unparseable date" in w for w in by_title["Offset"][3])
    assert "2023-01-31/400_bad\\xff\\xfename.txt".endswith(
        next(r[0] for r in rows if "bad" in r[0]))
    mentions = dict(con.execute("SELECT text, note FROM time_mentions").fetchall())
    assert all(mentions[t].startswith("unresolved") for t in EXTREME_RELATIVE_TIMES
               if t in mentions)
    con.close()


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("simulated bug")


def _files(root: Path, n: int) -> None:
    root.mkdir()
    for i in range(n):
        (root / f"{i:03d}_x.txt").write_text(_with_sentence(f"Satz Nummer {i} von {n}"),
                                             encoding="utf-8")


def test_a_bug_on_one_record_is_that_records_internal_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.transform import normalise

    real = normalise.detect_language

    def detect(text: str) -> Any:
        return _boom() if "Nummer 3 " in text else real(text)

    monkeypatch.setattr(normalise, "detect_language", detect)
    _files(tmp_path / "in", 200)
    con, counts = _run(tmp_path / "in", tmp_path / "wh")
    assert counts == {"read": 200, "loaded": 199, "rejected": 1}
    [(source_file, code, reason)] = con.execute(
        "SELECT source_file, reason_code, reason FROM rejects").fetchall()
    assert source_file == "003_x.txt" and code == "internal_error"
    assert reason.startswith("parse (transform.article._row) failed: RuntimeError: simulated bug")
    status = dict(con.execute("SELECT \"check\", status FROM quality_checks").fetchall())
    assert status["internal_error_share"] == "pass"  # 0.005 <= 0.01
    con.close()


def test_internal_errors_above_the_threshold_block_the_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.transform import normalise

    real = normalise.content_hash
    monkeypatch.setattr(normalise, "content_hash", lambda t, s, b: _boom() if "Nummer 1 " in b
                        or "Nummer 2 " in b else real(t, s, b))
    _files(tmp_path / "in", 20)
    with pytest.raises(quality.QualityGateError, match=r"internal_error_share 0\.1"):
        _run(tmp_path / "in", tmp_path / "wh")
    con, counts = _run(tmp_path / "in", tmp_path / "wh",
                       quality_override="internal_error_share")
    assert counts == {"read": 20, "loaded": 18, "rejected": 2}
    con.close()


def test_a_signature_failure_rejects_only_its_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.transform import neardup

    real = neardup.signatures
    monkeypatch.setattr(neardup, "signatures", lambda texts: _boom() if any(
        "Nummer 7 " in t for t in texts) else real(texts))
    _files(tmp_path / "in", 120)
    con, counts = _run(tmp_path / "in", tmp_path / "wh")
    assert counts == {"read": 120, "loaded": 119, "rejected": 1}
    [(source_file, reason)] = con.execute("SELECT source_file, reason FROM rejects "
                                          "WHERE reason_code = 'internal_error'").fetchall()
    assert source_file == "007_x.txt" and reason.startswith("serialise (")
    assert con.execute("SELECT count(*) FROM time_mentions WHERE article_id NOT IN "
                       "(SELECT article_id FROM articles)").fetchone() == (0,)
    con.close()


def test_a_ner_failure_rejects_only_its_article(tmp_path: Path, tiny_ner: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.enrich import ner as enrich

    real = enrich.mentions_of
    monkeypatch.setattr(enrich, "mentions_of", lambda doc: _boom() if "Nummer 5 " in doc.text
                        else real(doc))
    _files(tmp_path / "in", 120)
    s = Settings.from_mapping({"warehouse": tmp_path / "wh", "ner_models": {"de": str(tiny_ner)},
                               "ner_processes": 1})
    result = stages.run_batch(readers.list_input_files(tmp_path / "in"), DAY, s)
    con = duckdb.connect(str(result.catalog), read_only=True)
    assert con.execute("SELECT records_read, articles_loaded, records_rejected FROM runs"
                       ).fetchone() == (120, 119, 1)
    [(source_file, code, reason)] = con.execute(
        "SELECT source_file, reason_code, reason FROM rejects").fetchall()
    assert (source_file, code) == ("005_x.txt", "internal_error")
    assert reason.startswith("enrich (de_tiny_ruler-0.0.1) failed: RuntimeError")
    assert con.execute("SELECT count(DISTINCT article_id) FROM entities").fetchone() == (119,)
    assert con.execute("SELECT count(*) FROM time_mentions WHERE article_id NOT IN "
                       "(SELECT article_id FROM articles)").fetchone() == (0,)
    con.close()


def test_an_all_rejected_batch_cannot_replace_a_good_one(tmp_path: Path) -> None:
    _files(tmp_path / "in", 5)
    con, _ = _run(tmp_path / "in", tmp_path / "wh")
    con.close()
    for f in (tmp_path / "in").iterdir():
        f.write_text(" date 2023-01 \n", encoding="utf-8")  # a header, no body
    with pytest.raises(quality.QualityGateError, match=r"rejected_share 1\.0"):
        _run(tmp_path / "in", tmp_path / "wh", quality_thresholds={"empty_body_share": "1"})
    con = duckdb.connect(str(tmp_path / "wh" / "news.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (5,)
    con.close()


def test_query_output_escapes_control_characters() -> None:
    from pipeline.cli import format_rows

    out = format_rows(["title"], [("rot\x1b[31m\x00 \x9b2J\u2028x",)], "table")
    assert "\x1b" not in out and "\x00" not in out and "\x9b" not in out
    assert "rot\\x1b[31m\\x00 \\x9b2J\\u2028x" in out


def test_a_long_text_is_signed_block_by_block_with_the_same_signature() -> None:
    """A 4 MB record took 600 MB in one block of hashes; blocks give the same signature."""
    import numpy as np

    from pipeline.transform import neardup

    words = SEED.split()
    long_text = " ".join(words[i % len(words)] + str(i // len(words)) for i in range(30_000))
    texts = ["kurz", SEED, long_text, SEED[:200]]
    assert np.array_equal(neardup.signatures(texts),
                          np.stack([neardup.signature(t) for t in texts]))


def test_a_bug_on_one_line_of_a_file_rejects_that_line_and_reads_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read step: JSON Lines, CSV and feed items are records of one file; a bug on one
    must not cost the records after it."""
    from pipeline.ingest import feeds, structured

    real_map, real_html = structured.map_fields, feeds.html_to_text
    monkeypatch.setattr(structured, "map_fields", lambda obj, opts: _boom() if obj.get("title") ==
                        "ZWEIX" else real_map(obj, opts))
    monkeypatch.setattr(feeds, "html_to_text", lambda f: _boom() if f and "ZWEIX" in f
                        else real_html(f))
    body = SEED.split("\n\n", 1)[1].replace("\n", " ")
    root = tmp_path / "in"
    root.mkdir()
    (root / "a.jsonl").write_text("\n".join(json.dumps(
        {"title": t, "text": f"{t}: {body}", "url": f"https://example.de/{t}"})
        for t in ("eins", "ZWEIX", "drei")) + "\n", encoding="utf-8")
    items = "".join(f"<item><title>{t}</title><link>https://example.de/r{t}</link>"
                    f"<description>{t} {body}</description></item>" for t in ("eins", "ZWEIX"))
    (root / "b.rss").write_text(f'<?xml version="1.0"?><rss version="2.0"><channel>'
                                f"<title>F</title>{items}</channel></rss>", encoding="utf-8")
    con, counts = _run(root, tmp_path / "wh", quality_override="internal_error_share")
    assert counts == {"read": 5, "loaded": 3, "rejected": 2}
    assert sorted(con.execute("SELECT source_file, locator, reason_code, reason FROM rejects"
                              ).fetchall()) == [
        ("a.jsonl", "line 2", "internal_error",
         "read (jsonl record) failed: RuntimeError: simulated bug"),
        ("b.rss", "item 2", "internal_error",
         "read (rss item) failed: RuntimeError: simulated bug"),
    ]
    con.close()
