"""The shipped German NER pipeline: loads offline, finds real entities, passes the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLES

MODEL = REPO / "models" / "de_news"
BASELINE = REPO / "training" / "ner" / "baseline.json"


@pytest.fixture(scope="module")
def nlp() -> object:
    import spacy

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


@pytest.mark.slow
def test_evaluation_gate(shared: Path) -> None:
    """GermEval 2014 dev micro F1 must not fall below the stored baseline."""
    from training.ner.evaluate import evaluate

    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    result = evaluate(str(MODEL), shared / "ner/germeval2014/NER-de-dev.tsv", speed=False)
    micro = result["scores"]["micro"]["f1"]
    assert micro >= baseline["micro_f1"] - 0.005, (micro, baseline)
