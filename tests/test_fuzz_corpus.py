"""Corpus-scale fuzzing: hostile variants of real DER STANDARD articles (``bench.adversarial``)
mixed into a majority of clean ones. Whatever the seed, the run publishes with the gate's
default thresholds, counts reconcile, and every file is in ``articles`` or ``rejects``.

The longer soak run is ``python -m bench.adversarial --n 1000 --adversarial 200``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import stages
from pipeline.ingest import readers
from pipeline.ingest.sanitise import display_name
from pipeline.settings import Settings

DAY = date(2023, 3, 1)


@pytest.fixture
def pool(shared: Path) -> object:
    from bench.adversarial import gnad_pool

    return gnad_pool(shared)  # cached


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_mixed_hostile_batches_publish_and_account_for_every_file(
        tmp_path_factory: pytest.TempPathFactory, pool: object, seed: int) -> None:
    from bench.adversarial import Pool, build

    assert isinstance(pool, Pool)
    root = tmp_path_factory.mktemp("landing") / DAY.isoformat()
    landing = build(root, n_clean=40, n_adversarial=10, seed=seed, pool=pool)
    s = Settings.from_mapping({"warehouse": tmp_path_factory.mktemp("wh"),
                               "ner_models": {"de": "none"}})
    result = stages.run_batch(readers.list_input_files(root), DAY, s)  # gate on, defaults
    con = duckdb.connect(str(result.catalog), read_only=True)
    read, loaded, rejected = con.execute(
        "SELECT records_read, articles_loaded, records_rejected FROM runs").fetchone() or ()
    assert read == loaded + rejected
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (loaded,)
    assert con.execute("SELECT count(*) FROM rejects").fetchone() == (rejected,)
    seen = {f for (f,) in con.execute("SELECT source_file FROM articles UNION "
                                      "SELECT source_file FROM rejects").fetchall()}
    missing = [n for n in [*landing.clean, *landing.adversarial] if display_name(n) not in seen]
    assert missing == []
    assert set(landing.clean) <= {f for (f,) in con.execute(
        "SELECT source_file FROM articles").fetchall()}
    assert con.execute("SELECT count(*) FROM rejects WHERE coalesce(reason, '') = '' "
                       "OR reason_code = 'internal_error'").fetchone() == (0,)
    bad = con.execute(r"SELECT count(*) FROM articles WHERE regexp_matches(title || body, "
                      r"'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]')").fetchone()
    assert bad == (0,)
    con.close()
