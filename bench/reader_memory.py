"""Memory of the readers is bounded by the largest record, not by the archive.

Builds two ``.tar.gz`` archives holding a JSON Lines file of 2 KB records: a small one (5 MB
uncompressed) and one 40 times larger (200 MB), reads each through ``read_records`` in a fresh
process, and prints both peak RSS figures and their ratio, side by side in one run. Streaming
keeps the ratio near 1; extracting or reading whole members would make it grow with the input.

    python -m bench.reader_memory [--records 2500] [--factor 40]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

CHILD = """
import resource, sys
from pathlib import Path
from pipeline.ingest.readers import InputFile, read_records
from pipeline.settings import Settings
path = Path(sys.argv[1])
n = sum(1 for _ in read_records(InputFile(path, path.name), Settings()))
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def build(path: Path, records: int) -> int:
    line = json.dumps({"title": "T", "text": "Wort " * 400, "date": "2023-01-30"}) + "\n"
    payload = line.encode() * records
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("dump/articles.jsonl")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return len(payload)


def measure(path: Path) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2500)
    parser.add_argument("--factor", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small.tar.gz", Path(tmp) / "large.tar.gz"
        small_bytes = build(small, args.records)
        large_bytes = build(large, args.records * args.factor)
        n_small, rss_small = measure(small)
        n_large, rss_large = measure(large)
    print(f"small: {n_small} records, {small_bytes / 1e6:.0f} MB uncompressed, "
          f"peak RSS {rss_small / 1024:.0f} MiB")
    print(f"large: {n_large} records, {large_bytes / 1e6:.0f} MB uncompressed, "
          f"peak RSS {rss_large / 1024:.0f} MiB")
    print(f"input x{large_bytes / small_bytes:.0f} -> peak RSS x{rss_large / rss_small:.2f}")


if __name__ == "__main__":
    main()
