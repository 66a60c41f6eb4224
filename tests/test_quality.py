"""Lint and type checks are part of the suite: `pipeline/` stays ruff- and mypy-clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


def test_ruff_clean() -> None:
    out = run(str(BIN / "ruff"), "check", "pipeline", "dags", "tests", "samples", "bench",
              "training")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_clean() -> None:
    out = run(str(BIN / "mypy"))
    assert out.returncode == 0, out.stdout + out.stderr


def test_pipeline_never_imports_airflow() -> None:
    hits = [str(p.relative_to(REPO)) for p in (REPO / "pipeline").rglob("*.py")
            if "import airflow" in p.read_text() or "from airflow" in p.read_text()]
    assert hits == []
