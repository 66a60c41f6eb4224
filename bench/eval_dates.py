"""Publication-date accuracy: the three figures of issue 5 (``make eval-dates``).

1. HTML pages (../shared/data/html/gold_dev.jsonl): day-level accuracy of ``published_at``
   against ``gold_date_htmldate``, pages read as a batch reads them.
2. SmartData news items (../shared/data/news_de/smartdata_v1_train.jsonl) written out as plain
   text files, without metadata, so only the text can give the date: **coverage** (share that
   get a day-level date from the text: dateline or a date in the opening) and **accuracy** of
   those against the item's ``date`` (UTC), compared as the local day in Europe/Berlin. The
   item ``date`` is often when the page was harvested, not published (a third of the items
   carry 2016-03-10/11 while their text says e.g. "02.10.2015 - 20:20 Uhr"), so the share of
   text dates on or before it is printed too, and the accuracy on the items whose date is not
   such a bulk harvest day (a day carried by 15 or more items).
3. The dateparser test pairs (../shared/data/dates/dateparser_test_pairs.jsonl): pass rate of
   ``pipeline.dates.parse_date`` on the cases of ``test_dates_parsing`` and its normalised twin
   (relative ones with dateparser's fixed reference time, 2012-11-13), with the pipeline's
   German+English setting and with any language, plus the speed of the fast path against
   dateparser guessing the language on the same strings.

    python -m bench.eval_dates [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.ingest.readers import InputFile, read_records
from pipeline.ingest.records import Reject
from pipeline.settings import Settings
from pipeline.transform import dates
from pipeline.transform.article import build_article

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BERLIN = ZoneInfo("Europe/Berlin")
BULK_DAY_ITEMS = 15
"""A day carried by this many items is a harvest day, not a publication day (2016-03-10: 134 of
the 385 news items)."""
TEXT_SOURCES = {"dateline", "text"}


def _article(path: Path, relative: str) -> dict[str, Any] | None:
    records = list(read_records(InputFile(path, relative), Settings()))
    if not records or isinstance(records[0], Reject):
        return None
    row = build_article(records[0], "eval")
    return None if isinstance(row, Reject) else row


def html_accuracy(data: Path = DATA) -> dict[str, Any]:
    rows = [json.loads(x) for x in (data / "html/gold_dev.jsonl").read_text(
        encoding="utf-8").splitlines() if x.strip()]
    total = correct = articles = 0
    by_source: dict[str, list[int]] = {}
    for row in rows:
        gold = row.get("gold_date_htmldate")
        if not gold:
            continue
        total += 1
        article = _article(data / "html" / row["file"], row["file"])
        got = article["published_at"].date().isoformat() if article and \
            article["published_at"] else None
        ok = got == str(gold)[:10]
        correct += ok
        articles += article is not None
        source = article["published_source"] if article else "none"
        by_source.setdefault(str(source), [0, 0])[0] += ok
        by_source[str(source)][1] += 1
    return {"pages": total, "day_accuracy": round(correct / total, 4),
            "articles": articles, "day_accuracy_of_articles": round(correct / articles, 4),
            "by_source": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_source.items())}}


def smartdata_text_only(data: Path = DATA) -> dict[str, Any]:
    items = [json.loads(x) for x in (data / "news_de/smartdata_v1_train.jsonl").read_text(
        encoding="utf-8").splitlines() if x.strip()]
    news = [i for i in items if i.get("source_type") == "news"]
    covered = correct = not_after = 0
    misses: list[str] = []
    gold_days = Counter(datetime.fromisoformat(i["date"].replace("Z", "+00:00"))
                        .astimezone(BERLIN).date() for i in news)
    bulk = {d for d, n in gold_days.items() if n >= BULK_DAY_ITEMS}
    clean = [0, 0]  # correct, covered: items whose date is not a bulk harvest day
    with tempfile.TemporaryDirectory() as tmp:
        for n, item in enumerate(news):
            path = Path(tmp) / f"item{n:04d}.txt"
            path.write_text(item["text"], encoding="utf-8")
            article = _article(path, path.name)
            if article is None or article["published_source"] not in TEXT_SOURCES or \
                    article["published_precision"] not in ("day", "minute", "second"):
                continue
            covered += 1
            gold = datetime.fromisoformat(item["date"].replace("Z", "+00:00"))
            gold_day = gold.astimezone(BERLIN).date()
            local = str(article["published_local"])[:10]
            not_after += local <= gold_day.isoformat()
            if gold_day not in bulk:
                clean[0] += local == gold_day.isoformat()
                clean[1] += 1
            if local == gold_day.isoformat():
                correct += 1
            elif len(misses) < 8:
                misses.append(f"{local} vs {gold_day} ({article['published_source']})")
    return {"news_items": len(news), "coverage": round(covered / len(news), 4),
            "covered": covered, "accuracy": round(correct / covered, 4) if covered else None,
            "on_or_before_item_date": round(not_after / covered, 4) if covered else None,
            "bulk_days": {str(d): gold_days[d] for d in sorted(bulk)},
            "accuracy_outside_bulk_days": round(clean[0] / clean[1], 4) if clean[1] else None,
            "covered_outside_bulk_days": clean[1],
            "misses": misses}


def dateparser_pairs(data: Path = DATA) -> dict[str, Any]:
    rows = [json.loads(x) for x in (data / "dates/dateparser_test_pairs.jsonl").read_text(
        encoding="utf-8").splitlines() if x.strip()]
    absolute = [r for r in rows if r["test_function"] in (
        "test_dates_parsing", "test_dates_parsing_with_normalization")
        and len(r["expected"]) >= 3]
    reference = datetime(2012, 11, 13)  # the RELATIVE_BASE of dateparser's own tests

    def rate(languages: tuple[str, ...] | None) -> float:
        passed = 0
        for r in absolute:
            got = dates.parse_date(r["input"], languages=languages, reference=reference)
            want = r["expected"]
            passed += got is not None and [got.local.year, got.local.month,
                                           got.local.day] == want[:3]
        return round(passed / len(absolute), 4)

    forms = ["30.01.2023", "30. Januar 2023, 14:05 Uhr", "Jan 30, 2023 2:05 PM EST",
             "2023-01-30T14:05:00+01:00", "Mon, 30 Jan 2023 14:05:00 +0100", "2023-01"] * 50
    start = time.perf_counter()
    for text in forms:
        dates.parse_date(text)
    fast = (time.perf_counter() - start) / len(forms)
    import dateparser

    start = time.perf_counter()
    for text in forms[:60]:
        dateparser.parse(text)
    slow = (time.perf_counter() - start) / 60
    return {"cases": len(absolute), "pass_rate_de_en": rate(("de", "en")),
            "pass_rate_any_language": rate(None),
            "fast_path_us": round(fast * 1e6, 1), "dateparser_guessing_us": round(slow * 1e6, 1),
            "speedup": round(slow / fast, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = {"html": html_accuracy(args.data), "smartdata_text_only":
              smartdata_text_only(args.data), "dateparser_pairs": dateparser_pairs(args.data)}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
