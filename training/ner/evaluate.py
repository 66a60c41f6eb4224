"""Evaluate a German NER pipeline on GermEval 2014 dev (the project's held-out evaluation set).

Rules: outer annotation level; labels PER, LOC, ORG only; exact span match (start, end, label).
GermEval's OTH and the ``-deriv``/``-part`` types (``deutschen``, ``EU-Budget``) are not gold
entities for us: a PER/LOC/ORG prediction on them counts as a false positive, a MISC prediction is
ignored. Gold tokens are used (no tokenisation mismatch); speed is measured separately with
``nlp.pipe`` on the raw sentence text, as in production.

    python -m training.ner.evaluate models/de_news [--train-dir build/ner/train] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from training.ner import corpora

LABELS = ("PER", "LOC", "ORG")
GERMEVAL = Path("../shared/data/ner/germeval2014/NER-de-dev.tsv")
Span = tuple[int, int, int, str]  # sentence, start token, end token, label


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


def evaluate(model: str, data: Path = GERMEVAL, train_dir: Path | None = None,
             speed: bool = True) -> dict[str, Any]:
    import spacy

    nlp = spacy.load(model)
    sentences = list(corpora.germeval(data))
    gold = gold_spans(sentences)
    pred = predicted_spans(nlp, sentences)
    result: dict[str, Any] = {
        "model": f"{nlp.meta.get('name')}-{nlp.meta.get('version')}",
        "data": data.name, "sentences": len(sentences), "gold_entities": len(gold),
        "rules": "outer level, exact spans, PER/LOC/ORG; OTH, -deriv, -part not gold",
        "scores": score(gold, pred),
    }
    if train_dir is not None and train_dir.is_dir():
        result["unseen"] = unseen_recall(sentences, gold, pred, training_entity_texts(train_dir))
    if speed:
        result["words_per_second"] = words_per_second(nlp, sentences)
    return result


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
    parser.add_argument("model")
    parser.add_argument("--data", type=Path, default=GERMEVAL)
    parser.add_argument("--train-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--min-f1", type=float, default=None,
                        help="exit 1 if micro F1 falls below this (the evaluation gate)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    result = evaluate(args.model, args.data, args.train_dir, speed=not args.no_speed)
    print(format_table(result))  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.min_f1 is not None and result["scores"]["micro"]["f1"] < args.min_f1:
        print(f"FAIL: micro F1 {result['scores']['micro']['f1']} < {args.min_f1}")  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
