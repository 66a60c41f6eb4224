"""What durable publishing costs: ``newsetl run`` of one 10,000-article batch with ``fsync``
on and off, alternated in one run (NER off, so the publish is a visible share of the time).

    python -m bench.fsync_cost [--n 10000] [--repeat 2]

Prints each run's wall time and the time the swap spent syncing (from the publish log line).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import cached_corpus

SYNCED = re.compile(r"(\d+) files and their folders synced to disk in ([\d.]+) s")


def run(landing: Path, day: str, warehouse: Path, fsync: bool) -> tuple[float, str]:
    shutil.rmtree(warehouse, ignore_errors=True)
    env = {**os.environ, "NEWSETL_NER_MODELS": "de=none",
           "NEWSETL_FSYNC": "true" if fsync else "false"}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "--warehouse", str(warehouse),
                          "run", "--no-progress", "--landing", str(landing), "--date", day],
                         env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    found = SYNCED.search(out.stderr)
    return wall, f"{found[1]} files synced in {found[2]} s" if found else "no sync"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    corpus = cached_corpus(args.n)
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parents[1] / "build") as tmp:
        day = corpus.days[0]
        landing = Path(tmp) / "landing"
        target = landing / day
        target.mkdir(parents=True)
        for source_day in corpus.days:  # every article in one batch
            for f in (corpus.path / source_day).iterdir():
                os.link(f, target / f"{source_day}_{f.name}")
        walls: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.repeat):
            for fsync in (False, True):
                wall, detail = run(landing, day, Path(tmp) / "wh", fsync)
                walls[fsync].append(wall)
                print(f"fsync {'on ' if fsync else 'off'}: {wall:6.1f} s  {detail}", flush=True)
    on, off = min(walls[True]), min(walls[False])
    print(f"{args.n:,} articles, best of {args.repeat}: on {on:.1f} s, off {off:.1f} s, "
          f"ratio {on / off:.3f}")


if __name__ == "__main__":
    main()
