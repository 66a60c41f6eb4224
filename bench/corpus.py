"""A synthetic but realistic corpus of reference-format dumps, for the throughput benchmark.

Articles are recombined from real news texts of ``../shared/data``: German from DER STANDARD
(10kGNAD dev, ``news_de/10kgnad_dev.csv``) and the SmartData news documents
(``news_de/smartdata_v1_train.jsonl``, ``source_type == "news"``), English from the BBC files
(``news_en/bbc/<topic>/NNN.txt``). Each source text is split into sentences; an article takes a
teaser sentence and 3-8 paragraphs (runs of consecutive sentences), each from a different source
text of one language, sometimes a short subheading (a real headline) before a paragraph, and
has 250-450 words (a few more where the last sentence overshoots). About 80 % are German.
Everything is drawn from one ``random.Random(seed)``, so a seed gives the same files, and no two
articles have the same content.

Layout (the reference format of ``seed/000_5fa03b91928cf31a.txt``)::

    <out>/2023-03-01/000000_<16 hex>.txt     `` date 2023-02 <teaser>``, blank line, paragraphs
    <out>/2023-03-02/001000_<16 hex>.txt     1,000 files per day folder (fewer for small N,
    ...                                      so that there are at least 4 day folders)

``cached_corpus`` keeps built corpora under ``build/bench/corpus-<n>-<seed>/`` (with
``corpus-<n>-<seed>.json`` beside it, written last), so re-runs do not rebuild.

    python -m bench.corpus --n 1000 [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import logging
import math
import random
import re
import shutil
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import ftfy

from pipeline.transform.textdump import SUBHEADING_MAX_CHARS, SUBHEADING_MAX_WORDS, is_heading_like

LOGGER = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CACHE = REPO / "build" / "bench"

FIRST_DAY = date(2023, 3, 1)
FILES_PER_DAY = 1000
MIN_DAYS = 4
SHARE_ENGLISH = 0.2
WORDS = (250, 450)
PARAGRAPHS = (3, 8)
SUBHEADING_SHARE = 0.3
# Header months: never after the first day folder, so a batch dated FIRST_DAY (or later) sees no
# article "dated after its interval" (a quality-gate check).
MONTHS = ("2022-10", "2022-11", "2022-12", "2023-01", "2023-02", "2023-03")

WORD = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_SENTENCE_END = re.compile(r"(?<=[.!?…])([\"'“”»«)]?)\s+(?=[\"„“»«(]?[A-ZÄÖÜ0-9])")
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'“”»«)]?$")
_ABBREVIATIONS = frozenset((
    "bzw", "ca", "chr", "dr", "etc", "evtl", "ggf", "inkl", "jh", "jr", "mio", "mr", "mrd",
    "mrs", "ms", "nr", "prof", "rd", "sr", "st", "str", "usw", "vgl", "zb", "abs", "bzgl", "co",
    "corp", "inc", "ltd", "no", "vs", "jan", "feb", "mar", "apr", "aug", "sep", "sept", "oct",
    "okt", "nov", "dec", "dez", "gen"))


@dataclass(frozen=True)
class CorpusInfo:
    """What a built corpus holds: the figures the benchmark divides by."""

    path: Path
    n: int
    seed: int
    days: tuple[str, ...]
    """Day folders (``YYYY-MM-DD``), in order."""
    files_per_day: int
    words: int
    """Word tokens (``re.findall(r"\\w+")``) of every teaser, subheading and paragraph."""
    articles_by_language: Mapping[str, int]
    words_by_language: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["path"] = str(self.path)
        out["days"] = list(self.days)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CorpusInfo:
        return cls(path=Path(data["path"]), n=int(data["n"]), seed=int(data["seed"]),
                   days=tuple(data["days"]), files_per_day=int(data["files_per_day"]),
                   words=int(data["words"]),
                   articles_by_language=dict(data["articles_by_language"]),
                   words_by_language=dict(data["words_by_language"]))

    def files(self) -> Iterator[Path]:
        for day in self.days:
            yield from sorted((self.path / day).glob("*.txt"))


@dataclass(frozen=True)
class Pool:
    """Source material of one language: sentences per source text, and headings."""

    language: str
    texts: list[list[str]]
    headings: list[str]


def count_words(text: str) -> int:
    return len(WORD.findall(text))


def _clean(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text).translate(_INVISIBLE)).strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of one paragraph; a split after an abbreviation, an initial or an ordinal
    (``bzw.``, ``J.``, ``12.``) is undone."""
    parts = _SENTENCE_END.split(_clean(text))
    # re.split with one group: [sentence, closing-quote, sentence, closing-quote, ...]
    pieces = [parts[i] + (parts[i + 1] if i + 1 < len(parts) else "")
              for i in range(0, len(parts), 2)]
    sentences: list[str] = []
    for piece in pieces:
        if sentences:
            last = sentences[-1].rstrip(".").rsplit(" ", 1)[-1]
            if (last.lower() in _ABBREVIATIONS or last[-1:].isdigit()
                    or (len(last) == 1 and last.isalpha())):
                sentences[-1] = f"{sentences[-1]} {piece}"
                continue
        sentences.append(piece)
    return sentences


def _usable(sentence: str) -> bool:
    words = len(sentence.split())
    return 4 <= words <= 70 and bool(_ENDS_SENTENCE.search(sentence))


def _heading(line: str) -> str | None:
    """A real headline usable as a subheading (the pipeline's rule: short, one line, no final
    punctuation, capitalised); headlines with digits are left out (they could read as dates)."""
    line = _clean(line).rstrip(".")
    if (len(line.split()) >= 3 and not any(c.isdigit() for c in line)
            and is_heading_like(line, SUBHEADING_MAX_CHARS, SUBHEADING_MAX_WORDS)):
        return line
    return None


def _source(sentences: list[str]) -> list[str] | None:
    kept = [s for s in sentences if _usable(s)]
    return kept if len(kept) >= 2 and sum(count_words(s) for s in kept) >= 40 else None


def gnad_sources(data: Path = DATA) -> tuple[list[list[str]], list[str]]:
    """Sentences of each DER STANDARD article of 10kGNAD dev, and their usable headlines."""
    texts: list[list[str]] = []
    headings: list[str] = []
    with (data / "news_de" / "10kgnad_dev.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter=";", quotechar="'"):
            if len(row) != 2:
                continue
            sentences = split_sentences(row[1])
            # The first sentence is the DER STANDARD headline ("18 Menschen verschleppt.").
            if sentences and len(sentences[0].split()) <= 10:
                if (heading := _heading(sentences[0])) is not None:
                    headings.append(heading)
                sentences = sentences[1:]
            if (kept := _source(sentences)) is not None:
                texts.append(kept)
    return texts, headings


@lru_cache(maxsize=2)
def load_pools(data: Path = DATA) -> dict[str, Pool]:
    """German and English source material from ``data`` (``../shared/data``); cached, do not
    modify."""
    de_texts, de_headings = gnad_sources(data)
    with (data / "news_de" / "smartdata_v1_train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            if doc.get("source_type") != "news" or not doc.get("text"):
                continue
            sentences = []
            for text_line in str(doc["text"]).split("\n"):
                if len(text_line.split()) >= 8:
                    sentences.extend(split_sentences(text_line))
                elif (heading := _heading(text_line)) is not None:
                    de_headings.append(heading)
            if (kept := _source(sentences)) is not None:
                de_texts.append(kept)
    en_texts: list[list[str]] = []
    en_headings: list[str] = []
    for path in sorted((data / "news_en" / "bbc").glob("*/*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # sport/199.txt is Latin-1
            text = raw.decode("cp1252")
        text = ftfy.fix_text(text)  # mojibake in a few BBC files (politics/001.txt: "Â£1,400")
        title, _, body = text.partition("\n")
        if (heading := _heading(title)) is not None:
            en_headings.append(heading)
        sentences = [s for para in re.split(r"\n\s*\n", body) for s in split_sentences(para)]
        if (kept := _source(sentences)) is not None:
            en_texts.append(kept)
    pools = {"de": Pool("de", de_texts, sorted(set(de_headings))),
             "en": Pool("en", en_texts, sorted(set(en_headings)))}
    for pool in pools.values():
        if len(pool.texts) < PARAGRAPHS[1] + 1 or not pool.headings:
            raise ValueError(f"too little {pool.language} source text in {data}")
    return pools


def _paragraph(sentences: list[str], target: int, rng: random.Random) -> str:
    """A run of consecutive sentences from a random start, about ``target`` words long."""
    start = rng.randrange(len(sentences))
    end = start
    words = 0
    while end < len(sentences) and words < target:
        words += count_words(sentences[end])
        end += 1
    while start > 0 and words < target:  # ran off the end: extend backwards
        start -= 1
        words += count_words(sentences[start])
    return " ".join(sentences[start:end])


def _article(pool: Pool, rng: random.Random) -> tuple[str, list[str]]:
    """Teaser and paragraphs (subheadings included) of one article."""
    target = rng.randint(*WORDS)
    n_paragraphs = rng.randint(*PARAGRAPHS)
    sources = rng.sample(range(len(pool.texts)), n_paragraphs + 1)
    teaser_source = pool.texts[sources[0]]
    teaser = rng.choice(teaser_source)
    budget = target - count_words(teaser)
    paragraphs: list[str] = []
    for i, index in enumerate(sources[1:]):
        share = budget // (n_paragraphs - i)
        paragraphs.append(_paragraph(pool.texts[index], max(share, 1), rng))
        budget -= count_words(paragraphs[-1])
    if rng.random() < SUBHEADING_SHARE and n_paragraphs >= 3:
        at = rng.randrange(1, n_paragraphs - 1)  # before a paragraph that is not the first/last
        if len(paragraphs[at]) > 100:
            paragraphs.insert(at, rng.choice(pool.headings))
    return teaser, paragraphs


def files_per_day(n: int) -> int:
    """1,000 files per day folder, fewer for small corpora so there are ``MIN_DAYS`` folders
    (the backfill scaling measurement needs several days)."""
    return max(1, min(FILES_PER_DAY, math.ceil(n / MIN_DAYS)))


def build_corpus(n: int, out: Path, seed: int = 0, data: Path = DATA) -> CorpusInfo:
    """Write ``n`` reference-format dumps into ``out/<YYYY-MM-DD>/`` and describe them."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    pools = load_pools(data)
    rng = random.Random(seed)
    per_day = files_per_day(n)
    seen_content: set[str] = set()
    seen_ids: set[str] = set()
    days: list[str] = []
    articles: dict[str, int] = {"de": 0, "en": 0}
    words: dict[str, int] = {"de": 0, "en": 0}
    for i in range(n):
        day = (FIRST_DAY + timedelta(days=i // per_day)).isoformat()
        if not days or days[-1] != day:
            days.append(day)
            (out / day).mkdir(parents=True, exist_ok=True)
        language = "en" if rng.random() < SHARE_ENGLISH else "de"
        while True:
            teaser, paragraphs = _article(pools[language], rng)
            digest = hashlib.sha256("\n".join([teaser, *paragraphs]).encode()).hexdigest()
            if digest not in seen_content:
                seen_content.add(digest)
                break
        while (source_id := f"{rng.getrandbits(64):016x}") in seen_ids:
            pass
        seen_ids.add(source_id)
        month = rng.choice(MONTHS)
        text = f" date {month} {teaser}\n\n" + "\n\n".join(paragraphs)
        (out / day / f"{i:06d}_{source_id}.txt").write_text(text, encoding="utf-8")
        articles[language] += 1
        words[language] += count_words(teaser) + sum(count_words(p) for p in paragraphs)
    info = CorpusInfo(out, n, seed, tuple(days), per_day, sum(words.values()), articles, words)
    LOGGER.info("built corpus %s: %d articles (%s), %d words", out, n,
                ", ".join(f"{k}={v}" for k, v in articles.items()), info.words)
    return info


def cached_corpus(n: int, seed: int = 0, cache: Path = CACHE, data: Path = DATA) -> CorpusInfo:
    """The corpus ``cache/corpus-<n>-<seed>/``, built on first use (into a temporary folder,
    renamed when complete; the JSON beside it is written last)."""
    path = cache / f"corpus-{n}-{seed}"
    marker = cache / f"corpus-{n}-{seed}.json"
    if marker.is_file() and path.is_dir():
        info = CorpusInfo.from_json(json.loads(marker.read_text(encoding="utf-8")))
        # resolved: the same cache reached through a link (a git worktree's build/) is the
        # same corpus, not a stale one to delete
        if info.path.resolve() == path.resolve() and info.n == n and info.seed == seed:
            return info
    tmp = cache / f".corpus-{n}-{seed}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)
    tmp.mkdir(parents=True)
    built = build_corpus(n, tmp, seed, data)
    tmp.rename(path)
    info = dataclasses.replace(built, path=path)
    marker.write_text(json.dumps(info.to_json(), indent=2) + "\n", encoding="utf-8")
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="an empty folder (default: the cache, build/bench/corpus-N-SEED)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    info = (build_corpus(args.n, args.out, args.seed) if args.out
            else cached_corpus(args.n, args.seed))
    print(json.dumps(info.to_json(), indent=2))


if __name__ == "__main__":
    main()
