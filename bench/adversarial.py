"""Adversarial records mixed into real news: the batch publishes, reconciles, loses nothing.

Clean articles are recombined from the sentences of the 291 DER STANDARD articles of
``news_de/10kgnad_dev.csv`` (``bench.corpus``'s recipe, German only); a seeded generator then
writes hostile variants of such articles beside them: relative times and dates pushed to
extremes, impossible UTC offsets, unicode edge cases (lone surrogates, NUL, terminal escapes,
C1, bidi overrides, BOMs, a 10,000-character word), broken UTF-8, non-UTF-8 file names,
compressed files and archives cut at a random byte, WARC records with a bogus
Content-Length, empty files. ``tests/test_fuzz_corpus.py``
runs small mixes under Hypothesis; ``main`` is the soak run:

    python -m bench.adversarial [--n 1000] [--adversarial 200] [--seed 0] [--ner]

It runs ``newsetl run`` with the gate's default thresholds and prints, for every adversarial
file, whether its records were loaded or rejected (with the reasons), and the run's counts.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import json
import lzma
import os
import random
import tarfile
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from bench.corpus import DATA, Pool, _article, gnad_sources

DAY = date(2023, 3, 1)


@lru_cache(maxsize=2)
def gnad_pool(data: Path = DATA) -> Pool:
    """Sentences of the DER STANDARD articles of 10kGNAD dev (headlines as subheadings)."""
    texts, headings = gnad_sources(data)
    return Pool("de", texts, sorted(set(headings)))


def article(pool: Pool, rng: random.Random, month: str = "2023-02") -> str:
    """A reference-format dump: `` date <month> <teaser>``, a blank line, paragraphs."""
    teaser, paragraphs = _article(pool, rng)
    return f" date {month} {teaser}\n\n" + "\n\n".join(paragraphs)


def _insert(text: str, sentence: str, rng: random.Random) -> str:
    """``sentence`` at the start of a random paragraph of the body."""
    head, _, body = text.partition("\n\n")
    paragraphs = body.split("\n\n")
    at = rng.randrange(len(paragraphs))
    paragraphs[at] = f"{sentence} {paragraphs[at]}"
    return head + "\n\n" + "\n\n".join(paragraphs)


def _big(rng: random.Random) -> int:
    return rng.choice([0, 1, 999, 2023, 8000, 30000, 10**rng.randint(4, 20) - 1])


UNITS = ["Tagen", "Wochen", "Monaten", "Jahren", "days ago", "weeks ago", "months ago",
         "years ago"]
ODD_CHARS = ["\x00", "\x1b[2J", "\x1b]0;title\x07", "\x85", "\x9b31m", "\u202e", "\ufeff",
             "\u2028", "\U0001f4f0", "e\u0301", "\x7f", "\r", "\t", "\uffff", "x" * 10_000]
ODD_DATES = ["2023-01-30T10:00+99:00", "2023-01-30T10:00-24:00", "0000-00-00", "9999-12-31",
             "99999-01-01", "10000000000000", "-1", "2023-02-30", "2023-13-01", "1.1.1",
             "31.02.2023 25.61 +9900", "Mon, 30 Jan 2023 10:00:00 +9900", "", "null",
             "0001-01-01T00:30+01:00", "9999-12-31T23:59-14:00"]


def _timex(pool: Pool, rng: random.Random) -> list[tuple[str, bytes]]:
    unit = rng.choice(UNITS)
    n = _big(rng)
    phrase = f"vor {n} {unit}" if not unit.endswith("ago") else f"{n} {unit}"
    return [("timex.txt", _insert(article(pool, rng), f"Das war {phrase}.", rng).encode())]


def _dateline(pool: Pool, rng: random.Random) -> list[tuple[str, bytes]]:
    d, m, y = rng.randint(0, 99), rng.randint(0, 99), rng.choice([0, 1, 2023, 9999, 99999])
    offset = f"{rng.choice('+-')}{rng.randint(0, 9999):04d}"
    text = article(pool, rng)
    head, _, body = text.partition("\n\n")
    line = f"BERLIN, {d:02d}.{m:02d}.{y} {rng.randint(0, 99)}.{rng.randint(0, 99):02d} {offset} - "
    return [("dateline.txt", f"{head}\n\n{line}{body}".encode())]


def _header_date(pool: Pool, rng: random.Random) -> list[tuple[str, bytes]]:
    month = rng.choice(["99999-99", "0000-00", "-2023-01", "2023-1x", "9999-12", "0001-01",
                        "2023-02-29", "１９９０-０１"])
    return [("header.txt", article(pool, rng, month).encode())]


def _json(pool: Pool, rng: random.Random) -> list[tuple[str, bytes]]:
    lines = []
    for _ in range(rng.randint(1, 4)):
        body = article(pool, rng).split("\n\n", 1)[1]
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(body) + 1)
            body = body[:at] + rng.choice(ODD_CHARS) + body[at:]
        record = {"title": "Titel " + rng.choice(ODD_CHARS)[:50], "text": body,
                  "date": rng.choice(ODD_DATES), "url": f"https://example.at/{rng.getrandbits(40)}",
                  "author": rng.choice(["A\x00B", "\x1b[31mX", "Normal Name"])}
        line = json.dumps(record)
        if rng.random() < 0.5:  # a lone surrogate as a JSON escape
            line = line.replace("Titel ", "Titel \\ud800 ", 1)
        lines.append(line)
    return [("records.jsonl", ("\n".join(lines) + "\n").encode())]


def _bad_bytes(pool: Pool, rng: random.Random) -> list[tuple[str, bytes]]:
    data = bytearray(article(pool, rng).encode())
    for _ in range(rng.randint(1, 5)):
        at = rng.randrange(len(data))
        data[at:at] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4)))
    return [("bytes.txt", bytes(data))]


def _bad_name(pool: Pool, rng: random.Random) -> list[tuple[str, bytes]]:
    return [(os.fsdecode(b"name\xff\xfe" + bytes([rng.randint(0x80, 0xff)]) + b".txt"),
             article(pool, rng).encode())]


def _compress(kind: str, name: str, payload: bytes) -> tuple[str, bytes]:
    if kind == "gz":
        return name + ".gz", gzip.compress(payload)
    if kind == "bz2":
        return name + ".bz2", bz2.compress(payload)
    if kind == "xz":
        return name + ".xz", lzma.compress(payload)
    import zstandard

    return name + ".zst", zstandard.ZstdCompressor().compress(payload)


def _truncated(pool: Pool, rng: random.Random) -> list[tuple[str, bytes]]:
    kind = rng.choice(["gz", "bz2", "xz", "zst", "zip", "tar.gz"])
    texts = [article(pool, rng) for _ in range(rng.randint(2, 5))]
    if kind == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for i, t in enumerate(texts):
                zf.writestr(f"a{i}.txt", t)
        name, data = "archive.zip", buffer.getvalue()
    elif kind == "tar.gz":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for i, t in enumerate(texts):
                payload = t.encode()
                info = tarfile.TarInfo(f"a{i}.txt")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        name, data = "archive.tar.gz", buffer.getvalue()
    else:
        payload = "\n".join(json.dumps({"title": "T", "text": t.split("\n\n", 1)[1],
                                        "date": "2023-02-28"}) for t in texts) + "\n"
        name, data = _compress(kind, "records.jsonl", payload.encode())
    cut = rng.randrange(1, len(data))
    return [(name, data[:cut])]


def _warc_record(rng: random.Random, text: str, length: str | None) -> bytes:
    """A WARC response with an HTML page of ``text``; ``length`` overrides Content-Length."""
    paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n")[1:])
    page = (f"<!DOCTYPE html><html lang=de><head><meta charset=utf-8><title>Bericht</title>"
            f"</head><body><article><h1>Bericht</h1>{paragraphs}</article></body></html>"
            ).encode()
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Content-Length: %d\r\n\r\n" % len(page)) + page
    head = ["WARC/1.0", "WARC-Type: response", f"WARC-Record-ID: <urn:uuid:{rng.getrandbits(64)}>",
            "WARC-Date: 2023-02-28T10:00:00Z",
            f"WARC-Target-URI: https://example.at/{rng.getrandbits(40)}.html",
            "Content-Type: application/http; msgtype=response"]
    if length != "":
        head.append(f"Content-Length: {len(http) if length is None else length}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + http + b"\r\n\r\n"


def _warc(pool: Pool, rng: random.Random) -> list[tuple[str, bytes]]:
    """Three to five pages, one with a bogus Content-Length (too large or small, not a number,
    missing), or a file cut at a random byte."""
    n = rng.randint(3, 5)
    bogus = rng.randrange(n)
    records = []
    for i in range(n):
        length = None
        if i == bogus:
            length = rng.choice(["999999999", "12ab", "-5", "", str(rng.randint(0, 5000))])
        records.append(_warc_record(rng, article(pool, rng), length))
    data = b"".join(records)
    if rng.random() < 0.3:
        data = data[:rng.randrange(1, len(data))]
    return [("crawl.warc", data)]


def _empty(pool: Pool, rng: random.Random) -> list[tuple[str, bytes]]:
    return [("empty.txt", rng.choice([b"", b"   \n\n", b" date 2023-02 \n", b"\x00" * 64,
                                      "\ufeff".encode()]))]


Mutation = Callable[[Pool, random.Random], list[tuple[str, bytes]]]
MUTATIONS: dict[str, Mutation] = {
    "timex": _timex, "dateline": _dateline, "header_date": _header_date, "json": _json,
    "bad_bytes": _bad_bytes, "bad_name": _bad_name, "truncated": _truncated, "empty": _empty,
    "warc": _warc,
}


@dataclass(frozen=True)
class Landing:
    clean: list[str]
    adversarial: dict[str, str]
    """File name (relative to the day folder) -> the mutation that made it."""


def build(day_dir: Path, n_clean: int, n_adversarial: int, seed: int,
          pool: Pool | None = None) -> Landing:
    """Write ``n_clean`` clean dumps and ``n_adversarial`` hostile files into ``day_dir``."""
    pool = pool or gnad_pool()
    rng = random.Random(seed)
    day_dir.mkdir(parents=True, exist_ok=True)
    clean = []
    for i in range(n_clean):
        name = f"{i:06d}_{rng.getrandbits(64):016x}.txt"
        (day_dir / name).write_text(article(pool, rng), encoding="utf-8")
        clean.append(name)
    adversarial: dict[str, str] = {}
    kinds = sorted(MUTATIONS)
    for i in range(n_adversarial):
        kind = kinds[i % len(kinds)] if i < len(kinds) else rng.choice(kinds)
        for name, data in MUTATIONS[kind](pool, rng):
            full = f"adv{i:05d}_{kind}_{name}"
            (day_dir / full).write_bytes(data)
            adversarial[full] = kind
    return Landing(clean, adversarial)


def main() -> None:
    import duckdb

    from pipeline import stages
    from pipeline.ingest import readers
    from pipeline.ingest.sanitise import display_name
    from pipeline.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="clean articles")
    parser.add_argument("--adversarial", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ner", action="store_true", help="with the shipped German NER")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "landing" / DAY.isoformat()
        landing = build(root, args.n, args.adversarial, args.seed)
        extra = {} if args.ner else {"ner_models": {"de": "none"}}
        settings = Settings.from_mapping({"warehouse": Path(tmp) / "wh", **extra})
        started = time.perf_counter()
        result = stages.run_batch(readers.list_input_files(root), DAY, settings)
        wall = time.perf_counter() - started
        con = duckdb.connect(str(result.catalog), read_only=True)
        read, loaded, rejected = con.execute("SELECT records_read, articles_loaded, "
                                             "records_rejected FROM runs").fetchone() or (0, 0, 0)
        seen: dict[str, Counter[str]] = {}
        for source_file, outcome in con.execute(
                "SELECT source_file, 'loaded' FROM articles UNION ALL "
                "SELECT source_file, reason_code FROM rejects").fetchall():
            seen.setdefault(source_file, Counter())[outcome] += 1
        gate = con.execute("SELECT \"check\", status, observed FROM quality_checks "
                           "ORDER BY 1").fetchall()
        con.close()
    by_kind: dict[str, Counter[str]] = {}
    missing = []
    for name, kind in landing.adversarial.items():
        outcome = seen.get(display_name(name))
        if not outcome:
            missing.append(name)
            continue
        by_kind.setdefault(kind, Counter()).update(outcome)
    print(f"{len(landing.clean)} clean + {len(landing.adversarial)} adversarial files, "
          f"seed {args.seed}, NER {'on' if args.ner else 'off'}: published in {wall:.1f} s")
    print(f"records read {read} = loaded {loaded} + rejected {rejected}: "
          f"{'reconciles' if read == loaded + rejected else 'DOES NOT RECONCILE'}")
    print(f"clean files loaded: {sum(1 for c in landing.clean if 'loaded' in seen.get(c, {}))}"
          f" of {len(landing.clean)}")
    print("adversarial files by kind (records loaded / rejected by reason):")
    for kind in sorted(by_kind):
        files = sum(1 for k in landing.adversarial.values() if k == kind)
        print(f"  {kind:12s} {files:4d} files: " + ", ".join(
            f"{k} {v}" for k, v in by_kind[kind].most_common()))
    print(f"adversarial files with no row in articles or rejects: {len(missing)} {missing[:5]}")
    print("quality gate: " + ", ".join(f"{c} {s} ({o})" for c, s, o in gate))


if __name__ == "__main__":
    main()
