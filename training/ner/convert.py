"""Convert the NER corpora to spaCy DocBin files: ``build/ner/{train,dev}/<corpus>.spacy``.

German (``--lang de``, the default): GermEval 2014 dev is never written here: it is the evaluation
set (``training.ner.evaluate``). CoNLL-2003 German dev (news, never trained on) is the *dev* split
that chooses the checkpoint, as CleanCoNLL dev does for English; the variants without CoNLL
(``no_conll``, ``open``) choose on the other corpora's own dev files.

English (``--lang en``, ``--out build/ner_en``): CoNLL-2003 train is the core, plus WikiANN
train+val, WikiNEuRal val+test, BTC train and WNUT-17 train; the dev split (checkpoint choice) is
CleanCoNLL dev. CoNLL-2003 dev, CleanCoNLL dev and WikiANN test never enter training
(``--variant conll`` writes CoNLL-2003 train alone, for the comparison run).

    python -m training.ner.convert [--lang de|en] [--data ../shared/data] [--out build/ner]

Progress per corpus (and every 1,000 sentences) as in ``newsetl run``: a status line on a
terminal, log lines otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from pipeline.progress import NO_PROGRESS, ClearStatusLine, Progress, choose
from training.ner import corpora
from training.ner.corpora import Sentence

LOGGER = logging.getLogger(__name__)
SEED = 13
LER_OTHER_SHARE = 0.05
"""LER is court decisions (1.7M tokens, mostly legal citations): it dominates by volume and pulls
the model towards legal language, so keep the sentences that have a PER/LOC/ORG and only this
share of the others."""


DE_VARIANTS = ("all", "no_conll", "open")
DE_CONLL_REPEAT = 2
"""CoNLL-2003 German train (Frankfurter Rundschau news, 0.2M tokens) is written this many times
(twice was level with or above once at equal steps: training/ner/README.md)."""
OPEN_DROPPED_DE = ("wikineural", "europarl", "zefys", "conll2003_de")
"""``--variant open`` (``make train-ner NER_OPEN=1``) trains only on openly licensed sets; these
German ones are non-commercial (WikiNEuRal) or research-only (CoNLL-2003 German, Europarl, ZEFYS).
WikiANN (licence unclear) stays, and says so in the model's sources. The English open variant is
BTC + WNUT-17 alone (``sources_en``)."""


def sources(data: Path, variant: str = "all",
            conll_repeat: int = DE_CONLL_REPEAT) -> dict[str, dict[str, Iterable[Sentence]]]:
    """German: GermEval 2014 dev and CoNLL-2003 German dev never enter training; the latter
    chooses the checkpoint of the full recipe."""
    ner = data / "ner"
    train: dict[str, Iterable[Sentence]] = {
        "wikiann": corpora.wikiann(ner / "wikiann/train.conllu"),
        "wikineural": _chain(corpora.wikineural(ner / f"wikineural/{p}.conllu")
                             for p in ("val", "test")),
        "europarl": corpora.europarl(ner / "europarl/train.tsv"),
        "ler": _downsample(corpora.ler(ner / "ler/train.conll.gz"), LER_OTHER_SHARE),
        "mobie": corpora.mobie(ner / "mobie/train.conll2003"),
        "zefys": corpora.zefys(ner / "zefys/train.tsv"),
        "europeana": _chain(corpora.europeana(ner / f"europeana/enp_DE.{p}.bio")
                            for p in ("lft", "onb", "sbb")),
        "smartdata": corpora.smartdata(data / "news_de/smartdata_v1_train.jsonl"),
    }
    if variant != "no_conll":
        for n in range(1, conll_repeat + 1):
            train["conll2003_de" + (f"_{n}" if n > 1 else "")] = corpora.conll2003_de(
                ner / "conll2003_de/train.tsv")
    dev: dict[str, Iterable[Sentence]] = {
        "wikiann": _take(corpora.wikiann(ner / "wikiann/val.conllu"), 2000),
        "europarl": corpora.europarl(ner / "europarl/dev.tsv"),
        "mobie": corpora.mobie(ner / "mobie/dev.conll2003"),
        "zefys": corpora.zefys(ner / "zefys/dev.tsv"),
        "ler": _take(_downsample(corpora.ler(ner / "ler/dev.conll"), 0.0), 500),
    }
    if variant == "all":  # news picks the checkpoint; GermEval stays the unseen test
        dev = {"conll2003_de": corpora.conll2003_de(ner / "conll2003_de/dev.tsv")}
    if variant == "open":
        train, dev = _open_only(train), _open_only(dev)
    return {"train": train, "dev": dev}


def _open_only(table: dict[str, Iterable[Sentence]]) -> dict[str, Iterable[Sentence]]:
    return {name: sents for name, sents in table.items()
            if not name.startswith(OPEN_DROPPED_DE)}


EN_VARIANTS = ("all", "conll", "open")
EN_CONLL_REPEAT = 2
"""CoNLL-2003 train is written this many times (``conll2003.spacy``, ``conll2003_2.spacy``): spaCy
shuffles all training files together, so this weights the news core against 0.9M extra tokens."""
EN_EXTRA_SHARE_OTHER = 0.5
"""In the extra English corpora (Wikipedia silver labels, tweets) keep every sentence with an entity
but only this share of those without, so that CoNLL-2003 news stays the bulk of the O tokens."""


def sources_en(data: Path, variant: str = "all",
               conll_repeat: int = EN_CONLL_REPEAT) -> dict[str, dict[str, Iterable[Sentence]]]:
    """English: CoNLL-2003 dev, CleanCoNLL dev and WikiANN test are never in "train".

    The open variant (BTC + WNUT-17 train, all their sentences) chooses its checkpoint on BTC and
    WNUT-17 dev, so no research-only text touches it."""
    en = data / "ner_en"
    if variant == "open":
        return {"train": {"btc": corpora.btc(en / "btc/train.conll"),
                          "wnut17": corpora.wnut17(en / "wnut17/train.conll")},
                "dev": {"btc": corpora.btc(en / "btc/dev.conll"),
                        "wnut17": corpora.wnut17(en / "wnut17/dev.conll")}}
    train: dict[str, Iterable[Sentence]] = {
        "conll2003": corpora.conll2003(en / "conll2003/train.txt"),
    }
    if variant == "all":
        for n in range(2, conll_repeat + 1):
            train[f"conll2003_{n}"] = corpora.conll2003(en / "conll2003/train.txt")
        train.update({
            "wikiann": _chain(corpora.wikiann(en / f"wikiann/{p}.conllu")
                              for p in ("train", "val")),
            "wikineural": _downsample(_chain(corpora.wikineural(en / f"wikineural/{p}.conllu")
                                             for p in ("val", "test")), EN_EXTRA_SHARE_OTHER),
            "btc": _downsample(corpora.btc(en / "btc/train.conll"), EN_EXTRA_SHARE_OTHER),
            "wnut17": _downsample(corpora.wnut17(en / "wnut17/train.conll"),
                                  EN_EXTRA_SHARE_OTHER),
        })
    return {"train": train, "dev": {"cleanconll": corpora.cleanconll(en / "cleanconll/dev.tsv")}}


def _chain(parts: Iterable[Iterable[Sentence]]) -> Iterator[Sentence]:
    for part in parts:
        yield from part


def _take(sentences: Iterable[Sentence], n: int) -> Iterator[Sentence]:
    for i, sent in enumerate(sentences):
        if i >= n:
            return
        yield sent


def _downsample(sentences: Iterable[Sentence], other_share: float) -> Iterator[Sentence]:
    rng = random.Random(SEED)
    for words, tags in sentences:
        if any(t.startswith("B-") for t in tags) or rng.random() < other_share:
            yield words, tags


def to_doc(vocab: Vocab, words: list[str], tags: list[str]) -> Doc:
    return Doc(vocab, words=words, ents=tags)


def convert(data: Path, out: Path, progress: Progress = NO_PROGRESS, lang: str = "de",
            variant: str = "all",
            conll_repeat: int | None = None) -> dict[str, dict[str, dict[str, int]]]:
    """Write every corpus of every split; ``progress`` counts corpora per ``convert <split>``."""
    vocab = Vocab()
    stats: dict[str, dict[str, dict[str, int]]] = {}
    if lang == "de":
        table = sources(data, variant, DE_CONLL_REPEAT if conll_repeat is None else conll_repeat)
    else:
        table = sources_en(data, variant,
                           EN_CONLL_REPEAT if conll_repeat is None else conll_repeat)
    for split, corpora_ in table.items():
        stage = f"convert {split}"
        progress.start(stage, len(corpora_), "corpora", "sentences")
        for name, sentences in corpora_.items():
            db = DocBin(store_user_data=False)
            counts: Counter[str] = Counter()
            for words, tags in sentences:
                if not words:
                    continue
                db.add(to_doc(vocab, words, tags))
                counts["sentences"] += 1
                if counts["sentences"] % 1000 == 0:  # big corpora (LER) take minutes each
                    progress.advance(stage, items=1000)
                counts["tokens"] += len(words)
                counts.update(t[2:] for t in tags if t.startswith("B-"))
                counts["missing_tokens"] += sum(1 for t in tags if t == corpora.MISSING)
            path = out / split / f"{name}.spacy"
            path.parent.mkdir(parents=True, exist_ok=True)
            db.to_disk(path)
            stats.setdefault(split, {})[name] = dict(counts)
            LOGGER.info("%s/%s: %s", split, name, dict(counts))
            progress.advance(stage, done=1, items=counts["sentences"] % 1000)
        progress.finish(stage)
    (out / "stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--lang", choices=("de", "en"), default="de")
    parser.add_argument("--variant", choices=sorted({*DE_VARIANTS, *EN_VARIANTS}), default="all",
                        help="all: the shipped recipe; open: openly licensed sets only "
                        "(NER_OPEN=1); de no_conll: the 0.2.0 recipe; en conll: CoNLL-2003 "
                        "train alone")
    parser.add_argument("--conll-repeat", type=int, default=None,
                        help=f"copies of CoNLL-2003 train (default de {DE_CONLL_REPEAT}, "
                        f"en {EN_CONLL_REPEAT})")
    parser.add_argument("--out", type=Path, default=None,
                        help="default build/ner (de), build/ner_en (en)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="status line on stderr (default: when it is a terminal); "
                        "--no-progress logs a progress line every 10 s instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    progress = choose(sys.stderr, args.progress)
    for handler in logging.getLogger().handlers:  # a log line first erases the status line
        handler.addFilter(ClearStatusLine(progress))
    try:
        out = args.out or Path("build/ner" if args.lang == "de" else "build/ner_en")
        variants = DE_VARIANTS if args.lang == "de" else EN_VARIANTS
        if args.variant not in variants:
            parser.error(f"--variant {args.variant} is not one of {variants} for {args.lang}")
        convert(args.data, out, progress, lang=args.lang, variant=args.variant,
                conll_repeat=args.conll_repeat)
    finally:
        progress.close()


if __name__ == "__main__":
    main()
