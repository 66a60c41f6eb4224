"""Near-duplicate clustering: precision and recall on a hand-made set built from real articles.

From BBC News articles (one topic folder at a time, so negatives share a topic and vocabulary),
each original gets edited copies of the kinds that reach a news archive:

* ``wire``: another headline, an agency line prepended, a closing line appended;
* ``trim``: the last paragraph dropped (a shortened re-publication);
* ``reword``: about one word in twelve replaced (a re-edit);
* ``merge``: two paragraphs swapped and one sentence dropped.

True pairs are (original, copy); false pairs are every pair of different originals of the same
topic (and their copies). Precision = share of pairs put in one cluster that are true pairs.

    python -m bench.eval_neardup [--per-topic 40]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from pathlib import Path
from typing import Any

from pipeline.transform import neardup

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TOPICS = ("business", "entertainment", "politics", "sport", "tech")


def _edits(title: str, body: str, rng: random.Random) -> dict[str, str]:
    paragraphs = [p for p in body.split("\n\n") if p.strip()]
    words = body.split(" ")
    reworded = " ".join(w if rng.random() > 1 / 12 else rng.choice(["der", "also", "new", "x"])
                        for w in words)
    swapped = paragraphs[:]
    if len(swapped) > 2:
        swapped[0], swapped[1] = swapped[1], swapped[0]
    merged = "\n\n".join(swapped)
    sentences = merged.split(". ")
    if len(sentences) > 3:
        del sentences[len(sentences) // 2]
    return {
        "wire": f"UPDATED: {title.upper()}\n\nLONDON (Reuters) - " + body
                + "\n\nReporting by agencies; editing by the desk.",
        "trim": "\n\n".join(paragraphs[:-1]) if len(paragraphs) > 2 else body[: len(body) // 2],
        "reword": reworded,
        "merge": ". ".join(sentences),
    }


def build(data: Path = DATA, per_topic: int = 40, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for topic in TOPICS:
        files = sorted((data / "news_en/bbc" / topic).glob("*.txt"))[:per_topic]
        for path in files:
            text = path.read_bytes().decode("cp1252")
            title, _, body = text.partition("\n")
            if " ".join(body.split()) in seen:  # the corpus repeats some stories verbatim
                continue
            seen.add(" ".join(body.split()))
            origin = f"{topic}/{path.name}"
            items.append({"id": origin, "origin": origin, "topic": topic, "text": body.strip()})
            for kind, copy in _edits(title.strip(), body.strip(), rng).items():
                items.append({"id": f"{origin}#{kind}", "origin": origin, "topic": topic,
                              "text": copy})
    return items


def evaluate(items: list[dict[str, Any]]) -> dict[str, Any]:
    members = [neardup.Member(it["id"], neardup.signature(it["text"])) for it in items]
    clusters = neardup.cluster(members, [])
    by_id = {it["id"]: it for it in items}
    tp = fp = fn = 0
    missed: list[str] = []
    for topic in TOPICS:
        ids = [it["id"] for it in items if it["topic"] == topic]
        for a, b in itertools.combinations(ids, 2):
            same_cluster = clusters[a] == clusters[b]
            truly = by_id[a]["origin"] == by_id[b]["origin"]
            tp += same_cluster and truly
            fp += same_cluster and not truly
            fn += truly and not same_cluster
            if truly and not same_cluster and len(missed) < 6:
                missed.append(f"{a} / {b}")
    return {"articles": len(items), "true_pairs": tp + fn,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "false_pairs": fp, "missed_examples": missed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-topic", type=int, default=40)
    args = parser.parse_args()
    print(json.dumps(evaluate(build(per_topic=args.per_topic)), indent=2))


if __name__ == "__main__":
    main()
