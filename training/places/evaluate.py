"""``make eval-places``: the place resolver on hand-labelled LOC mentions of real news.

``training/places/dev.tsv`` holds 420 LOC spans the shipped NER found in SmartData news,
10kGNAD (DER STANDARD) and BBC News (``candidates.py``), each labelled by hand with the country
(ISO 3166-1 alpha-2), ``REGION`` for a continent, sea or world region, or ``-`` when the span is
no place at all (a person, a club, a product: the NER's errors, left out of the scores), and the
city where the mention is one. Each document is run through the NER again; a gold mention counts
when the NER finds it as LOC at the same offsets, and is resolved with the document's other LOC
mentions, its text and its outlet's country as context, as the pipeline does.

Printed per source and overall: the share of mentions resolved to a place; country accuracy of
those resolved where gold has a country (regions count as resolved and are not scored); city
accuracy where gold has a city. Targets: >= 0.90 resolved, country accuracy >= 0.95.

    python -m training.places.evaluate [--errors]
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pipeline.batch.places import outlet_country
from pipeline.enrich import places
from pipeline.enrich.ner import load_pipeline
from pipeline.settings import REPO_ROOT
from training.places.candidates import DOCS, documents

DEV = Path(__file__).with_name("dev.tsv")
MODELS = {"smartdata": "de_news", "10kgnad": "de_news", "bbc": "en_news"}
OUTLETS = {"10kgnad": "derstandard.at", "bbc": "bbc.co.uk"}
TARGET_RESOLVED = 0.90
TARGET_COUNTRY = 0.95


@dataclass
class Gold:
    source: str
    doc: str
    start: int
    end: int
    mention: str
    country: str
    city: str


def load_gold(path: Path = DEV) -> list[Gold]:
    with path.open(encoding="utf-8") as fh:
        return [Gold(r["source"], r["doc"], int(r["start"]), int(r["end"]), r["mention"],
                     r["country"], r["city"]) for r in csv.DictReader(fh, delimiter="\t")]


def evaluate(gold: list[Gold], misses: list[str] | None = None
             ) -> dict[str, dict[str, float]]:
    """Scores per source and ``all``; every miss appended to ``misses`` when given."""
    gaz = places.gazetteer()
    by_doc: dict[tuple[str, str], list[Gold]] = defaultdict(list)
    for g in gold:
        by_doc[(g.source, g.doc)].append(g)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for source in MODELS:
        docs = {d for s, d in by_doc if s == source}
        nlp = load_pipeline(str(REPO_ROOT / "models" / MODELS[source]))
        for doc_id, text in documents(source, DOCS):
            if doc_id not in docs:
                continue
            ents = [e for e in nlp(text[:20_000]).ents if e.label_ == "LOC"]
            domain = OUTLETS.get(source) or doc_id.split("/")[2]
            resolved = places.resolve_article([e.text for e in ents],
                                              outlet_country(domain, gaz), text, gaz)
            found = {(e.start_char, e.end_char): r for e, r in zip(ents, resolved, strict=True)}
            for g in by_doc[(source, doc_id)]:
                if g.country == "-":
                    continue
                c = counts[source]
                c["gold"] += 1
                r = found.get((g.start, g.end))
                if r is None:
                    continue
                c["found"] += 1
                if r.place is None:
                    if misses is not None:
                        misses.append(f"unresolved\t{source}\t{g.mention}\t{g.country}\t"
                                      f"{r.reason}")
                    continue
                c["resolved"] += 1
                if g.country != "REGION":
                    c["scored"] += 1
                    right = r.place.country_code == g.country
                    c["country_ok"] += right
                    if misses is not None and not right:
                        misses.append(f"country\t{source}\t{g.mention}\tgold {g.country}\tgot "
                                      f"{r.place.country_code} {r.place.name_en} ({r.method})")
                if g.city:
                    c["cities"] += 1
                    # the gold name (an English exonym: Cologne) finds the same place
                    ok = r.place.feature == "city" and any(
                        p is r.place for p in gaz.names.get(places.key(g.city), ()))
                    c["city_ok"] += ok
                    if misses is not None and not ok:
                        misses.append(f"city\t{source}\t{g.mention}\tgold {g.city}\tgot "
                                      f"{r.place.name_en} ({r.place.feature})")
    total: dict[str, int] = defaultdict(int)
    for c in counts.values():
        for k, v in c.items():
            total[k] += v
    out = {}
    for name, c in [*sorted(counts.items()), ("all", total)]:
        out[name] = {
            "gold": c["gold"], "found_as_loc": c["found"],
            "resolved": c["resolved"] / c["found"] if c["found"] else 0.0,
            "country_accuracy": c["country_ok"] / c["scored"] if c["scored"] else 0.0,
            "scored": c["scored"],
            "city_accuracy": c["city_ok"] / c["cities"] if c["cities"] else 0.0,
            "cities": c["cities"]}
    return out


def report(results: dict[str, dict[str, float]]) -> str:
    lines = ["| source | gold mentions | found as LOC | resolved | country accuracy (n) | "
             "city accuracy (n) |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['gold']} | {r['found_as_loc']} | {r['resolved']:.3f} | "
                     f"{r['country_accuracy']:.3f} ({r['scored']}) | "
                     f"{r['city_accuracy']:.3f} ({r['cities']}) |")
    overall = results["all"]
    for label, value, target in (("resolved", overall["resolved"], TARGET_RESOLVED),
                                 ("country accuracy", overall["country_accuracy"],
                                  TARGET_COUNTRY)):
        lines.append(f"{label}: {value:.3f} (target >= {target}: "
                     f"{'met' if value >= target else 'not met'})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="print every miss first")
    args = parser.parse_args()
    misses: list[str] = []
    results = evaluate(load_gold(), misses if args.errors else None)
    print("\n".join([*misses, report(results)]))  # noqa: T201


if __name__ == "__main__":
    main()
