"""Shared fixtures: the committed sample landing folder, ../shared/data, a tiny NER pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "landing"
SHARED = REPO.parent / "shared" / "data"
SEED = SHARED / "seed" / "000_5fa03b91928cf31a.txt"


@pytest.fixture
def shared() -> Path:
    """The project's real data folder; tests that need it say so when it is missing."""
    if not SHARED.is_dir():
        pytest.skip(f"needs the shared data folder at {SHARED}")
    return SHARED


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_mapping({"warehouse": tmp_path / "warehouse", "landing": SAMPLES})


@pytest.fixture(scope="session")
def tiny_ner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small German pipeline built here (no model can be downloaded): an entity ruler."""
    import spacy

    nlp = spacy.blank("de")
    nlp.meta["name"] = "tiny_ruler"
    nlp.meta["version"] = "0.0.1"
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([
        {"label": "PER", "pattern": "Jens Stoltenberg"},
        {"label": "PER", "pattern": "Stoltenberg"},
        {"label": "LOC", "pattern": "Südkorea"},
        {"label": "LOC", "pattern": "Seoul"},
        {"label": "LOC", "pattern": "Nordkorea"},
        {"label": "ORG", "pattern": "NATO"},
        {"label": "ORG", "pattern": [{"LOWER": "kcna"}]},
    ])
    path = tmp_path_factory.mktemp("models") / "tiny_de"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The demo warehouse: every day of samples/landing run as `make demo` does (shipped model).

    Shared by the SQL model, example query and report tests; read it, never write to it.
    """
    from datetime import date, timedelta

    from pipeline import stages
    from pipeline.ingest import readers

    settings = Settings.from_mapping({"warehouse": tmp_path_factory.mktemp("demo") / "warehouse",
                                      "landing": SAMPLES})
    for day in sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()):
        batch = date.fromisoformat(day)
        files = readers.landing_files(SAMPLES, batch, batch + timedelta(days=1))
        stages.run_batch(files, batch, settings)
    return settings
