"""Bad input never stops a batch, and counts always reconcile (read = loaded + rejected)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import stages
from pipeline.ingest import readers
from pipeline.settings import Settings
from tests.conftest import SAMPLES

DAY = date(2023, 5, 1)
SEED_BYTES = (SAMPLES / "2023-01-31" / "000_5fa03b91928cf31a.txt").read_bytes()


def mutate(data: bytes, cuts: list[int], junk: bytes) -> bytes:
    """Truncate, splice junk into and duplicate parts of a real dump."""
    out = bytearray(data)
    for cut in cuts:
        pos = cut % (len(out) + 1)
        out[pos:pos] = junk
    return bytes(out[: max(cuts, default=len(out)) % (len(out) + 1) or len(out)])


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.binary(max_size=3000),
    st.builds(mutate, st.just(SEED_BYTES), st.lists(st.integers(0, 5000), max_size=3),
              st.binary(max_size=20)),
    st.text(max_size=500).map(lambda t: t.encode("utf-8")),
    st.text(max_size=200).map(lambda t: t.encode("utf-16")),
), min_size=1, max_size=6))
def test_random_and_mutated_bytes_reconcile(tmp_path_factory: object,
                                            blobs: list[bytes]) -> None:
    root = tmp_path_factory.mktemp("in")  # type: ignore[attr-defined]
    for i, blob in enumerate(blobs):
        (root / f"{i:03d}_file.txt").write_bytes(blob)
    wh = tmp_path_factory.mktemp("wh")  # type: ignore[attr-defined]
    s = Settings.from_mapping({"warehouse": wh, "max_record_bytes": 4000, "quality_gate": False})
    result = stages.run_batch(readers.list_input_files(root), DAY, s)
    con = duckdb.connect(str(result.catalog), read_only=True)
    read, loaded, rejected = con.execute(
        "SELECT records_read, articles_loaded, records_rejected FROM runs").fetchall()[0]
    assert read == loaded + rejected
    assert read >= len(blobs)  # a file yields one record or reject at least (JSON Lines: more)
    assert con.execute("SELECT count(*) FROM articles").fetchall() == [(loaded,)]
    assert con.execute("SELECT count(*) FROM rejects WHERE reason = '' OR reason IS NULL"
                       ).fetchall() == [(0,)]
    con.close()


def test_broken_files_each_get_a_reason(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.txt").write_bytes(b" \n\n \t\n")
    (root / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (root / "big.txt").write_bytes(b"x " * 3000)
    (root / "header_only.txt").write_text(" date 2023-01 \n", encoding="utf-8")
    (root / "ok.txt").write_bytes(SEED_BYTES)
    s = Settings.from_mapping({"warehouse": tmp_path / "wh", "max_record_bytes": 5000,
                              "quality_gate": False})  # all broken: the gate would block
    result = stages.run_batch(readers.list_input_files(root), DAY, s)
    con = duckdb.connect(str(result.catalog), read_only=True)
    reasons = dict(con.execute("SELECT source_file, reason_code FROM rejects").fetchall())
    assert reasons == {"empty.txt": "empty_file", "blank.txt": "empty_file",
                       "binary.bin": "binary_content", "big.txt": "too_large",
                       "header_only.txt": "no_body"}
    assert con.execute("SELECT source_file FROM articles").fetchall() == [("ok.txt",)]
