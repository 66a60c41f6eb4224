"""A re-run honours changed settings: what shaped a file's rows (reading options, size limits,
code version; the NER model) is part of what makes it unchanged. Files the change does not
concern are still carried over; a new model re-enriches carried-over articles without re-reading
their files."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline import stages
from pipeline.ingest import readers
from pipeline.settings import Settings
from tests.conftest import SAMPLES

DAY = date(2023, 2, 1)
SEED = (SAMPLES / "2023-01-31" / "000_5fa03b91928cf31a.txt").read_text(encoding="utf-8")


def _landing(root: Path) -> Path:
    """The samples of 2023-02-01 plus a header-less CSV and one large dump."""
    shutil.copytree(SAMPLES / "2023-02-01", root)
    body = SEED.split("\n\n", 1)[1].replace("\n", " ").replace(";", ",")
    (root / "feed.csv").write_text(
        f"Meldung eins;{body}\nMeldung zwei;Zweiter Text. {body}\n", encoding="utf-8")
    (root / "big.txt").write_text(SEED + "\n\n" + "Noch ein langer Absatz. " * 400,
                                  encoding="utf-8")
    return root


def _run(root: Path, wh: Path, **extra: Any) -> duckdb.DuckDBPyConnection:
    s = Settings.from_mapping({"warehouse": wh, "ner_models": {"de": "none"},
                               "quality_gate": False, **extra})
    result = stages.run_batch(readers.list_input_files(root), DAY, s)
    return duckdb.connect(str(result.catalog), read_only=True)


def _status(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT source_file, status FROM manifest m JOIN runs r "
                            "USING (run_id) WHERE r.is_current").fetchall())


def _duplicated(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Files with a duplicate reject and the files they copy: re-read on every run."""
    rows = con.execute("SELECT source_file, reason FROM rejects WHERE reason_code = "
                       "'duplicate'").fetchall()
    return {f for f, _ in rows} | {r.split("duplicate of ", 1)[1].split(" ", 1)[0]
                                   for _, r in rows}


def _rejects(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT source_file, reason_code FROM rejects").fetchall())


def test_a_mapping_added_for_a_rejected_csv_reads_it_again(tmp_path: Path) -> None:
    root = _landing(tmp_path / "in")
    con = _run(root, tmp_path / "wh")
    assert _rejects(con)["feed.csv"] == "unmapped_columns"
    con.close()
    con = _run(root, tmp_path / "wh",
               formats={"*.csv": {"columns": "title,body", "header": "no"}})
    status = _status(con)
    assert status["feed.csv"] == "reread"
    assert {f for f, s in status.items() if s != "unchanged"} <= {"feed.csv", *_duplicated(con)}
    assert "feed.csv" not in _rejects(con)
    assert sorted(t for (t,) in con.execute(
        "SELECT title FROM articles WHERE source_file = 'feed.csv'").fetchall()) == [
        "Meldung eins", "Meldung zwei"]
    con.close()


def test_a_raised_size_limit_reads_a_rejected_file_again(tmp_path: Path) -> None:
    root = _landing(tmp_path / "in")
    size = (root / "big.txt").stat().st_size
    con = _run(root, tmp_path / "wh", max_record_bytes=size - 1)
    assert _rejects(con)["big.txt"] == "too_large"
    con.close()
    con = _run(root, tmp_path / "wh", max_record_bytes=size + 1)
    assert "big.txt" not in _rejects(con)
    assert con.execute("SELECT count(*) FROM articles WHERE source_file = 'big.txt'"
                       ).fetchone() == (1,)
    assert _status(con)["big.txt"] == "reread"
    con.close()


def test_a_forced_format_reads_the_matching_files_again(tmp_path: Path) -> None:
    root = _landing(tmp_path / "in")
    (root / "notes.dat").write_text(json.dumps({"title": "Als JSON", "text": SEED}) + "\n",
                                    encoding="utf-8")
    con = _run(root, tmp_path / "wh")
    assert con.execute("SELECT format FROM articles WHERE source_file = 'notes.dat'"
                       ).fetchone() == ("jsonl",)  # detected by its content
    con.close()
    con = _run(root, tmp_path / "wh", formats={"*.dat": {"format": "text"}})
    assert con.execute("SELECT format FROM articles WHERE source_file = 'notes.dat'"
                       ).fetchone() == ("text",)
    status = _status(con)
    assert status["notes.dat"] == "reread"
    assert status["feed.csv"] == status["000_1e157fb70ea55bd2.txt"] == "unchanged"
    con.close()


def _model(tiny_ner: Path, where: Path, version: str, extra: list[dict[str, Any]]) -> Path:
    """A copy of the tiny ruler pipeline with another version and more patterns."""
    import spacy

    nlp = spacy.load(tiny_ner)
    nlp.meta["version"] = version
    nlp.get_pipe("entity_ruler").add_patterns(extra)
    nlp.to_disk(where)
    return where


@pytest.mark.slow
def test_a_new_model_re_enriches_carried_over_articles_without_re_reading(
        tmp_path: Path, tiny_ner: Path) -> None:
    root = tmp_path / "in"
    shutil.copytree(SAMPLES / "2023-02-01", root)
    wh = tmp_path / "wh"
    s = {"warehouse": wh, "ner_processes": 1, "quality_gate": False}
    v1 = _model(tiny_ner, tmp_path / "v1", "0.0.1", [])
    first = stages.run_batch(readers.list_input_files(root), DAY,
                             Settings.from_mapping({**s, "ner_models": {"de": str(v1)}}))
    con = duckdb.connect(str(first.catalog), read_only=True)
    before = con.execute("SELECT count(*) FROM entities WHERE text = 'Brocken'").fetchone()
    assert before == (0,)
    models = {m for (m,) in con.execute("SELECT DISTINCT ner_model FROM articles "
                                        "WHERE language = 'de'").fetchall()}
    assert models == {"de_tiny_ruler-0.0.1"}
    con.close()
    v2 = _model(tiny_ner, tmp_path / "v2", "0.0.2", [{"label": "PER", "pattern": "Brocken"}])
    second = stages.run_batch(readers.list_input_files(root), DAY,
                              Settings.from_mapping({**s, "ner_models": {"de": str(v2)}}))
    con = duckdb.connect(str(second.catalog), read_only=True)
    status = _status(con)  # not re-read (files with duplicates always are)
    assert {f for f, s in status.items() if s != "unchanged"} <= _duplicated(con)
    assert list(status.values()).count("unchanged") >= 5
    assert {m for (m,) in con.execute("SELECT DISTINCT ner_model FROM articles "
                                      "WHERE language = 'de'").fetchall()} == {
        "de_tiny_ruler-0.0.2"}
    assert {m for (m,) in con.execute("SELECT DISTINCT model FROM entities").fetchall()} == {
        "de_tiny_ruler-0.0.2"}
    found = con.execute("SELECT count(*) FROM entities WHERE text = 'Brocken'").fetchone()
    assert found is not None and found[0] > 0
    ids = con.execute("SELECT count(*), count(DISTINCT article_id) FROM articles").fetchone()
    assert ids is not None and ids[0] == ids[1]
    con.close()


@pytest.mark.slow
def test_backfill_re_enriches_days_of_an_older_model_and_skips_current_ones(
        tmp_path: Path, tiny_ner: Path) -> None:
    """The route to re-enrich an archive after a model upgrade: a backfill over it runs the
    days whose articles another model enriched (carrying their files over, not re-reading
    them) and skips the days already enriched by the configured model."""
    from pipeline.batch.backfill import backfill

    s = {"warehouse": tmp_path / "wh", "ner_processes": 1, "parse_processes": 1,
         "quality_gate": False}
    v1 = _model(tiny_ner, tmp_path / "v1", "0.0.1", [])
    v2 = _model(tiny_ner, tmp_path / "v2", "0.0.2", [{"label": "PER", "pattern": "Brocken"}])

    def run(model: Path) -> list[str]:
        settings = Settings.from_mapping({**s, "ner_models": {"de": str(model)}})
        return [r.status for r in backfill(SAMPLES, DAY, DAY, settings)]

    assert run(v1) == ["loaded"]
    assert run(v1) == ["skipped"]
    assert run(v2) == ["loaded"]  # the model changed: enriched again
    con = duckdb.connect(str(tmp_path / "wh" / "news.duckdb"), read_only=True)
    assert {m for (m,) in con.execute("SELECT DISTINCT ner_model FROM articles "
                                      "WHERE language = 'de'").fetchall()} == {
        "de_tiny_ruler-0.0.2"}
    status = _status(con)
    assert {f for f, st in status.items() if st != "unchanged"} <= _duplicated(con)
    con.close()
    assert run(v2) == ["skipped"]
