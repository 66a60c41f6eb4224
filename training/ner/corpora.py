"""Readers for the German NER corpora in ``../shared/data``, mapped onto PER/LOC/ORG/MISC.

Every reader yields sentences as ``(words, tags)`` with IOB2 tags over the project's labels, or
``""`` for a token whose annotation is *missing* (spaCy then neither rewards nor punishes any
prediction there). Mapping policy, per corpus (see ``LABEL_MAPS``):

* persons, places and organisations map to PER, LOC, ORG whatever their fine type (LER's judges
  and lawyers are persons; its courts, institutions, companies and brands are organisations; its
  countries, cities, streets and landscapes are places);
* types that are real entities of another kind map to MISC where the corpus has a MISC notion
  (Europarl, WikiNEuRal) and are left out elsewhere;
* spans we cannot map faithfully are marked missing, not O: LER's court-decision citations and
  literature references (they contain court and author names the corpus does not mark), MobIE's
  stop names and route numbers (``A9``, ``S1``: GermEval would not call them locations), SmartData
  events, and so on;
* legal-norm references (LER ``GS``, ``VO``, ``EUN``, ...) are not entities in the news sense:
  they become O, which teaches the model that ``§ 5 BGB`` is no organisation.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

Sentence = tuple[list[str], list[str]]
MISSING = ""
LABELS = ("PER", "LOC", "ORG", "MISC")

LER = {
    "PER": "PER", "RR": "PER", "AN": "PER",
    "LD": "LOC", "ST": "LOC", "STR": "LOC", "LDS": "LOC",
    "ORG": "ORG", "UN": "ORG", "INN": "ORG", "GRT": "ORG", "MRK": "ORG",
    "GS": "O", "VO": "O", "EUN": "O", "VS": "O", "VT": "O",
    "RS": MISSING, "LIT": MISSING,
}
MOBIE = {
    "person": "PER",
    "location": "LOC", "location-city": "LOC", "location-street": "LOC",
    "organization": "ORG", "organization-company": "ORG",
    "location-stop": MISSING, "location-route": MISSING, "org-position": MISSING,
}
SMARTDATA = dict(MOBIE)
PLAIN = {"PER": "PER", "LOC": "LOC", "ORG": "ORG", "MISC": "MISC"}
WNUT17 = {
    "person": "PER", "location": "LOC", "corporation": "ORG", "group": "ORG",
    "product": MISSING, "creative-work": MISSING,
}
"""WNUT-17 products (``iPhone``) and creative works (``Star Wars``) would be MISC in CoNLL, but
WNUT's notion is wider (software, TV shows, songs, hashtags) and CoNLL's MISC also covers
nationalities and events WNUT leaves O: neither MISC nor O is faithful, so they are missing."""
NO_MISC = {"PER": "PER", "LOC": "LOC", "ORG": "ORG"}


def map_tag(tag: str, mapping: dict[str, str], default: str = "O") -> tuple[str, str]:
    """Split an IOB tag and map its type: ("B", "LOC"), ("O", ""), or ("", "") for missing."""
    tag = tag.strip()
    if not tag or tag == "O":
        return "O", ""
    prefix, _, kind = tag.partition("-") if tag[:2] in ("B-", "I-", "E-", "S-") else ("B", "", tag)
    label = mapping.get(kind, default)
    if label == "O":
        return "O", ""
    if label == MISSING:
        return MISSING, ""
    return ("B" if prefix in ("B", "S") else "I"), label


def to_iob2(raw: list[str], mapping: dict[str, str], default: str = "O") -> list[str]:
    """Map fine tags to IOB2 over our labels; repairs IOB1 (an I- that starts a span)."""
    out: list[str] = []
    prev = "O"
    for tag in raw:
        prefix, label = map_tag(tag, mapping, default)
        if prefix == MISSING:
            out.append(MISSING)
            prev = MISSING
            continue
        if prefix == "O":
            out.append("O")
            prev = "O"
            continue
        if prefix == "I" and prev not in (f"B-{label}", f"I-{label}"):
            prefix = "B"
        prev = f"{prefix}-{label}"
        out.append(prev)
    return _extend_missing(out)


def _extend_missing(tags: list[str]) -> list[str]:
    """An I- tag right after a missing token continues a span we cannot see: mark it missing."""
    out = list(tags)
    for i in range(1, len(out)):
        if out[i].startswith("I-") and out[i - 1] == MISSING:
            out[i] = MISSING
    return out


def read_columns(path: Path, token_col: int, tag_col: int, sep: str | None = None,
                 skip_prefix: tuple[str, ...] = ("#\t", "# ", "-DOCSTART-")) -> Iterator[
                     tuple[list[str], list[str]]]:
    """Blank-line separated sentences of a column file (gzip by extension)."""
    opener = gzip.open if path.suffix == ".gz" else open
    words: list[str] = []
    tags: list[str] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip():
                if words:
                    yield words, tags
                words, tags = [], []
                continue
            if line.startswith(skip_prefix):
                continue
            cols = line.split(sep)
            if len(cols) < 2 or not cols[token_col].strip():
                continue
            words.append(cols[token_col])
            tags.append(cols[tag_col])
    if words:
        yield words, tags


def chunk(words: list[str], tags: list[str], max_len: int = 60) -> Iterator[Sentence]:
    """Split very long token runs (corpora without sentence breaks) at full stops."""
    start = 0
    for i, word in enumerate(words):
        boundary = word in {".", "!", "?"} and i + 1 - start >= 5
        if (boundary or i + 1 - start >= max_len) and not tags[i].startswith(("B-", "I-")) \
                and (i + 1 >= len(tags) or not tags[i + 1].startswith("I-")):
            yield words[start:i + 1], tags[start:i + 1]
            start = i + 1
    if start < len(words):
        yield words[start:], tags[start:]


def _sentences(rows: Iterable[tuple[list[str], list[str]]], mapping: dict[str, str],
               default: str = "O") -> Iterator[Sentence]:
    for words, raw in rows:
        tags = to_iob2(raw, mapping, default)
        yield from chunk(words, tags)


def germeval(path: Path) -> Iterator[Sentence]:
    """GermEval 2014 outer level, PER/LOC/ORG only: OTH and -deriv/-part are not gold here."""
    return _sentences(read_columns(path, 1, 2, sep="\t"), NO_MISC)


def wikiann(path: Path) -> Iterator[Sentence]:
    return _sentences(read_columns(path, 1, -1, sep="\t"), NO_MISC)


def wikineural(path: Path) -> Iterator[Sentence]:
    return _sentences(read_columns(path, 1, -1, sep="\t"), PLAIN)


def europarl(path: Path) -> Iterator[Sentence]:
    return _sentences(read_columns(path, 0, -1, sep="\t"), PLAIN)


def ler(path: Path) -> Iterator[Sentence]:
    return _sentences(read_columns(path, 0, -1, sep=" "), LER, default=MISSING)


def mobie(path: Path) -> Iterator[Sentence]:
    return _sentences(read_columns(path, 0, -1, sep="\t"), MOBIE)


def zefys(path: Path) -> Iterator[Sentence]:
    return _sentences(read_columns(path, 0, -1, sep="\t"), NO_MISC, default=MISSING)


def europeana(path: Path) -> Iterator[Sentence]:
    """Historical OCR, no sentence breaks: cut at full stops; stray tags become missing."""
    return _sentences(read_columns(path, 0, -1, sep=" "), NO_MISC, default=MISSING)


def conll2003(path: Path) -> Iterator[Sentence]:
    """CoNLL-2003 English ``token POS chunk tag``, space separated, IOB2; no ``-DOCSTART-``."""
    return _sentences(read_columns(path, 0, -1, sep=" "), PLAIN)


def conll2003_de(path: Path) -> Iterator[Sentence]:
    """CoNLL-2003 German ``token<TAB>tag`` (IOB2, ``-DOCSTART-`` between documents). MISC holds
    nationalities and events (``deutschen``), which GermEval calls LOCderiv/OTH: neither is
    scored, so MISC stays MISC."""
    return _sentences(read_columns(path, 0, -1, sep="\t"), PLAIN)


def cleanconll(path: Path) -> Iterator[Sentence]:
    """CleanCoNLL: 5 tab-separated columns, the last is the BIO tag."""
    return _sentences(read_columns(path, 0, -1, sep="\t"), PLAIN)


def wnut17(path: Path) -> Iterator[Sentence]:
    return _sentences(read_columns(path, 0, -1, sep="\t"), WNUT17, default=MISSING)


_SPACE = re.compile(r"\s+")


def btc(path: Path) -> Iterator[Sentence]:
    """Broad Twitter Corpus ``token<TAB>tag``; a few tokens hold (Unicode) spaces: joined by _."""
    rows = ((([_SPACE.sub("_", w.strip()) for w in words]), tags)
            for words, tags in read_columns(path, 0, -1, sep="\t"))
    return _sentences(rows, NO_MISC, default=MISSING)


def training_docs(train_dir: Path) -> Iterator[Any]:
    """Every ``Doc`` of the converted training DocBins (``build/ner/train/*.spacy``)."""
    import spacy
    from spacy.tokens import DocBin

    vocab = spacy.blank("de").vocab
    for path in sorted(train_dir.glob("*.spacy")):
        yield from DocBin().from_disk(path).get_docs(vocab)


_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]", re.UNICODE)


def smartdata(path: Path, source_types: tuple[str, ...] = ("news", "rss")) -> Iterator[Sentence]:
    """SmartData v1 (character offsets): tokenised here, entities mapped like MobIE."""
    for line in path.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        if doc.get("source_type") not in source_types:
            continue
        text: str = doc["text"]
        tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
        tags = ["O"] * len(tokens)
        for ent in doc.get("entities", []):
            prefix, label = map_tag(ent["type"], SMARTDATA)
            lo, hi = ent["start"], ent["end"]
            inside = [i for i, (s, e) in enumerate(tokens) if s >= lo and e <= hi]
            overlapping = [i for i, (s, e) in enumerate(tokens) if s < hi and e > lo]
            if prefix == "O":
                continue
            if prefix == MISSING or inside != overlapping or not inside:
                for i in overlapping:  # unmappable or not on token boundaries
                    tags[i] = MISSING
                continue
            for n, i in enumerate(inside):
                tags[i] = f"{'B' if n == 0 else 'I'}-{label}"
        words = [text[s:e] for s, e in tokens]
        yield from chunk(words, _extend_missing(tags))
