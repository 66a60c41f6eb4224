"""A spaCy component that drops one-word entities that are common nouns (``Haubitzen`` as LOC).

German capitalises every noun, so a CNN that has never seen ``Konfliktgebiete`` or ``Haubitzen``
cannot tell it from a name by its shape; news NER data is too small to list them all. The shipped
German pipeline therefore carries a list of common-noun word forms (German Wiktionary's nouns,
without place and person names, and without the forms its training data uses mostly as names,
such as ``Grünen`` or ``Union``), stored as 64-bit hashes (``nouns.npy``, about 2 MB), and this
component, placed last, removes a single-token PER/LOC/ORG entity whose text is on it.
``training/ner/package.py`` builds the list; ``training/ner/README.md`` gives its effect.

Any code that loads such a pipeline must import this module first (it registers the factory):
``pipeline.enrich.ner.load_pipeline`` and the training tools do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc

FACTORY = "noun_filter"
FILE = "nouns.npy"
NAMES_FILE = "names.npy"


def word_hash(word: str) -> int:
    """A stable 64-bit hash of a word form (the same in every process and release)."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "big")


MIN_HEAD = 4
"""Shortest compound head looked up: ``Konfliktgebiete`` is a noun because ``Gebiete`` is."""


def _hashes(words: Iterable[str]) -> np.ndarray:
    return np.unique(np.fromiter((word_hash(w) for w in words), dtype=np.uint64))


def _member(table: np.ndarray, word: str) -> bool:
    if not table.size:
        return False
    h = np.uint64(word_hash(word))
    at = int(np.searchsorted(table, h))
    return at < table.size and bool(table[at] == h)


def compound_heads(word: str) -> Iterable[str]:
    """The word, then its capitalised tails of ``MIN_HEAD`` letters or more (German compounds
    take the class of their last part)."""
    yield word
    for at in range(1, len(word) - MIN_HEAD + 1):
        tail = word[at:]
        if tail[0].isalpha():
            yield tail[0].upper() + tail[1:]


class NounFilter:
    """Removes single-token entities of ``labels`` whose text is a listed common noun or ends
    in one (a compound), unless it is listed as a name (``Hamburg`` ends in ``Burg``)."""

    def __init__(self, labels: Iterable[str]) -> None:
        self.labels = frozenset(labels)
        self.hashes = np.empty(0, dtype=np.uint64)
        self.names = np.empty(0, dtype=np.uint64)

    def set_nouns(self, words: Iterable[str], names: Iterable[str] = ()) -> None:
        self.hashes = _hashes(words)
        self.names = _hashes(names)

    def is_noun(self, word: str) -> bool:
        if _member(self.names, word) or not word[:1].isupper():
            return False
        return any(_member(self.hashes, head) for head in compound_heads(word))

    def __call__(self, doc: Doc) -> Doc:
        ents = doc.ents
        keep = [e for e in ents
                if not (len(e) == 1 and e.label_ in self.labels and self.is_noun(e.text))]
        if len(keep) != len(ents):
            doc.ents = keep
        return doc

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.save(path / FILE, self.hashes)
        np.save(path / NAMES_FILE, self.names)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> NounFilter:
        self.hashes = np.load(Path(path) / FILE)
        names = Path(path) / NAMES_FILE
        self.names = np.load(names) if names.is_file() else np.empty(0, dtype=np.uint64)
        return self


@Language.factory(FACTORY, default_config={"labels": ["PER", "LOC", "ORG"]})
def make_noun_filter(nlp: Language, name: str, labels: list[str]) -> NounFilter:
    del nlp, name
    return NounFilter(labels)


