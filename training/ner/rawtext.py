"""Raw text for the static vectors (and ``spacy pretrain``): the training corpora's sentences.

German: never GermEval or CoNLL-2003 German dev (``--open``: only the openly licensed corpora,
as ``convert --variant open``). English (``--lang en``): the English training corpora plus the
2,225 BBC News articles of ``news_en/bbc``; never CoNLL-2003 dev, CleanCoNLL dev or WikiANN test.

    python -m training.ner.rawtext --out build/ner/raw.jsonl
    python -m training.ner.rawtext --lang en --out build/ner_en/raw.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.ner import corpora
from training.ner.convert import OPEN_DROPPED_DE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("build/ner/raw.jsonl"))
    parser.add_argument("--lang", choices=("de", "en"), default="de")
    parser.add_argument("--open", action="store_true",
                        help="German: leave out the corpora the open variant does not train on")
    args = parser.parse_args()
    if args.lang == "en":
        english(args.data, args.out)
        return
    ner = args.data / "ner"
    readers = [
        (corpora.ler, [ner / "ler/train.conll.gz"]),
        (corpora.wikiann, [ner / f"wikiann/{p}.conllu" for p in ("train", "val", "test")]),
        (corpora.wikineural, [ner / f"wikineural/{p}.conllu" for p in ("val", "test")]),
        (corpora.europarl, [ner / "europarl/train.tsv"]),
        (corpora.mobie, [ner / "mobie/train.conll2003"]),
        (corpora.zefys, [ner / "zefys/train.tsv"]),
        (corpora.europeana, [ner / f"europeana/enp_DE.{p}.bio" for p in ("lft", "onb", "sbb")]),
        (corpora.conll2003_de, [ner / "conll2003_de/train.tsv"]),
    ]
    if args.open:
        readers = [(reader, paths) for reader, paths in readers
                   if reader.__name__ not in OPEN_DROPPED_DE]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with args.out.open("w", encoding="utf-8") as fh:
        for reader, paths in readers:
            for path in paths:
                for words, _ in reader(path):
                    fh.write(json.dumps({"text": " ".join(words)}, ensure_ascii=False) + "\n")
                    n += len(words)
        for line in (args.data / "news_de/smartdata_v1_train.jsonl").read_text(
                encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            fh.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
            n += len(text.split())
    print(f"{args.out}: about {n} words")  # noqa: T201


def english(data: Path, out: Path) -> None:
    en = data / "ner_en"
    readers = [
        (corpora.conll2003, [en / "conll2003/train.txt"]),
        (corpora.wikiann, [en / f"wikiann/{p}.conllu" for p in ("train", "val")]),
        (corpora.wikineural, [en / f"wikineural/{p}.conllu" for p in ("val", "test")]),
        (corpora.btc, [en / "btc/train.conll"]),
        (corpora.wnut17, [en / "wnut17/train.conll"]),
    ]
    import spacy

    tokenizer = spacy.blank("en").tokenizer  # the NER sees spaCy's tokens
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for reader, paths in readers:
            for path in paths:
                for words, _ in reader(path):
                    fh.write(json.dumps({"text": " ".join(words)}, ensure_ascii=False) + "\n")
                    n += len(words)
        for path in sorted((data / "news_en/bbc").glob("*/*.txt")):
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:  # sport/199.txt is Latin-1
                text = raw.decode("latin-1")
            for para in text.split("\n"):
                if para.strip():
                    words = [t.text for t in tokenizer(para.strip()) if not t.is_space]
                    fh.write(json.dumps({"text": " ".join(words)}, ensure_ascii=False) + "\n")
                    n += len(words)
    print(f"{out}: about {n} words")  # noqa: T201


if __name__ == "__main__":
    main()
