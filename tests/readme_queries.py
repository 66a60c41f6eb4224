"""Rewrite the printed outputs of the README's "Query the warehouse" examples.

``tests/test_examples.py::test_readme_queries_print_what_the_readme_shows`` fails when a README
output differs from what ``newsetl query`` prints on the demo warehouse (after a model or sample
change, say). This builds that warehouse the way the test fixture does (every day of
``samples/landing``, shipped models) and puts each query's real output under it:

    python -m tests.readme_queries [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main as cli
from pipeline.settings import Settings
from tests.conftest import REPO, SAMPLES

PAIR = re.compile(r"(```sql\n(.*?)```\n```\n)(.*?)(```)", re.S)


def demo_settings(root: Path) -> Settings:
    from pipeline import stages
    from pipeline.ingest import readers

    settings = Settings.from_mapping({"warehouse": root / "warehouse", "landing": SAMPLES})
    for day in sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()):
        batch = date.fromisoformat(day)
        stages.run_batch(readers.landing_files(SAMPLES, batch, batch + timedelta(days=1)),
                         batch, settings)
    return settings


def refreshed(text: str, settings: Settings) -> str:
    start, end = text.index("## Query the warehouse"), text.index("### Tables and columns")

    def output(match: re.Match[str]) -> str:
        result = CliRunner().invoke(cli, ["query", "--warehouse", str(settings.warehouse),
                                          " ".join(match.group(2).split())])
        if result.exit_code != 0:
            raise SystemExit(f"query failed: {match.group(2)}\n{result.output}")
        return match.group(1) + result.output + match.group(4)

    return text[:start] + PAIR.sub(output, text[start:end]) + text[end:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the README is stale")
    args = parser.parse_args()
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        new = refreshed(text, demo_settings(Path(tmp)))
    if new == text:
        print("README query outputs are current")
        return 0
    if args.check:
        print("README query outputs are stale: run python -m tests.readme_queries")
        return 1
    readme.write_text(new, encoding="utf-8")
    print("README query outputs rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
