"""Enrichment: the configured per-language spaCy pipeline fills `entities` with exact offsets."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline import stages
from pipeline.enrich.ner import ModelNotFoundError, resolve_model
from pipeline.ingest import readers
from pipeline.settings import Settings
from tests.conftest import SAMPLES


def test_entities_point_into_their_field(tmp_path: Path, tiny_ner: Path) -> None:
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh",
                                      "ner_models": {"de": str(tiny_ner), "en": "none"}})
    result = stages.run_batch(readers.list_input_files(SAMPLES / "2023-01-31"),
                              date(2023, 1, 31), settings)
    con = duckdb.connect(str(result.catalog), read_only=True)
    mismatched = con.execute(
        "SELECT count(*) FROM entities e JOIN articles a USING (article_id, batch_date) "
        "WHERE substr(CASE e.field WHEN 'title' THEN a.title WHEN 'teaser' THEN a.teaser "
        "ELSE a.body END, e.start_char + 1, e.end_char - e.start_char) <> e.text"
    ).fetchall()
    assert mismatched == [(0,)]
    # The seed's teaser names Südkorea and NATO before its body does: headline entities count.
    fields = {(t, f) for t, f in con.execute("SELECT text, field FROM entities").fetchall()}
    assert {("Südkorea", "teaser"), ("Südkorea", "body"), ("NATO", "body")} <= fields
    found = dict(con.execute("SELECT text, min(label) FROM entities GROUP BY 1").fetchall())
    assert found["Jens Stoltenberg"] == "PER"
    assert found["Südkorea"] == "LOC"
    assert found["NATO"] == "ORG"
    langs = con.execute("SELECT DISTINCT a.language FROM entities e JOIN articles a "
                        "USING (article_id)").fetchall()
    assert langs == [("de",)]  # English articles: configured 'none'
    # Sentence index: the first sentence of the body names Stoltenberg; later ones too.
    first = con.execute("SELECT min(sentence_index), max(sentence_index) FROM entities "
                        "WHERE text = 'Stoltenberg' AND field = 'body'").fetchall()[0]
    assert first[0] >= 1 and first[1] > first[0]
    (found_runs,) = con.execute("SELECT entities_found FROM runs").fetchall()[0]
    assert found_runs == con.execute("SELECT count(*) FROM entities").fetchall()[0][0] > 10
    assert con.execute("SELECT DISTINCT model FROM entities").fetchall() == \
        [("de_tiny_ruler-0.0.1",)]


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh",
                                      "ner_models": {"de": "no_such_model"}})
    with pytest.raises(ModelNotFoundError, match="no_such_model"):
        stages.run_batch(readers.list_input_files(SAMPLES / "2023-02-02"), date(2023, 2, 2),
                         settings)


def test_model_spec_resolution(tmp_path: Path) -> None:
    (tmp_path / "de_news").mkdir()
    assert resolve_model("none", tmp_path) is None
    assert resolve_model("de_news", tmp_path) == str(tmp_path / "de_news")
    assert resolve_model("/abs/model", tmp_path) == "/abs/model"
    assert resolve_model("de_core_news_sm", tmp_path) == "de_core_news_sm"


def test_a_pipeline_folder_plugs_in_for_another_language(tmp_path: Path, tiny_ner: Path) -> None:
    """The route a user with spaCy's official pipelines takes (``ner_models`` en=<folder>),
    with a tiny English pipeline built here: BBC articles get entities, in title and body, with
    English norms, and ``ner_model`` names the pipeline."""
    import spacy

    nlp = spacy.blank("en")
    nlp.meta["name"], nlp.meta["version"] = "tiny_en", "0.0.1"
    nlp.add_pipe("entity_ruler").add_patterns([
        {"label": "ORG", "pattern": "Chelsea"}, {"label": "PER", "pattern": "Adrian Mutu"},
        {"label": "PER", "pattern": "Mutu"}, {"label": "ORG", "pattern": "Microsoft"},
        {"label": "ORG", "pattern": [{"LOWER": "the"}, {"TEXT": "US"}]},
        {"label": "LOC", "pattern": "Glasgow"}])
    nlp.to_disk(tmp_path / "tiny_en")
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh", "ner_models": {
        "de": str(tiny_ner), "en": str(tmp_path / "tiny_en")}, "quality_gate": False})
    result = stages.run_batch(readers.list_input_files(SAMPLES / "2023-01-31"),
                              date(2023, 1, 31), settings)
    con = duckdb.connect(str(result.catalog), read_only=True)
    rows = con.execute("SELECT e.text, e.norm, e.field, a.ner_model FROM entities e JOIN "
                       "articles a USING (article_id) WHERE a.language = 'en'").fetchall()
    con.close()
    assert {(t, n, f) for t, n, f, _ in rows} >= {
        ("Mutu", "Adrian Mutu", "title"), ("Adrian Mutu", "Adrian Mutu", "body"),
        ("Chelsea", "Chelsea", "title"), ("Microsoft", "Microsoft", "body")}
    assert {m for *_, m in rows} == {"en_tiny_en-0.0.1"}
