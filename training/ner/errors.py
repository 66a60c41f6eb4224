"""Where a German NER pipeline goes wrong on GermEval 2014 dev: the error breakdown of the README.

Spans as in ``training.ner.evaluate`` (outer level, PER/LOC/ORG, exact bounds on gold tokens).
Every gold span that is not found exactly is one of: right bounds but another label; a
prediction overlapping it with other bounds; nothing overlapping at all. Every false positive
is one of: right bounds, wrong label; overlapping a gold span with other bounds; on tokens with
no gold PER/LOC/ORG (among those, the spans made only of common nouns: every token a form that
German Wiktionary lists as a noun and not as a place or person name, ``Haubitzen``,
``Bundesliga``). Recall on names seen and unseen in the training data comes from
``evaluate.unseen_recall``.

    python -m training.ner.errors models/de_news [--train-dir build/ner/train] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from training.ner import corpora
from training.ner.evaluate import (
    GERMEVAL,
    LABELS,
    Span,
    gold_spans,
    load_model,
    predicted_spans,
    training_entity_texts,
    unseen_recall,
)

KINDS = ("missed: nothing overlaps", "missed: overlapping prediction, other bounds",
         "predicted on tokens with no gold entity", "predicted with wrong bounds",
         "right span, wrong label")


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def breakdown(sentences: list[corpora.Sentence], gold: set[Span], pred: set[Span],
              nouns: set[str]) -> dict[str, Any]:
    """Counts per kind and label (gold label for misses, predicted label for the rest)."""
    by_sentence: dict[int, list[Span]] = {}
    for sp in gold | pred:
        by_sentence.setdefault(sp[0], []).append(sp)
    counts: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    common: Counter[str] = Counter()
    examples: Counter[str] = Counter()
    for g in gold - pred:
        near = [p for p in by_sentence[g[0]] if p in pred and _overlaps(p, g)]
        if any(p[1:3] == g[1:3] for p in near):
            continue  # counted once, from the prediction's side (wrong label)
        counts[KINDS[1] if near else KINDS[0]][g[3]] += 1
    for p in pred - gold:
        near = [g for g in by_sentence[p[0]] if g in gold and _overlaps(p, g)]
        if any(g[1:3] == p[1:3] for g in near):
            counts[KINDS[4]][p[3]] += 1
        elif near:
            counts[KINDS[3]][p[3]] += 1
        else:
            counts[KINDS[2]][p[3]] += 1
            words = sentences[p[0]][0][p[1]:p[2]]
            if all(w in nouns for w in words):
                common[p[3]] += 1
                examples[" ".join(words)] += 1
    false_positives = len(pred - gold)
    return {
        "kinds": {k: {**{lab: c[lab] for lab in LABELS}, "all": sum(c.values())}
                  for k, c in counts.items()},
        "false_positives": false_positives,
        "common_noun_false_positives": {**{lab: common[lab] for lab in LABELS},
                                        "all": sum(common.values())},
        "common_noun_share_of_false_positives": round(sum(common.values()) / false_positives, 4)
        if false_positives else 0.0,
        "most_frequent_common_nouns": examples.most_common(15),
    }


def common_nouns() -> set[str]:
    """Capitalised word forms German Wiktionary lists as nouns, never as place or person."""
    from training.ner.vectors import lexicon_flags

    return {w for w, (noun, place, person) in lexicon_flags().items()
            if noun and not place and not person}


def markdown(result: dict[str, Any]) -> str:
    lines = ["| kind | PER | LOC | ORG | all |", "| --- | ---: | ---: | ---: | ---: |"]
    for kind, row in result["kinds"].items():
        lines.append(f"| {kind} | {row['PER']} | {row['LOC']} | {row['ORG']} | {row['all']} |")
    c = result["common_noun_false_positives"]
    lines.append(f"| of those on no gold entity: common nouns only | {c['PER']} | {c['LOC']} | "
                 f"{c['ORG']} | {c['all']} |")
    lines.append("")
    lines.append(f"False positives: {result['false_positives']}, of which common nouns "
                 f"{c['all']} ({result['common_noun_share_of_false_positives']:.1%}); most "
                 "frequent: " + ", ".join(f"{w} ({n})" for w, n in
                                          result["most_frequent_common_nouns"][:8]) + ".")
    if "unseen" in result:
        u = result["unseen"]
        lines.append(f"Gold names unseen in training: {u['share_unseen']:.1%}; recall on them "
                     f"{u['recall_unseen']:.3f}, on seen ones {u['recall_seen']:.3f}.")
    return "\n".join(lines)


def main() -> None:

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--data", type=Path, default=GERMEVAL)
    parser.add_argument("--train-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    nlp = load_model(args.model)
    sentences = list(corpora.germeval(args.data))
    gold = gold_spans(sentences)
    pred = predicted_spans(nlp, sentences)
    result = breakdown(sentences, gold, pred, common_nouns())
    if args.train_dir is not None and args.train_dir.is_dir():
        result["unseen"] = unseen_recall(sentences, gold, pred,
                                         training_entity_texts(args.train_dir))
    print(markdown(result))  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
