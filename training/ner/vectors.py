"""Static word features for the NER tok2vec: subword fastText vectors + gazetteer flags.

No German word vectors can be downloaded here, so they are learnt from the raw training text
(``rawtext.py``, never GermEval) with fastText skip-gram (subwords help with unseen names:
``-burg``, ``-ski``, ``-GmbH``). Extra dimensions carry lexicon knowledge the corpora lack: whether
a word occurs in the gazetteer as a person, place or organisation name, and how German Wiktionary
(the ``german-nouns`` package, CC BY-SA) classes it: common noun (any inflected form: ``Kirche``,
``Rathauses``), place name, first or last name. German capitalises every noun, so "is this a
common noun" is the cue a CNN cannot guess for a word it has never seen. The table is written in
word2vec text format for ``spacy init vectors`` and pruned there to keep the shipped model small.

    python -m training.ner.vectors --raw build/ner/raw.jsonl \
        --gazetteer build/ner/gazetteer.jsonl --out build/ner/vectors.txt
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)
GAZ_LABELS = ("PER", "LOC", "ORG")
LEXICON = ("noun", "place", "person")  # Wiktionary classes, after the gazetteer flags


def lexicon_flags() -> dict[str, list[float]]:
    """Word form -> [common noun, place name, person name] from German Wiktionary's nouns."""
    import csv

    import german_nouns  # training-only dependency

    path = Path(next(iter(german_nouns.__path__))) / "nouns.csv"
    flags: dict[str, list[float]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            pos = set((row.get("pos") or "").split(","))
            if pos & {"Toponym", "Straßenname"}:
                kind = 1
            elif pos & {"Vorname", "Nachname"}:
                kind = 2
            elif pos & {"Eigenname", "Abkürzung", "Buchstabe", "Symbol", "Affix", "Suffix"}:
                continue
            else:
                kind = 0
            forms = {row["lemma"]} | {v for k, v in row.items()
                                      if k not in ("lemma", "pos") and not k.startswith("genus")
                                      and v}
            for form in forms:
                if form[:1].isupper() and " " not in form:
                    flags.setdefault(form, [0.0, 0.0, 0.0])[kind] = 1.0
    return flags


def gazetteer_flags(path: Path) -> dict[str, list[float]]:
    """Word -> [is PER, is LOC, is ORG] from the entity-ruler patterns (every token of a name)."""
    flags: dict[str, list[float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        pattern = json.loads(line)
        label = pattern["label"]
        if label not in GAZ_LABELS:
            continue
        for word in _pattern_words(pattern["pattern"]):
            if isinstance(word, str) and word[:1].isupper():
                flags.setdefault(word, [0.0, 0.0, 0.0])[GAZ_LABELS.index(label)] = 1.0
    return flags


def _pattern_words(pattern: str | list[dict[str, Any]]) -> list[str]:
    """The literal words of a phrase pattern or of a token pattern's TEXT/ORTH (incl. IN lists)."""
    if isinstance(pattern, str):
        return pattern.split()
    words: list[str] = []
    for token in pattern:
        for key in ("TEXT", "ORTH"):
            value = token.get(key)
            if isinstance(value, str):
                words.append(value)
            elif isinstance(value, dict):
                words.extend(v for v in value.get("IN", []) if isinstance(v, str))
    return words


def main() -> None:
    import fasttext  # training-only dependency

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=Path("build/ner/raw.jsonl"))
    parser.add_argument("--gazetteer", type=Path, default=Path("build/ner/gazetteer.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("build/ner/vectors.txt"))
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gazetteer-scale", type=float, default=1.0)
    parser.add_argument("--no-lexicon", action="store_true", help="only the gazetteer flags")
    parser.add_argument("--no-gazetteer", action="store_true",
                        help="no gazetteer flags either (English: no gazetteer yet)")
    parser.add_argument("--fasttext-model", type=Path, default=Path("build/ner/fasttext.bin"),
                        help="reused if it exists (delete it to retrain)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    counts: Counter[str] = Counter()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as tmp:
        for line in args.raw.read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            counts.update(text.split())
            tmp.write(text + "\n")
    LOGGER.info("raw text: %d tokens, %d types", sum(counts.values()), len(counts))
    if args.fasttext_model.exists():
        model = fasttext.load_model(str(args.fasttext_model))
    else:
        model = fasttext.train_unsupervised(
            tmp.name, model="skipgram", dim=args.dim, epoch=args.epochs,
            minCount=args.min_count, minn=3, maxn=5, thread=args.threads, verbose=0)
        model.save_model(str(args.fasttext_model))
    Path(tmp.name).unlink()
    dim = model.get_dimension()
    flags = {} if args.no_gazetteer else gazetteer_flags(args.gazetteer)
    lexicon = {} if args.no_lexicon else lexicon_flags()
    n_extra = (0 if args.no_gazetteer else len(GAZ_LABELS)) + (
        0 if args.no_lexicon else len(LEXICON))
    words = [w for w, c in counts.most_common() if c >= args.min_count]
    known = set(words)
    # Gazetteer and lexicon words get subword vectors too: their flags matter most when the word
    # never occurs in the raw text.
    words += sorted((set(flags) | set(lexicon)) - known)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        fh.write(f"{len(words)} {dim + n_extra}\n")
        for word in words:
            extra = [] if args.no_gazetteer else [
                args.gazetteer_scale * f for f in flags.get(word, [0.0, 0.0, 0.0])]
            if not args.no_lexicon:
                extra += [args.gazetteer_scale * f for f in lexicon.get(word, [0.0, 0.0, 0.0])]
            vec = [*model.get_word_vector(word).tolist(), *extra]
            fh.write(word + " " + " ".join(f"{v:.4f}" for v in vec) + "\n")
    LOGGER.info("%s: %d words x %d dims (%d gazetteer, %d lexicon words)", args.out,
                len(words), dim + n_extra, len(flags), len(lexicon))


if __name__ == "__main__":
    main()
