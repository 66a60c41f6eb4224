"""Memory per record is bounded: one huge record adds little to a batch's peak RSS.

Builds a landing day of ``--n`` reference-format dumps (``bench.corpus``, real German and
English sentences), then runs ``newsetl run`` (NER off) in a fresh process twice, side by side
in one run: on that day as it is, and with one more record of ``--mb`` MB (real sentences
repeated into one long article). Prints both peak RSS figures (the largest process of the run:
the CLI's or a parse worker's) and their difference. Target: at most 100 MiB for a 4 MB record.

    python -m bench.record_memory [--n 1000] [--mb 4.3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.corpus import cached_corpus, load_pools

CHILD = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def huge_record(mb: float, seed: int = 0) -> str:
    """A reference-format dump of about ``mb`` MB: real sentences, paragraphs of ~100 words."""
    pool = load_pools()["de"]
    rng = random.Random(seed)
    parts = [" date 2023-02 Ein sehr langer Bericht.", ""]
    size = 0
    while size < mb * 1e6:
        source = rng.choice(pool.texts)
        paragraph = " ".join(source[: rng.randint(3, 8)])
        parts += [paragraph, ""]
        size += len(paragraph.encode()) + 2
    return "\n".join(parts)


def peak(landing: Path, day: str, warehouse: Path) -> int:
    """Peak RSS (KiB) of the largest process of one ``newsetl run`` in a fresh process."""
    shutil.rmtree(warehouse, ignore_errors=True)
    env = {**os.environ, "NEWSETL_NER_MODELS": "de=none"}
    cmd = [sys.executable, "-c", CHILD, sys.executable, "-m", "pipeline.cli", "-q",
           "--warehouse", str(warehouse), "run", "--landing", str(landing), "--date", day]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout.split()
    if out[0] != "0":
        raise RuntimeError(f"newsetl run failed ({out[0]}): {' '.join(cmd)}")
    return int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--mb", type=float, default=4.3)
    args = parser.parse_args()
    corpus = cached_corpus(args.n)
    day = corpus.days[0]
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        shutil.copytree(corpus.path / day, landing / day)
        files = len(list((landing / day).iterdir()))
        base = peak(landing, day, Path(tmp) / "wh")
        text = huge_record(args.mb)
        (landing / day / "999999_ffffffffffffffff.txt").write_text(text, encoding="utf-8")
        with_huge = peak(landing, day, Path(tmp) / "wh")
    print(f"{files} files: peak RSS {base / 1024:.0f} MiB")
    print(f"{files} files + one record of {len(text.encode()) / 1e6:.1f} MB: peak RSS "
          f"{with_huge / 1024:.0f} MiB")
    print(f"the huge record adds {(with_huge - base) / 1024:.0f} MiB (target <= 100)")


if __name__ == "__main__":
    main()
