"""Evaluate the HTML reader on the gold pages of ../shared/data/html (htmldate/trafilatura sets).

Runs each page through the pipeline as a user's batch would (``read_records`` + ``build_article``)
and reports:

* body recall: share of ``content_with`` snippets found in the article body;
* boilerplate exclusion: share of ``content_without`` snippets absent from it;
* title exact-match rate (whitespace-normalised) where the gold has a title;
* publication day accuracy against ``gold_date_htmldate`` where there is one;
* pages with no extractable text (rejected as ``no_text``) and pages per second.

Snippets are compared with whitespace collapsed (line breaks are layout, not content).

    python -m bench.eval_html [--split dev] [--json out.json] [--min-recall 0.9 --min-exclusion 0.9]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.ingest.readers import InputFile, read_records
from pipeline.ingest.records import Reject
from pipeline.settings import Settings
from pipeline.transform.article import build_article

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "html"
_WS = re.compile(r"\s+")


def _norm(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def evaluate(data: Path = DATA, split: str = "dev") -> dict[str, Any]:
    settings = Settings()
    rows = [json.loads(line) for line in (data / "gold_dev.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("split", split) == split]
    with_found = with_total = without_absent = without_total = 0
    titles_ok = titles_total = dates_ok = dates_total = empty = 0
    start = time.perf_counter()
    for row in rows:
        path = data / row["file"]
        records = list(read_records(InputFile(path, row["file"]), settings))
        article = None
        if records and not isinstance(records[0], Reject):
            built = build_article(records[0], "eval")
            article = None if isinstance(built, Reject) else built
        if article is None:
            empty += 1
        body = _norm(article["body"]) if article else ""
        for snippet in row.get("content_with") or []:
            with_total += 1
            with_found += _norm(snippet) in body
        for snippet in row.get("content_without") or []:
            without_total += 1
            without_absent += _norm(snippet) not in body
        if row.get("gold_title"):
            titles_total += 1
            titles_ok += bool(article) and _norm(article["title"]) == _norm(row["gold_title"])
        if row.get("gold_date_htmldate"):
            dates_total += 1
            got = article["published_at"].date().isoformat() if article and \
                article["published_at"] else None
            dates_ok += got == str(row["gold_date_htmldate"])[:10]
    seconds = time.perf_counter() - start
    return {
        "pages": len(rows), "no_text": empty,
        "body_recall": round(with_found / with_total, 4) if with_total else None,
        "boilerplate_exclusion": round(without_absent / without_total, 4)
        if without_total else None,
        "snippets_with": with_total, "snippets_without": without_total,
        "title_exact": round(titles_ok / titles_total, 4) if titles_total else None,
        "titles": titles_total,
        "date_day_accuracy": round(dates_ok / dates_total, 4) if dates_total else None,
        "dates": dates_total,
        "pages_per_second": round(len(rows) / seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--min-recall", type=float)
    parser.add_argument("--min-exclusion", type=float)
    args = parser.parse_args(argv)
    result = evaluate(args.data, args.split)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    failed = [name for name, floor, value in (
        ("body_recall", args.min_recall, result["body_recall"]),
        ("boilerplate_exclusion", args.min_exclusion, result["boilerplate_exclusion"]))
        if floor is not None and (value is None or value < floor)]
    if failed:
        print(f"FAIL: {', '.join(failed)} below the floor")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
