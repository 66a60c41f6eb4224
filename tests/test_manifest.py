"""Landing manifest: unchanged files are carried over, changed ones replaced, removed reported."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb

from pipeline import stages
from pipeline.ingest import readers
from pipeline.settings import Settings
from tests.conftest import SAMPLES

DAY = date(2023, 1, 31)


def state(catalog: Path) -> dict[str, object]:
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        return {
            "articles": con.execute("SELECT source_file, article_id, title, body FROM articles "
                                    "ORDER BY 1").fetchall(),
            "entities": con.execute("SELECT article_id, start_char, end_char, label FROM "
                                    "entities ORDER BY 1, 2").fetchall(),
            "manifest": con.execute("SELECT source_file, status FROM manifest ORDER BY 1"
                                    ).fetchall(),
            "run": con.execute("SELECT input_files, files_unchanged, files_removed, "
                               "records_read, articles_loaded, records_rejected FROM runs "
                               "WHERE is_current").fetchall(),
        }
    finally:
        con.close()


def test_rerun_carries_unchanged_files_and_replaces_changed_ones(tmp_path: Path,
                                                                  tiny_ner: Path) -> None:
    inbox = tmp_path / "in"
    shutil.copytree(SAMPLES / "2023-01-31", inbox)
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh",
                                      "ner_models": {"de": str(tiny_ner)}})

    def run() -> dict[str, object]:
        return state(stages.run_batch(readers.list_input_files(inbox), DAY, settings).catalog)

    first = run()
    assert {s for _, s in first["manifest"]} == {"new"}  # type: ignore[attr-defined]
    again = run()
    assert again["articles"] == first["articles"] and again["entities"] == first["entities"]
    assert {s for _, s in again["manifest"]} == {"unchanged"}  # type: ignore[attr-defined]
    assert again["run"] == [(5, 5, 0, 5, 5, 0)]

    (inbox / "bbc/tech/020.txt").write_text("Neuer Titel\n\nGanz neuer Text über Seoul.\n",
                                            encoding="utf-8")
    (inbox / "bbc/business/001.txt").unlink()
    (inbox / "extra.txt").write_text("Zusatz\n\nEin weiterer Artikel über Südkorea.\n",
                                     encoding="utf-8")
    third = run()
    statuses = dict(third["manifest"])  # type: ignore[arg-type]
    assert statuses == {"000_5fa03b91928cf31a.txt": "unchanged",
                        "bbc/business/001.txt": "removed",
                        "bbc/politics/010.txt": "unchanged", "bbc/sport/199.txt": "unchanged",
                        "bbc/tech/020.txt": "changed", "extra.txt": "new"}
    files = [row[0] for row in third["articles"]]  # type: ignore[attr-defined]
    assert "bbc/business/001.txt" not in files and "extra.txt" in files
    titles = {row[0]: row[2] for row in third["articles"]}  # type: ignore[attr-defined]
    assert titles["bbc/tech/020.txt"] == "Neuer Titel"
    seed_entities = [e for e in first["entities"] if e in third["entities"]]  # type: ignore
    assert seed_entities == first["entities"]  # the seed's entities were carried, not lost
    assert third["run"] == [(5, 3, 1, 5, 5, 0)]
