"""All 2,225 BBC files in one batch: every file is loaded or rejected with a reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline import stages
from pipeline.ingest import readers
from pipeline.settings import Settings


@pytest.mark.slow
def test_whole_bbc_corpus_reconciles(shared: Path, tmp_path: Path) -> None:
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh"})
    files = readers.list_input_files(shared / "news_en/bbc")
    assert len(files) == 2225  # README.TXT is ignored, not loaded as an article
    result = stages.run_batch(files, date(2005, 6, 30), settings)
    con = duckdb.connect(str(result.catalog), read_only=True)
    (read, loaded, rejected), = con.execute(
        "SELECT records_read, articles_loaded, records_rejected FROM runs").fetchall()
    assert read == 2225 and loaded + rejected == 2225
    assert con.execute("SELECT count(*) FROM articles").fetchall() == [(loaded,)]
    reasons = dict(con.execute("SELECT reason_code, count(*) FROM rejects GROUP BY 1").fetchall())
    assert sum(reasons.values()) == rejected
    assert set(reasons) <= {"duplicate"}  # the corpus repeats some stories verbatim
    dup_sources = con.execute(
        "SELECT r.source_file, a.source_file FROM rejects r JOIN articles a "
        "ON r.reason LIKE '%' || a.article_id || '%' LIMIT 5").fetchall()
    for rejected_file, kept_file in dup_sources:
        assert (shared / "news_en/bbc" / rejected_file).read_bytes().strip() \
            == (shared / "news_en/bbc" / kept_file).read_bytes().strip()
    (title, body, encoding, language), = con.execute(
        "SELECT title, body, encoding, language FROM articles "
        "WHERE source_file = 'sport/199.txt'").fetchall()
    assert title == "Chelsea sack Mutu"
    assert "a £15.8m signing from Parma" in body and "\ufffd" not in body
    assert (encoding, language) == ("cp1252", "en")
    assert con.execute("SELECT count(*) FROM articles WHERE language <> 'en' "
                       "OR title IS NULL").fetchall() == [(0,)]
