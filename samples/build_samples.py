"""Rebuild ``samples/landing`` from ``../shared/data`` (run from the repo root).

The demo and many tests use these files, so they are committed: ``make demo`` must work where
``../shared`` does not exist. Sources and licences are listed in ``samples/README.md``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

SHARED = Path("../shared/data")
OUT = Path("samples/landing")
SMARTDATA_URLS = [
    "http://www.main-echo.de/3977929",
    "http://www.mdr.de/sachsen-anhalt/brocken-benno-jubilaeum102_zc-a2551f81_zs-ae30b3e4.html",
    "http://www.gn-online.de/Nachrichten/Ab-2018-mehr-Flieger-ueber-der-Range-149053.html",
    "http://lokalo.de/artikel/100096/schock-unfall-auto",
    "http://www.finanznachrichten.de/nachrichten-2015-12/35923687-rite-aid-118.htm",
]


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    day1 = OUT / "2023-01-31"
    day2 = OUT / "2023-02-01"
    day3 = OUT / "2023-02-02"
    for d in (day1, day2, day3):
        d.mkdir(parents=True)
    # Day 1: the reference dump and BBC files (title-first layout, one in Latin-1).
    shutil.copy(SHARED / "seed/000_5fa03b91928cf31a.txt", day1)
    for name in ("business/001.txt", "politics/010.txt", "sport/199.txt", "tech/020.txt"):
        target = day1 / "bbc" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED / "news_en/bbc" / name, target)
    # Day 2: German SmartData news rewritten in the reference layout (date header + teaser).
    rows = {r["url"]: r for r in map(json.loads, (SHARED / "news_de/smartdata_v1_train.jsonl")
                                     .read_text(encoding="utf-8").splitlines())}
    for seq, url in enumerate(SMARTDATA_URLS):
        row = rows[url]
        lines = [ln.strip() for ln in row["text"].splitlines() if ln.strip()]
        source_id = hashlib.sha256(url.encode()).hexdigest()[:16]
        text = f" date {row['date'][:10]} {lines[0]}\n\n" + "\n\n".join(lines[1:]) + "\n"
        (day2 / f"{seq:03d}_{source_id}.txt").write_text(text, encoding="utf-8")
    # The same article delivered twice in one batch, and an empty file: two rejects.
    first = sorted(day2.glob("000_*.txt"))[0]
    shutil.copy(first, day2 / f"099_{first.name.split('_', 1)[1]}")
    (day2 / "004_0000000000000000.txt").write_bytes(b"")
    # Day 3: a re-delivery of the reference article (same id as on day 1) and an odd date header.
    shutil.copy(SHARED / "seed/000_5fa03b91928cf31a.txt", day3 / "007_5fa03b91928cf31a.txt")
    body = (SHARED / "news_en/bbc/tech/001.txt").read_text(encoding="utf-8")
    title, _, rest = body.partition("\n")
    (day3 / "001_00000000000000a1.txt").write_text(f"date 2023-13 {title}\n{rest}",
                                                  encoding="utf-8")
    # Day 4: other formats, as real deliveries arrive (copied from tests/fixtures/mixed, which
    # tests/fixtures/build_mixed.py cuts from ../shared/data): a news-please record, an RSS feed,
    # a JSON Feed, a German web page and a zstd-compressed JSON Lines file.
    day4 = OUT / "2023-02-03"
    day4.mkdir(parents=True)
    mixed = Path("tests/fixtures/mixed")
    for name in ("newsplease.json", "bbc_business.rss", "npr_technology.json",
                 "pages/page_a.html", "more.jsonl.zst"):
        shutil.copy(mixed / name, day4 / Path(name).name)


if __name__ == "__main__":
    main()
