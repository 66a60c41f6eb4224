"""Near duplicates: MinHash clusters edited copies, across batches; articles_dedup keeps one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import neardup, readers, stages
from pipeline.settings import Settings

WORDISH = st.text(st.sampled_from("aäbßcé日z _-\n.") | st.characters(), max_size=400)


@given(st.lists(WORDISH | st.just("w" * 200 + " long token"), max_size=12))
def test_shard_signatures_equal_one_by_one(texts: list[str]) -> None:
    """``signatures`` (a whole shard at once, vectorised CRC-32) is ``signature`` row by row:
    signatures stored by either can be compared across batches."""
    one_by_one = np.stack([neardup.signature(t) for t in texts]) if texts else \
        np.empty((0, neardup.NUM_PERM), np.uint32)
    assert np.array_equal(neardup.signatures(texts), one_by_one)


def test_shard_signatures_on_real_text(shared: Path) -> None:
    texts = [" ".join(bbc(shared, f"politics/{i:03d}.txt")) for i in range(1, 60)]
    assert np.array_equal(neardup.signatures(texts),
                          np.stack([neardup.signature(t) for t in texts]))


def bbc(shared: Path, name: str) -> tuple[str, str]:
    text = (shared / "news_en/bbc" / name).read_bytes().decode("cp1252")
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()


def test_signatures_separate_copies_from_other_stories(shared: Path) -> None:
    _, body = bbc(shared, "business/001.txt")
    _, other = bbc(shared, "business/003.txt")
    copy = "LONDON (Reuters) - " + body.replace(" said ", " told reporters ") + " (Reporting: AP)"
    assert neardup.similarity(neardup.signature(body), neardup.signature(copy)) >= 0.6
    assert neardup.similarity(neardup.signature(body), neardup.signature(other)) < 0.1


def test_clusters_span_batches_and_dedup_view_keeps_the_first(shared: Path,
                                                                tmp_path: Path) -> None:
    title, body = bbc(shared, "politics/002.txt")
    _, unrelated = bbc(shared, "politics/003.txt")
    day1, day2 = tmp_path / "d1", tmp_path / "d2"
    day1.mkdir()
    day2.mkdir()
    (day1 / "original.txt").write_text(f" date 2005-02-01 {title}\n\n{body}\n", encoding="utf-8")
    paragraphs = body.split("\n\n")
    rewrite = "\n\n".join(paragraphs[:-1]).replace(" said", " told the BBC")
    (day2 / "wire.txt").write_text(f" date 2005-02-02 UPDATE: {title.upper()}\n\n{rewrite}\n",
                                   encoding="utf-8")
    (day2 / "other.txt").write_text(f" date 2005-02-02 Something else\n\n{unrelated}\n",
                                    encoding="utf-8")
    settings = Settings.from_mapping({"warehouse": tmp_path / "wh", "ner_models": {}})
    stages.run_batch(readers.list_input_files(day1), date(2005, 2, 1), settings)
    result = stages.run_batch(readers.list_input_files(day2), date(2005, 2, 2), settings)
    con = duckdb.connect(str(result.catalog), read_only=True)
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT source_file, article_id, duplicate_cluster_id FROM articles").fetchall()}
    original_id = rows["original.txt"][0]
    assert rows["original.txt"][1] == original_id
    assert rows["wire.txt"][1] == original_id  # joined the earlier batch's cluster
    assert rows["wire.txt"][0] != original_id  # ... as a different article
    assert rows["other.txt"][1] == rows["other.txt"][0]
    dedup = con.execute("SELECT source_file, cluster_size FROM articles_dedup ORDER BY 1"
                        ).fetchall()
    assert dedup == [("original.txt", 2), ("other.txt", 1)]
    # Re-running day 2 replaces, never duplicates, and finds the same cluster again.
    stages.run_batch(readers.list_input_files(day2), date(2005, 2, 2), settings)
    con = duckdb.connect(str(result.catalog), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (3,)
    assert con.execute("SELECT duplicate_cluster_id FROM articles WHERE source_file = "
                       "'wire.txt'").fetchone() == (original_id,)


@pytest.mark.slow
def test_precision_on_hand_made_pairs(shared: Path) -> None:
    """bench/eval_neardup.py: 198 BBC originals with 4 kinds of edited copy each."""
    from bench.eval_neardup import build, evaluate

    result = evaluate(build(shared))
    assert result["precision"] >= 0.98, result
    assert result["recall"] >= 0.8, result
