"""Enrichment results are keyed by content and model version: known content skips the model."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline import stages
from pipeline.enrich import ner as enrich
from pipeline.ingest import readers
from pipeline.settings import Settings
from tests.conftest import SAMPLES

COLUMNS = "text, label, norm, start_char, end_char, sentence_index, model"


def entities(settings: Settings, batch: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.warehouse / "news.duckdb"), read_only=True)
    try:
        return con.execute(
            f"SELECT a.content_hash, {COLUMNS} FROM entities JOIN articles AS a "
            "USING (article_id, batch_date) WHERE batch_date = ? ORDER BY ALL",
            [date.fromisoformat(batch)]).fetchall()
    finally:
        con.close()


def ner_models(settings: Settings) -> dict[str, Any]:
    con = duckdb.connect(str(settings.warehouse / "news.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT batch_date::VARCHAR || '/' || language, "
                                "string_agg(DISTINCT coalesce(ner_model, '-')) FROM articles "
                                "GROUP BY 1").fetchall())
    finally:
        con.close()


def run(settings: Settings, folder: Path, day: str) -> None:
    stages.run_batch(readers.list_input_files(folder), date.fromisoformat(day), settings)


def test_known_content_reuses_entities_without_loading_the_model(
        tmp_path: Path, tiny_ner: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "tiny_de"
    shutil.copytree(tiny_ner, model)
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh",
                                      "ner_models": {"de": str(model), "en": "none"}})
    run(settings, SAMPLES / "2023-01-31", "2023-01-31")
    first = entities(settings, "2023-01-31")
    assert len(first) > 10

    # The same articles under other file names, delivered on another day.
    again = tmp_path / "again"
    shutil.copytree(SAMPLES / "2023-01-31", again)
    (again / "000_5fa03b91928cf31a.txt").rename(again / "123_renamed.txt")

    def no_model(location: str) -> Any:
        raise AssertionError(f"the model {location} was loaded")

    enrich.load_pipeline.cache_clear()
    monkeypatch.setattr(enrich, "load_pipeline", no_model)
    run(settings, again, "2023-03-01")
    assert entities(settings, "2023-03-01") == first
    models = ner_models(settings)
    assert models["2023-03-01/de"] == models["2023-01-31/de"] == "de_tiny_ruler-0.0.1"
    assert models["2023-03-01/en"] == "-"  # no pipeline for English: recorded as none

    # Another model version: nothing is reused, the model runs.
    meta = json.loads((model / "meta.json").read_text(encoding="utf-8"))
    (model / "meta.json").write_text(json.dumps({**meta, "version": "0.0.2"}), encoding="utf-8")
    monkeypatch.undo()
    enrich.load_pipeline.cache_clear()
    run(settings, again, "2023-03-02")
    assert {row[-1] for row in entities(settings, "2023-03-02")} == {"de_tiny_ruler-0.0.2"}
    assert ner_models(settings)["2023-03-02/de"] == "de_tiny_ruler-0.0.2"


def test_process_count_for_nlp_pipe() -> None:
    assert enrich.processes(2, documents=1000, batch_size=64) == 2
    assert enrich.processes(2, documents=100, batch_size=64) == 1  # too small to share
    assert enrich.processes(0, documents=1000, batch_size=64) >= 1
    assert enrich.processes(1, documents=10_000, batch_size=64) == 1


def test_two_processes_find_the_same_entities_as_one(tiny_ner: Path) -> None:
    from tests.conftest import SEED

    if not SEED.exists():
        pytest.skip(f"needs {SEED}")
    body = SEED.read_text(encoding="utf-8")
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    items = [(f"a{i}", "\n\n".join(paragraphs[i % len(paragraphs):] + paragraphs[:2]))
             for i in range(40)]
    one = [m for _, found in enrich.ner_stream(str(tiny_ner), items, 1, 8) for m in found]
    two = [m for _, found in enrich.ner_stream(str(tiny_ner), items, 2, 8) for m in found]
    assert one == two and len(one) > 40


def test_vocabulary_does_not_grow_with_the_texts_seen(tiny_ner: Path) -> None:
    """Each chunk runs in a spaCy memory zone: words seen once are forgotten afterwards, so a
    long batch does not grow the process by every new word (peak memory flat in N)."""
    from tests.conftest import SEED

    if not SEED.exists():
        pytest.skip(f"needs {SEED}")
    nlp = enrich.load_pipeline(str(tiny_ner))
    before = len(nlp.vocab.strings)
    body = SEED.read_text(encoding="utf-8")
    items = [(i, f"{body}\n\nWortneuschöpfung{i}x und Ortsname{i}heim sagte Frau Zeta{i}.")
             for i in range(50)]
    found = [m for _, ms in enrich.ner_stream(str(tiny_ner), items, 1, 8) for m in ms]
    assert found  # the texts were processed
    assert len(nlp.vocab.strings) == before
