"""LOC mentions of real news for the places dev set, to be labelled by hand.

Runs the shipped NER pipelines (models/de_news on SmartData news and 10kGNAD, models/en_news on
BBC News) over articles of ``../shared/data`` and writes every LOC span with its document, offsets
and context, sampled per source (a fixed seed; distinct mention texts first, so the set is not 300
copies of "Deutschland"). The labeller adds the country (ISO 3166-1 alpha-2, or a continent or
region name) and the city where there is one; ``training/places/dev.tsv`` is the result.

    python -m training.places.candidates [--per-source 110] > build/places_candidates.tsv
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections.abc import Iterator

from pipeline.enrich.ner import load_pipeline
from pipeline.settings import REPO_ROOT

DATA = REPO_ROOT.parent / "shared" / "data"
DOCS = 150
"""Documents read per source (the BBC ones a fixed random sample of this size)."""


def documents(source: str, limit: int) -> Iterator[tuple[str, str]]:
    """(document id, text) of a source, in file order."""
    if source == "smartdata":
        with (DATA / "news_de" / "smartdata_v1_train.jsonl").open(encoding="utf-8") as fh:
            docs = [json.loads(line) for line in fh]
        news = [d for d in docs if d["source_type"] == "news"][:limit]
        yield from ((d["url"], d["text"]) for d in news)
    elif source == "10kgnad":
        with (DATA / "news_de" / "10kgnad_dev.csv").open(encoding="utf-8") as fh:
            for i, row in enumerate(csv.reader(fh, delimiter=";", quotechar="'")):
                if i >= limit:
                    break
                yield f"10kgnad:{i}", row[1]
    else:
        files = sorted((DATA / "news_en" / "bbc").glob("*/*.txt"))
        for path in random.Random(7).sample(files, limit):
            yield (f"bbc:{path.parent.name}/{path.name}",
                   path.read_bytes().decode("utf-8", errors="replace"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=110)
    parser.add_argument("--docs", type=int, default=DOCS)
    args = parser.parse_args()
    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    out.writerow(["source", "doc", "start", "end", "mention", "context"])
    for source, model in (("smartdata", "de_news"), ("10kgnad", "de_news"),
                          ("bbc", "en_news")):
        nlp = load_pipeline(str(REPO_ROOT / "models" / model))
        spans: list[tuple[str, int, int, str, str]] = []
        for doc_id, text in documents(source, args.docs):
            for ent in nlp(text[:20_000]).ents:
                if ent.label_ == "LOC":
                    context = text[max(0, ent.start_char - 70):ent.end_char + 70]
                    spans.append((doc_id, ent.start_char, ent.end_char, ent.text,
                                  " ".join(context.split())))
        rng = random.Random(21)
        rng.shuffle(spans)
        seen: set[str] = set()
        first: list[tuple[str, int, int, str, str]] = []
        rest: list[tuple[str, int, int, str, str]] = []
        for span in spans:
            (rest if span[3] in seen else first).append(span)
            seen.add(span[3])
        for doc_id, start, end, mention, context in (first + rest)[:args.per_source]:
            out.writerow([source, doc_id, start, end, mention, context])


if __name__ == "__main__":
    main()
