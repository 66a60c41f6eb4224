"""The shipped German NER pipeline: loads offline, finds real entities, passes the gate."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLES

MODEL = REPO / "models" / "de_news"
BASELINE = REPO / "training" / "ner" / "baseline.json"


@pytest.fixture(scope="module")
def nlp() -> object:
    import spacy

    import pipeline.enrich.nounfilter  # noqa: F401  (the pipeline's last component)

    return spacy.load(MODEL)


def test_meta_documents_sources_licence_and_scores() -> None:
    meta = json.loads((MODEL / "meta.json").read_text(encoding="utf-8"))
    assert meta["lang"] == "de" and meta["name"] == "news" and meta["version"]
    assert "NC" in meta["license"] or "non-commercial" in meta["license"]
    assert any("GermEval" in s["name"] and s["use"] == "evaluation only" for s in meta["sources"])
    scores = meta["germeval2014_dev"]["scores"]
    assert set(scores) == {"PER", "LOC", "ORG", "micro"}


def test_model_is_small() -> None:
    size = sum(p.stat().st_size for p in MODEL.rglob("*") if p.is_file())
    assert size < 20 * 2**20, f"{size / 2**20:.1f} MiB"  # 12 MB CNN + 6 MB static vectors


def test_entities_in_the_reference_article(nlp: object) -> None:
    from pipeline.ingest.encoding import decode
    from pipeline.transform.textdump import parse_text_dump

    text, _ = decode((SAMPLES / "2023-01-31" / "000_5fa03b91928cf31a.txt").read_bytes())
    doc = nlp(parse_text_dump(text).body)  # type: ignore[operator]
    found = {(e.text, e.label_) for e in doc.ents}
    assert {("Jens Stoltenberg", "PER"), ("Südkorea", "LOC"), ("Seoul", "LOC")} <= found
    assert ("NATO", "ORG") in found or ("NATO", "MISC") not in found
    labels = {label for _, label in found}
    assert labels <= {"PER", "LOC", "ORG", "MISC"}


SEED_NAMES = (
    "Südkorea", "Nordkorea", "NATO", "Kiew", "Jens", "Stoltenberg", "Ukraine", "Seoul", "Yoon",
    "Suk-yeol", "USA", "Polen", "Russland", "Deutschland", "Norwegen", "Japan", "KCNA", "Kim",
    "Tong-myong", "Asiatisch-pazifische", "Wagner", "Außenministerium", "Lloyd", "Austin",
    "Fumio", "Kishida", "Osten",
)
"""Every name in the reference article, annotated by hand (each a word of a PER/LOC/ORG/MISC
span): ``Nordkoreas Außenministerium`` is an organisation, ``fernen Osten`` a place."""


def test_no_common_noun_is_an_entity_in_the_reference_article(nlp: object) -> None:
    """Every capitalised entity of the seed's teaser and body holds one of its names (bounds may
    be loose: ``NATO-Generalsekretär`` passes); a span of common nouns (``Haubitzen``,
    ``Vorwürfe``, ``Munition``, ``Waffen``) fails."""
    from pipeline.ingest.encoding import decode
    from pipeline.transform.textdump import parse_text_dump

    text, _ = decode((SAMPLES / "2023-01-31" / "000_5fa03b91928cf31a.txt").read_bytes())
    article = parse_text_dump(text)
    names = [n.casefold() for n in SEED_NAMES]
    spans = [(e.text, e.label_) for field in (article.teaser, article.title, article.body)
             if field for e in nlp(field).ents]  # type: ignore[operator]
    assert len(spans) > 40
    # German nouns are capitalised: a lower-case span is an adjective of a name (CoNLL's MISC
    # `amerikanische`, GermEval's LOCderiv `südkoreanischen`), not a common noun
    not_names = [s for s in spans if s[0][:1].isupper()
                 and not any(n in s[0].casefold() for n in names)]
    assert not_names == []
    for noun in ("Haubitzen", "Vorwürfe", "Munition", "Waffen"):
        assert all(noun not in text for text, _ in spans), noun


@pytest.mark.slow
def test_evaluation_gate(shared: Path) -> None:
    """GermEval 2014 dev micro F1 must not fall below the stored baseline."""
    from training.ner.evaluate import evaluate

    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    result = evaluate(str(MODEL), shared / "ner/germeval2014/NER-de-dev.tsv", speed=False)
    micro = result["scores"]["micro"]["f1"]
    assert micro >= baseline["micro_f1"]["germeval2014_dev"] - 0.005, (micro, baseline)


@pytest.mark.slow
def test_english_model_finds_entities_in_every_bbc_politics_article(
        tmp_path: Path, shared: Path) -> None:
    """The shipped English pipeline on the 417 BBC politics articles: every article gets at
    least one entity, and a few real ones of 001.txt are found with their norms."""
    import duckdb

    from pipeline import stages
    from pipeline.ingest import readers
    from pipeline.settings import Settings

    s = Settings.from_mapping({"warehouse": tmp_path / "wh", "quality_gate": False})
    result = stages.run_batch(readers.list_input_files(shared / "news_en" / "bbc" / "politics"),
                              date(2005, 3, 1), s)
    con = duckdb.connect(str(result.catalog), read_only=True)
    without = con.execute("SELECT count(*) FROM articles a WHERE language = 'en' AND NOT EXISTS "
                          "(SELECT 1 FROM entities e WHERE e.article_id = a.article_id)"
                          ).fetchone()
    loaded = con.execute("SELECT count(*), count(*) FILTER (language = 'en') FROM articles"
                         ).fetchone()
    assert loaded is not None and loaded[0] == loaded[1] >= 400  # 417 files, a few duplicates
    assert without == (0,)
    first = {(label, norm) for label, norm in con.execute(
        "SELECT e.label, e.norm FROM entities e JOIN articles a USING (article_id) "
        "WHERE a.source_file = '001.txt'").fetchall()}
    con.close()
    assert {("PER", "Patricia Hewitt"), ("PER", "Tony Blair"), ("PER", "Gordon Brown"),
            ("ORG", "British Chambers of Commerce")} <= first
