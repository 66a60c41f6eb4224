"""The common-noun filter of the German pipeline: which one-word entities it drops, and why."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from hypothesis import given
from hypothesis import strategies as st

from pipeline.enrich import nounfilter
from pipeline.enrich.nounfilter import NounFilter, compound_heads, word_hash

NOUNS = {"Gebiete", "Waffen", "Burg", "Munition", "Liga"}
NAMES = {"Hamburg"}


@pytest.fixture()
def nlp() -> spacy.language.Language:
    nlp = spacy.blank("de")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": lab, "pattern": text} for text, lab in (
        ("Konfliktgebiete", "LOC"), ("Waffen", "ORG"), ("Hamburg", "LOC"), ("Seoul", "LOC"),
        ("Munition", "MISC"), ("Nationale Liga", "ORG"), ("Bundesliga", "ORG"))])
    noun_filter = nlp.add_pipe(nounfilter.FACTORY)
    noun_filter.set_nouns(NOUNS, NAMES)
    return nlp


def test_drops_one_word_nouns_and_noun_compounds(nlp: spacy.language.Language) -> None:
    doc = nlp("Waffen in Konfliktgebiete von Hamburg und Seoul , Munition , Nationale Liga , "
              "Bundesliga")
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Hamburg", "LOC"),  # ends in a noun (Burg) but is a listed name
        ("Seoul", "LOC"),
        ("Munition", "MISC"),  # only PER/LOC/ORG are filtered
        ("Nationale Liga", "ORG"),  # several words: a name of its own
    ]


def test_the_list_survives_saving_and_loading(nlp: spacy.language.Language,
                                              tmp_path: Path) -> None:
    nlp.to_disk(tmp_path / "p")
    again = spacy.load(tmp_path / "p")
    noun_filter = again.get_pipe(nounfilter.FACTORY)
    assert noun_filter.is_noun("Konfliktgebiete") and not noun_filter.is_noun("Hamburg")
    assert not noun_filter.is_noun("gebiete")  # lower case is never a German noun


def test_compound_heads() -> None:
    assert list(compound_heads("Konfliktgebiete")) == [
        "Konfliktgebiete", "Onfliktgebiete", "Nfliktgebiete", "Fliktgebiete", "Liktgebiete",
        "Iktgebiete", "Ktgebiete", "Tgebiete", "Gebiete", "Ebiete", "Biete", "Iete"]
    assert "Generalsekretär" in list(compound_heads("NATO-Generalsekretär"))
    assert all(h[0] != "-" for h in compound_heads("NATO-Generalsekretär"))


@given(st.text(min_size=1, max_size=30))
def test_word_hash_is_stable_and_64_bit(word: str) -> None:
    assert word_hash(word) == word_hash(str(word)) < 2**64


def test_shipped_pipeline_ends_with_the_filter() -> None:
    from pipeline.enrich.ner import load_pipeline
    from tests.conftest import REPO

    nlp = load_pipeline(str(REPO / "models" / "de_news"))
    noun_filter = nlp.get_pipe(nounfilter.FACTORY)
    assert isinstance(noun_filter, NounFilter)
    assert noun_filter.is_noun("Haubitzen") and noun_filter.is_noun("Konfliktgebiete")
    assert not any(noun_filter.is_noun(w) for w in ("Hamburg", "Deutschland", "Grünen",
                                                    "Südkorea", "Stoltenberg"))
