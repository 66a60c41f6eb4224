"""NER training data: label mapping, IOB repair, missing spans, and the GermEval split."""

from __future__ import annotations

from pathlib import Path

from training.ner import corpora
from training.ner.evaluate import gold_spans, score


def test_iob1_is_repaired_to_iob2() -> None:
    assert corpora.to_iob2(["I-PER", "I-PER", "O", "I-LOC", "I-ORG"], corpora.PLAIN) == \
        ["B-PER", "I-PER", "O", "B-LOC", "B-ORG"]


def test_ler_fine_types_map_to_news_labels() -> None:
    tags = ["B-RR", "I-RR", "O", "B-GRT", "O", "B-GS", "I-GS", "B-RS", "I-RS", "B-ST"]
    assert corpora.to_iob2(tags, corpora.LER, default=corpora.MISSING) == \
        ["B-PER", "I-PER", "O", "B-ORG", "O", "O", "O", "", "", "B-LOC"]


def test_doubtful_mobie_spans_are_missing_not_outside() -> None:
    tags = ["B-location-route", "I-location-route", "O", "B-location-city", "B-trigger"]
    assert corpora.to_iob2(tags, corpora.MOBIE) == ["", "", "O", "B-LOC", "O"]


def test_chunking_never_splits_an_entity() -> None:
    words = ["A"] * 70
    tags = ["O"] * 58 + ["B-ORG", "I-ORG", "I-ORG", "I-ORG"] + ["O"] * 8
    pieces = list(corpora.chunk(words, tags, max_len=60))
    assert sum(len(w) for w, _ in pieces) == 70
    for _, t in pieces:
        assert not t[0].startswith("I-")


def test_germeval_dev_has_the_documented_entity_counts(shared: Path) -> None:
    sentences = list(corpora.germeval(shared / "ner/germeval2014/NER-de-dev.tsv"))
    assert len(sentences) >= 2200  # 2,200 sentences; a few long ones are cut in two
    gold = gold_spans(sentences)
    by_label = {lab: sum(1 for g in gold if g[3] == lab) for lab in ("PER", "LOC", "ORG")}
    assert by_label == {"PER": 711, "LOC": 763, "ORG": 496}  # B- tags of the outer column


def test_scoring_exact_spans() -> None:
    gold = {(0, 0, 2, "PER"), (0, 3, 4, "LOC"), (1, 0, 1, "ORG")}
    pred = {(0, 0, 2, "PER"), (0, 3, 4, "ORG"), (1, 0, 2, "ORG")}
    s = score(gold, pred)
    assert s["micro"]["tp"] == 1 and s["micro"]["fp"] == 2 and s["micro"]["fn"] == 2
    assert s["PER"]["f1"] == 1.0 and s["LOC"]["recall"] == 0.0


def test_smartdata_offsets_become_token_tags(shared: Path) -> None:
    sents = list(corpora.smartdata(shared / "news_de/smartdata_v1_train.jsonl"))
    tagged = [(w, t) for words, tags in sents for w, t in zip(words, tags, strict=True)
              if t.startswith("B-")]
    assert ("Genf", "B-LOC") in tagged
    assert len(tagged) > 4000


def test_gazetteer_patterns_from_packaged_data() -> None:
    from training.ner.gazetteer import patterns

    pats = patterns(train_dir=None)
    phrases = {(p["label"], p["pattern"]) for p in pats if isinstance(p["pattern"], str)}
    for expected in [("LOC", "Südkorea"), ("LOC", "Kiew"), ("LOC", "Bochum"), ("LOC", "Polen"),
                     ("ORG", "FDP"), ("ORG", "dpa"), ("LOC", "Nordrhein-Westfalen")]:
        assert expected in phrases
    assert not any("," in text for _, text in phrases)
    (person,) = [p for p in pats if p["label"] == "PER"]
    first = set(person["pattern"][0]["TEXT"]["IN"])
    assert {"Jens", "Angela", "Olaf"} <= first and len(first) > 500


def test_first_names_keep_their_umlauts() -> None:
    """gender-guesser's name file is UTF-8 with character columns: read as Latin-1 it gave
    `JÃ¼rgen` and shifted the frequency columns."""
    from training.ner.gazetteer import first_names

    names = first_names()
    assert {"Jürgen", "Jörg", "Björn", "Günter"} <= names
    assert not any("Ã" in n for n in names)


def test_feature_flags_from_gazetteer_and_wiktionary(tmp_path: Path) -> None:
    from training.ner.vectors import gazetteer_flags, lexicon_flags

    gaz = tmp_path / "gaz.jsonl"
    gaz.write_text('{"label": "LOC", "pattern": "Bad Homburg"}\n'
                   '{"label": "PER", "pattern": [{"TEXT": {"IN": ["Jens", "Olaf"]}}, '
                   '{"IS_TITLE": true}]}\n{"label": "MISC", "pattern": "Euro"}\n', encoding="utf-8")
    flags = gazetteer_flags(gaz)
    assert flags == {"Bad": [0.0, 1.0, 0.0], "Homburg": [0.0, 1.0, 0.0],
                     "Jens": [1.0, 0.0, 0.0], "Olaf": [1.0, 0.0, 0.0]}
    lexicon = lexicon_flags()  # noun, place, person
    assert lexicon["Rathauses"] == [1.0, 0.0, 0.0]  # an inflected common noun
    assert lexicon["Südkorea"][1] == 1.0 and lexicon["Merkel"][2] == 1.0
    assert "Stoltenberg" not in lexicon


def test_conll2003_german_train_reads_with_umlauts_and_all_labels(shared: Path) -> None:
    sents = list(corpora.conll2003_de(shared / "ner/conll2003_de/train.tsv"))
    assert len(sents) >= 12_152  # long sentences are cut in two, never fewer
    words = {w for ws, _ in sents for w in ws}
    assert {"Flüchtlinge", "Westdeutschland"} <= words and "-DOCSTART-" not in words
    spans = gold_spans(sents)
    assert {lab for *_, lab in spans} == {"PER", "LOC", "ORG"}  # MISC read, not scored
    assert sum(1 for *_, lab in spans if lab == "LOC") == 4363


def test_open_variants_train_only_on_open_sets(shared: Path) -> None:
    """NER_OPEN=1: no non-commercial or research-only set in training or checkpoint choice;
    the full recipe keeps CoNLL-2003 German and leaves both evaluation sets out."""
    from training.ner.convert import sources, sources_en

    full, open_de = sources(shared), sources(shared, "open")
    assert {"conll2003_de", "conll2003_de_2"} <= set(full["train"])
    assert set(full["dev"]) == {"conll2003_de"}  # chooses the checkpoint, never trained on
    assert set(open_de["train"]) == {"wikiann", "ler", "mobie", "europeana", "smartdata"}
    assert set(open_de["dev"]) == {"wikiann", "mobie", "ler"}
    open_en = sources_en(shared, "open")
    assert set(open_en["train"]) == set(open_en["dev"]) == {"btc", "wnut17"}
    assert "cleanconll" in sources_en(shared)["dev"]
