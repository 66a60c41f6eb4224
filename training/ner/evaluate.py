"""Evaluate a shipped NER pipeline on its language's held-out evaluation sets.

German (``de_news``): GermEval 2014 dev and CoNLL-2003 German dev (in-domain news, but its copy
lost every umlaut and ß, ``Groer`` for ``Großer``: an approximate figure). Rules on GermEval:
outer annotation level; labels PER, LOC, ORG only; exact span match (start, end, label).
GermEval's OTH and the ``-deriv``/``-part`` types (``deutschen``, ``EU-Budget``) are not gold
entities for us: a PER/LOC/ORG prediction on them counts as a false positive, a MISC prediction
is ignored. On CoNLL-2003 German dev MISC is neither gold nor scored.

English (``en_news``): CoNLL-2003 dev (testa), WikiANN English test and, for reference,
CleanCoNLL dev (the set the checkpoint was chosen on, so not an unbiased figure). Same rules:
PER, LOC, ORG, exact spans; MISC is neither gold nor scored.

Gold tokens are used (no tokenisation mismatch); speed is measured separately with ``nlp.pipe``
on the raw sentence text, as in production, on the first set of the language (one core: thinc's
CPU ops are single-threaded; ``make eval-ner`` also sets ``OMP_NUM_THREADS=1``).

    python -m training.ner.evaluate models/de_news [models/en_news ...] [--train-dir DIR]
        [--json out.json]   # language from the model's meta.json (or --lang)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from training.ner import corpora

LABELS = ("PER", "LOC", "ORG")
GERMEVAL = Path("../shared/data/ner/germeval2014/NER-de-dev.tsv")
CONLL_DE_DEV = Path("../shared/data/ner/conll2003_de/dev.tsv")
EN_DATA = Path("../shared/data/ner_en")
Reader = Callable[[Path], Iterator[corpora.Sentence]]
EVAL_SETS: dict[str, list[tuple[str, Path, Reader]]] = {
    "de": [("germeval2014_dev", GERMEVAL, corpora.germeval),
           ("conll2003_de_dev", CONLL_DE_DEV, corpora.conll2003_de)],
    "en": [("conll2003_dev", EN_DATA / "conll2003/dev.txt", corpora.conll2003),
           ("wikiann_test", EN_DATA / "wikiann/test.conllu", corpora.wikiann),
           ("cleanconll_dev", EN_DATA / "cleanconll/dev.tsv", corpora.cleanconll)],
}
RULES = {"de": "outer level, exact spans, PER/LOC/ORG; OTH, -deriv, -part not gold",
         "conll_de": "exact spans on gold tokens, PER/LOC/ORG; MISC not scored; no umlauts",
         "en": "exact spans on gold tokens, PER/LOC/ORG; MISC not scored"}
Span = tuple[int, int, int, str]  # sentence, start token, end token, label


def load_model(model: str | Path) -> Any:
    """``spacy.load`` with the factories of the shipped pipelines registered (the German one
    ends with ``pipeline.enrich.nounfilter``)."""
    import spacy

    import pipeline.enrich.nounfilter  # noqa: F401  (registers the factory)

    return spacy.load(model)


def gold_spans(sentences: list[corpora.Sentence]) -> set[Span]:
    spans: set[Span] = set()
    for s, (_, tags) in enumerate(sentences):
        start: int | None = None
        label = ""
        for i, tag in enumerate([*tags, "O"]):
            if start is not None and not tag.startswith("I-"):
                spans.add((s, start, i, label))
                start = None
            if tag.startswith("B-"):
                start, label = i, tag[2:]
    return {sp for sp in spans if sp[3] in LABELS}


def predicted_spans(nlp: Any, sentences: list[corpora.Sentence]) -> set[Span]:
    from spacy.tokens import Doc

    docs = (Doc(nlp.vocab, words=words) for words, _ in sentences)
    spans: set[Span] = set()
    for s, doc in enumerate(nlp.pipe(docs, batch_size=256)):
        spans.update((s, e.start, e.end, e.label_) for e in doc.ents if e.label_ in LABELS)
    return spans


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
            "tp": tp, "fp": fp, "fn": fn}


def score(gold: set[Span], pred: set[Span]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label in LABELS:
        g = {x for x in gold if x[3] == label}
        p = {x for x in pred if x[3] == label}
        out[label] = prf(len(g & p), len(p - g), len(g - p))
    out["micro"] = prf(len(gold & pred), len(pred - gold), len(gold - pred))
    return out


def training_entity_texts(train_dir: Path) -> set[str]:
    """Entity strings that occur anywhere in the training data (to measure unseen recall)."""
    return {e.text for doc in corpora.training_docs(train_dir) for e in doc.ents}


def unseen_recall(sentences: list[corpora.Sentence], gold: set[Span], pred: set[Span],
                  seen: set[str]) -> dict[str, Any]:
    def text(sp: Span) -> str:
        return " ".join(sentences[sp[0]][0][sp[1]:sp[2]])

    unseen = {sp for sp in gold if text(sp) not in seen}
    found = unseen & pred
    missed = Counter(text(sp) for sp in unseen - pred)
    return {"gold_unseen": len(unseen), "share_unseen": round(len(unseen) / len(gold), 4),
            "recall_unseen": round(len(found) / len(unseen), 4) if unseen else 0.0,
            "recall_seen": round(len((gold - unseen) & pred) / len(gold - unseen), 4)
            if gold - unseen else 0.0,
            "most_missed_unseen": missed.most_common(15)}


def words_per_second(nlp: Any, sentences: list[corpora.Sentence], rounds: int = 2) -> float:
    texts = [" ".join(words) for words, _ in sentences]
    n_words = sum(len(words) for words, _ in sentences)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _doc in nlp.pipe(texts, batch_size=64):
            pass
        best = min(best, time.perf_counter() - start)
    return round(n_words / best, 1)


def evaluate(model: str | Any, data: Path = GERMEVAL, train_dir: Path | None = None,
             speed: bool = True, reader: Reader | None = None,
             lang: str | None = None) -> dict[str, Any]:
    """Score ``model`` (a path or a loaded ``Language``) on one set (default: GermEval dev)."""
    nlp = load_model(model) if isinstance(model, (str, Path)) else model
    lang = lang or nlp.lang
    sentences = list((reader or corpora.germeval)(data))
    gold = gold_spans(sentences)
    pred = predicted_spans(nlp, sentences)
    result: dict[str, Any] = {
        "model": f"{nlp.lang}_{nlp.meta.get('name')}-{nlp.meta.get('version')}",
        "data": data.name if data.name == GERMEVAL.name
        else f"{data.parent.name}/{data.name}",
        "sentences": len(sentences), "gold_entities": len(gold),
        "rules": RULES["conll_de"] if data.name == CONLL_DE_DEV.name and lang == "de"
        else RULES.get(lang, RULES["en"]),
        "scores": score(gold, pred),
    }
    if train_dir is not None and train_dir.is_dir():
        result["unseen"] = unseen_recall(sentences, gold, pred, training_entity_texts(train_dir))
    if speed:
        result["words_per_second"] = words_per_second(nlp, sentences)
    return result


def evaluate_all(model: str, train_dir: Path | None = None, speed: bool = True,
                 lang: str | None = None) -> dict[str, dict[str, Any]]:
    """Every evaluation set of the model's language; speed on the first one only."""
    nlp = load_model(model)
    lang = lang or nlp.lang
    return {name: evaluate(nlp, path, train_dir, speed=speed and i == 0, reader=reader,
                           lang=lang)
            for i, (name, path, reader) in enumerate(EVAL_SETS[lang])}


def format_table(result: dict[str, Any]) -> str:
    lines = [f"{result['model']} on {result['data']} ({result['gold_entities']} entities; "
             f"{result['rules']})", f"{'label':6} {'P':>7} {'R':>7} {'F1':>7} {'TP':>6} "
             f"{'FP':>6} {'FN':>6}"]
    for label, s in result["scores"].items():
        lines.append(f"{label:6} {s['precision']:7.3f} {s['recall']:7.3f} {s['f1']:7.3f} "
                     f"{s['tp']:6d} {s['fp']:6d} {s['fn']:6d}")
    if "unseen" in result:
        u = result["unseen"]
        lines.append(f"unseen in training: {u['share_unseen']:.1%} of gold; recall unseen "
                     f"{u['recall_unseen']:.3f}, seen {u['recall_seen']:.3f}")
    if "words_per_second" in result:
        lines.append(f"speed: {result['words_per_second']:.0f} words/s (nlp.pipe, this machine)")
    return "\n".join(lines)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="model")
    parser.add_argument("--lang", choices=sorted(EVAL_SETS), default=None,
                        help="default: the model's own language (meta.json)")
    parser.add_argument("--data", type=Path, default=None,
                        help="German only: another GermEval-format file (default: all the "
                        "language's evaluation sets)")
    parser.add_argument("--train-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the result here (one model: as before; several: "
                        "keyed by model)")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--min-f1", type=float, default=None,
                        help="exit 1 if micro F1 (first set of each model) falls below this")
    args = parser.parse_args(list(argv) if argv is not None else None)
    status = 0
    results: dict[str, Any] = {}
    for model in args.models:
        if args.data is not None:
            sets = {"data": evaluate(model, args.data, args.train_dir, speed=not args.no_speed,
                                     lang=args.lang)}
        else:
            sets = evaluate_all(model, args.train_dir, speed=not args.no_speed, lang=args.lang)
        for result in sets.values():
            print(format_table(result) + "\n")  # noqa: T201
        first = next(iter(sets.values()))
        # one German set: the file keeps its old shape (a single result)
        results[model] = first if len(sets) == 1 else sets
        if args.min_f1 is not None and first["scores"]["micro"]["f1"] < args.min_f1:
            print(f"FAIL: {model} micro F1 {first['scores']['micro']['f1']} < "  # noqa: T201
                  f"{args.min_f1}")
            status = 1
    if args.json:
        out = results[args.models[0]] if len(args.models) == 1 else results
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
