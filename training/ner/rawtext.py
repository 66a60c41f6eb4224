"""Raw German text for ``spacy pretrain``: every training corpus's sentences, never GermEval.

    python -m training.ner.rawtext --out build/ner/raw.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.ner import corpora


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("build/ner/raw.jsonl"))
    args = parser.parse_args()
    ner = args.data / "ner"
    readers = [
        (corpora.ler, [ner / "ler/train.conll.gz"]),
        (corpora.wikiann, [ner / f"wikiann/{p}.conllu" for p in ("train", "val", "test")]),
        (corpora.wikineural, [ner / f"wikineural/{p}.conllu" for p in ("val", "test")]),
        (corpora.europarl, [ner / "europarl/train.tsv"]),
        (corpora.mobie, [ner / "mobie/train.conll2003"]),
        (corpora.zefys, [ner / "zefys/train.tsv"]),
        (corpora.europeana, [ner / f"europeana/enp_DE.{p}.bio" for p in ("lft", "onb", "sbb")]),
    ]
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


if __name__ == "__main__":
    main()
