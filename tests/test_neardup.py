"""Near duplicates: MinHash clusters edited copies, across batches; articles_dedup keeps one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.neardup_memory import old_roots
from pipeline import stages
from pipeline.ingest import readers
from pipeline.settings import Settings
from pipeline.transform import neardup

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


# --- Bounded clustering against the all-pairs reference -----------------------------------


def _reference_cluster_arrays(new_ids: list[str], new_sigs: np.ndarray, earlier_ids: list[str],
                              earlier_clusters: list[str], earlier_sigs: np.ndarray,
                              threshold: float = neardup.THRESHOLD) -> dict[str, str]:
    """The all-pairs ``cluster_arrays`` (ids of ``_reference_roots``)."""
    if not new_ids:
        return {}
    ids = [*earlier_clusters, *new_ids]
    return {a: ids[r] for a, r in zip(new_ids, old_roots(new_sigs, earlier_sigs,
                                                                 threshold), strict=True)}


@dataclass
class Batches:
    """Signatures of an earlier batch (with the clusters it was published with) and a new one."""

    new_sigs: np.ndarray
    earlier_sigs: np.ndarray
    earlier_clusters: list[str]

    @property
    def new_ids(self) -> list[str]:
        return [f"n{i}" for i in range(len(self.new_sigs))]

    @property
    def earlier_ids(self) -> list[str]:
        return [f"e{i}" for i in range(len(self.earlier_sigs))]

    def clusters(self) -> dict[str, str]:
        return neardup.cluster_arrays(self.new_ids, self.new_sigs, self.earlier_ids,
                                      self.earlier_clusters, self.earlier_sigs)

    def reference(self) -> dict[str, str]:
        return _reference_cluster_arrays(self.new_ids, self.new_sigs, self.earlier_ids,
                                         self.earlier_clusters, self.earlier_sigs)

    def roots(self) -> list[int]:
        return neardup._roots(self.new_sigs, self.earlier_clusters, self.earlier_sigs,
                              neardup.THRESHOLD).tolist()


def _families(rng: np.random.Generator, families: int, size: int, mutate: int, alphabet: int,
              singles: int, earlier_share: float) -> Batches:
    """Families of near duplicates (a random base signature, each member with up to ``mutate``
    of its 128 values drawn anew) and unrelated signatures, shuffled. Values from a small
    ``alphabet`` make unrelated signatures share LSH bands (without being similar). A share of
    the articles is an earlier batch, itself published in two batches, clustered by the
    reference as the pipeline would have."""
    sigs: list[np.ndarray] = []
    for _ in range(families):
        base = rng.integers(0, alphabet, neardup.NUM_PERM)
        for _ in range(int(rng.integers(1, size + 1))):
            sig = base.copy()
            at = rng.choice(neardup.NUM_PERM, int(rng.integers(0, mutate + 1)), replace=False)
            sig[at] = rng.integers(0, alphabet, len(at))
            sigs.append(sig)
    sigs.extend(rng.integers(0, alphabet, neardup.NUM_PERM) for _ in range(singles))
    all_sigs = np.array(sigs, dtype=np.uint32).reshape(-1, neardup.NUM_PERM)
    all_sigs = all_sigs[rng.permutation(len(all_sigs))]
    m = int(len(all_sigs) * earlier_share)
    first, second = all_sigs[:m // 2], all_sigs[m // 2:m]
    ids = [f"e{i}" for i in range(m)]
    one = _reference_cluster_arrays(ids[:m // 2], first, [], [], first[:0])
    two = _reference_cluster_arrays(ids[m // 2:], second, ids[:m // 2],
                                    [one[a] for a in ids[:m // 2]], first)
    return Batches(all_sigs[m:], all_sigs[:m], [{**one, **two}[a] for a in ids])


def _exact_by_guarantee(b: Batches) -> bool:
    """Whether ``cluster_arrays`` guarantees the all-pairs result for ``b``: in every bucket
    holding a new article, similarity is transitive where it is asked (x~y, y~h => x~h for new
    y and h), its new articles make at most ``MAX_HEADS`` families (representatives), and it
    holds at most ``EARLIER_PER_CLUSTER`` earlier articles of a cluster, ``MAX_EARLIER`` in all."""
    m = len(b.earlier_sigs)
    sigs = np.concatenate([b.earlier_sigs, b.new_sigs])
    keys = neardup.band_keys(sigs)
    for band in range(neardup.BANDS):
        for key in np.unique(keys[m:, band]):
            members = np.flatnonzero(keys[:, band] == key)
            old = members[members < m]
            if len(members) < 2:
                continue
            if len(old) > neardup.MAX_EARLIER or (old.size and max(Counter(
                    b.earlier_clusters[i] for i in old).values()) > neardup.EARLIER_PER_CLUSTER):
                return False
            s = (sigs[members][:, None, :] == sigs[members][None, :, :]).mean(axis=2) \
                >= neardup.THRESHOLD
            np.fill_diagonal(s, False)
            y = np.flatnonzero(members >= m)  # positions of the new members
            via = (s[:, y].astype(int) @ s[np.ix_(y, y)].astype(int)) > 0  # x~y~h, some y
            for col, h in enumerate(y):
                via[h, col] = False  # x == h
            if (via & ~s[:, y]).any():
                return False
            heads: list[int] = []
            for i in y:
                if not any(s[i, h] for h in heads):
                    heads.append(i)
            if len(heads) > neardup.MAX_HEADS:
                return False
    return True


def _refines(finer: list[int], coarser: list[int]) -> bool:
    """Every part of ``finer`` lies within one part of ``coarser``."""
    seen: dict[int, int] = {}
    return all(seen.setdefault(f, c) == c for f, c in zip(finer, coarser, strict=True))


@pytest.mark.parametrize("seed", range(12))
def test_clusters_equal_all_pairs_on_families_of_near_duplicates(seed: int) -> None:
    """Families of near duplicates (pairwise similarity >= 0.6), unrelated articles sharing
    buckets with them, some of each published before: the very clusters of all pairs."""
    rng = np.random.default_rng(seed)
    b = _families(rng, families=int(rng.integers(1, 12)), size=int(rng.integers(2, 80)),
                  mutate=25, alphabet=int(rng.choice([3, 4, 1 << 30])),
                  singles=int(rng.integers(0, 60)), earlier_share=float(rng.choice([0, .3, .6])))
    assert b.clusters() == b.reference()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), mutate=st.integers(0, 90), alphabet=st.sampled_from(
    [2, 3, 5, 1 << 30]), families=st.integers(1, 6), size=st.integers(1, 40),
    singles=st.integers(0, 30), earlier_share=st.sampled_from([0, 0.2, 0.5, 0.8]))
def test_clusters_never_join_more_than_all_pairs_and_equal_them_when_guaranteed(
        seed: int, mutate: int, alphabet: int, families: int, size: int, singles: int,
        earlier_share: float) -> None:
    """Any structure, chains near the threshold included (x~y~z, x !~ z): every cluster lies
    within an all-pairs cluster, and where ``_exact_by_guarantee`` holds they are equal."""
    b = _families(np.random.default_rng(seed), families, size, mutate, alphabet, singles,
                  earlier_share)
    if not len(b.new_sigs):
        return
    reference = old_roots(b.new_sigs, b.earlier_sigs)
    roots = b.roots()
    assert _refines(roots, reference)
    assert all(r >= ref for r, ref in zip(roots, reference, strict=True))  # a part's first
    if _exact_by_guarantee(b):
        assert roots == reference
        assert b.clusters() == b.reference()


@pytest.mark.parametrize("limits", [(1, 1, 1), (2, 1, 3), (4, 2, 8)])
def test_tight_limits_still_never_join_more(monkeypatch: pytest.MonkeyPatch,
                                            limits: tuple[int, int, int]) -> None:
    """With limits small enough to bind everywhere, joins are still verified pairs only."""
    heads, per_cluster, earlier = limits
    monkeypatch.setattr(neardup, "MAX_HEADS", heads)
    monkeypatch.setattr(neardup, "EARLIER_PER_CLUSTER", per_cluster)
    monkeypatch.setattr(neardup, "MAX_EARLIER", earlier)
    for seed in range(6):
        b = _families(np.random.default_rng(seed), 5, 30, 60, 3, 20, 0.5)
        assert _refines(b.roots(), old_roots(b.new_sigs, b.earlier_sigs))


def test_two_non_representatives_similar_only_to_each_other_stay_apart() -> None:
    """The documented approximation, in its smallest case: h1, h2, x, y share one bucket (and
    no other band), x~h1, y~h2, x~y, and nothing else is similar. h1 and h2 are the bucket's
    representatives; x and y are each covered by one and never compared with each other. All
    pairs join the four; the bounded clustering keeps {h1, x} and {h2, y}."""
    rng = np.random.default_rng(5)
    h1, h2, x, y = rng.integers(0, 1 << 30, (4, neardup.NUM_PERM)).astype(np.uint32)
    for s in (h2, x, y):
        s[:4] = h1[:4]  # band 0: equal in all four
    r0, r1, r2, r3 = np.arange(4, neardup.NUM_PERM).reshape(-1, 4).T  # rows of bands 1..31
    x[r0], x[r1] = h1[r0], h1[r1]  # x~h1: 4 + 62 = 66 of 128
    y[r2], y[r3] = h2[r2], h2[r3]  # y~h2: 66
    x[r2], y[r0] = h2[r2], h1[r0]  # x~y on rows 0 and 2: 66; x~h2, y~h1: 35
    sigs = np.stack([h1, h2, x, y])
    sim = (sigs[:, None] == sigs[None]).mean(axis=2) >= neardup.THRESHOLD
    assert sim[0, 2] and sim[1, 3] and sim[2, 3]
    assert not (sim[0, 1] or sim[0, 3] or sim[1, 2])
    keys = neardup.band_keys(sigs)
    assert all(len(set(keys[:, band].tolist())) == 4 for band in range(1, neardup.BANDS))
    b = Batches(sigs, sigs[:0], [])
    assert b.reference() == dict.fromkeys(b.new_ids, "n0")
    assert b.clusters() == {"n0": "n0", "n1": "n1", "n2": "n0", "n3": "n1"}


def test_chain_through_an_earlier_match_is_closed() -> None:
    """h, y, x in one bucket with y~h, x~y, x !~ h: x becomes the second representative, and is
    compared with y (covered, but not yet in its cluster), so all three join, as all pairs."""
    rng = np.random.default_rng(6)
    h, y, x = rng.integers(0, 1 << 30, (3, neardup.NUM_PERM)).astype(np.uint32)
    rows = np.arange(4, neardup.NUM_PERM).reshape(-1, 4)
    y[:4], x[:4] = h[:4], h[:4]
    y[rows[:, :2].ravel()] = h[rows[:, :2].ravel()]  # y~h: 66 of 128
    x[rows[:, 1:3].ravel()] = y[rows[:, 1:3].ravel()]  # x~y: 66; x~h on rows 1 only: 35
    sim = (np.stack([h, y, x])[:, None] == np.stack([h, y, x])[None]).mean(axis=2) >= 0.5
    assert sim[0, 1] and sim[1, 2] and not sim[0, 2]
    b = Batches(np.stack([h, y, x]), np.empty((0, neardup.NUM_PERM), np.uint32), [])
    assert b.reference() == b.clusters() == dict.fromkeys(b.new_ids, "n0")


def _count_pairs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counted = [0]
    similar = neardup._similar

    def counting(a: np.ndarray, *args: object) -> np.ndarray:
        counted[0] += len(a)
        return similar(a, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(neardup, "_similar", counting)
    return counted


def test_one_template_in_every_bucket_takes_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 near-identical articles share nearly every bucket (all pairs: 4.5 million a band):
    each band verifies about one pair per article, and they make one cluster."""
    counted = _count_pairs(monkeypatch)
    rng = np.random.default_rng(1)
    base = rng.integers(0, 1 << 30, neardup.NUM_PERM)
    sigs = np.tile(base, (3000, 1)).astype(np.uint32)
    for sig in sigs:
        at = rng.choice(neardup.NUM_PERM, 10, replace=False)
        sig[at] = rng.integers(0, 1 << 30, 10)
    ids = [f"n{i}" for i in range(3000)]
    result = neardup.cluster_arrays(ids, sigs, [], [], sigs[:0])
    assert set(result.values()) == {"n0"}
    assert counted[0] <= 3000 * neardup.BANDS


def test_earlier_template_bucket_is_not_compared_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """An earlier batch filled buckets with 5,000 copies of a template (one cluster, and 1,000
    more in their own clusters, as a template just under the threshold would be): 200 new copies
    are compared with at most ``MAX_EARLIER`` of them a bucket, and join the template's
    cluster."""
    counted = _count_pairs(monkeypatch)
    rng = np.random.default_rng(2)
    base = rng.integers(0, 1 << 30, neardup.NUM_PERM)
    sigs = np.tile(base, (6200, 1)).astype(np.uint32)
    for sig in sigs:
        at = rng.choice(neardup.NUM_PERM, 10, replace=False)
        sig[at] = rng.integers(0, 1 << 30, 10)
    clusters = ["e0"] * 5000 + [f"e{i}" for i in range(5000, 6000)]
    result = neardup.cluster_arrays([f"n{i}" for i in range(200)], sigs[6000:],
                                    [f"e{i}" for i in range(6000)], clusters, sigs[:6000])
    assert set(result.values()) == {"e0"}
    assert counted[0] <= (neardup.MAX_HEADS + neardup.MAX_EARLIER) * 200 * neardup.BANDS


def test_template_articles_cluster_as_all_pairs() -> None:
    """The benchmark's German template articles (police, market, weather reports with names,
    places and numbers swapped): 1,500 new against 1,000 earlier, as all pairs, one cluster a
    template."""
    from bench.neardup_memory import articles

    texts, kinds = articles(2500, seed=3)
    sigs = neardup.signatures(texts)
    ids = [f"a{i}" for i in range(2500)]
    earlier = neardup.cluster_arrays(ids[:1000], sigs[:1000], [], [], sigs[:0])
    assert earlier == _reference_cluster_arrays(ids[:1000], sigs[:1000], [], [], sigs[:0])
    b = Batches(sigs[1000:], sigs[:1000], [earlier[a] for a in ids[:1000]])
    result = b.clusters()
    assert result == b.reference()
    by_cluster: dict[str, set[int]] = {}
    for i, c in enumerate(result.values()):
        by_cluster.setdefault(c, set()).add(int(kinds[1000 + i]))
    assert all(len(k) == 1 for k in by_cluster.values())
    assert len(by_cluster) == len(set(kinds[1000:].tolist()))
