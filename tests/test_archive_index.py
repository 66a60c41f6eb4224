"""The archive index answers what reading every published version answered.

The reference functions below are the scans the index replaced (plan's known files, the entity
cache, publish's near-duplicate candidates, as of the near-duplicate fix), kept here as the
oracle. Random archives (days of text dumps with repeated files, repeated contents and edited
copies, a re-run day, a deleted index) are built with the real pipeline, then every lookup is
compared with its scan.
"""

from __future__ import annotations

import random
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import stages
from pipeline.batch import archive_index, plan, publish
from pipeline.batch.archive_index import ArchiveIndex
from pipeline.ingest import readers
from pipeline.settings import Settings
from pipeline.transform import neardup
from pipeline.warehouse import storage

WORDS = (
    "Regierung", "Bericht", "Stadt", "Markt", "Preis", "Woche", "Jahr", "Zeit", "Welt",
    "Land", "Haus", "Schule", "Kinder", "Wasser", "Arbeit", "Geld", "Frage", "Antwort",
    "Abend", "Morgen", "Zukunft", "Gericht", "Polizei", "Wahl", "Partei", "Kanzler",
    "Minister", "Bahn", "Strom", "Klima", "Wetter", "Sport", "Spiel", "Verein", "Trainer",
    "Musik", "Film", "Buch", "Kunst", "Theater", "Museum", "Hafen", "Schiff", "Flug", "Auto",
    "Straße", "Brücke", "Turm", "Garten",
)


# -- the scans the index replaced (the oracle) --------------------------------------------------

def scan_known_files(wh: storage.Warehouse, digests: set[str],
                     batch_date: date) -> dict[str, tuple[str, str, str]]:
    seen: dict[str, tuple[str, str, str]] = {}
    for other in wh.published_batches():
        version = wh.current_version(other)
        if other == batch_date or version is None:
            continue
        files = {name: digest for name, (digest, _) in plan._manifest(version).items()}
        seen.update((digest, (str(version), name, other.isoformat()))
                    for name, digest in files.items() if digest in digests)
    return seen


def scan_enriched(wh: storage.Warehouse, label: str, hashes: set[str]) -> dict[str, str]:
    """content hash -> article id of the first article the model enriched (old entity cache)."""
    found: dict[str, str] = {}
    for batch in wh.published_batches():
        version = wh.current_version(batch)
        if version is None:
            continue
        articles = ds.dataset(version / "articles", format="parquet")
        if "ner_model" not in articles.schema.names:
            continue
        hits = articles.to_table(columns=["article_id", "content_hash"], filter=(
            (pc.field("ner_model") == label) & pc.field("content_hash").isin(sorted(hashes))))
        for article_id, content_hash in zip(hits.column("article_id").to_pylist(),
                                            hits.column("content_hash").to_pylist(), strict=True):
            found.setdefault(str(content_hash), f"{batch}/{article_id}")
    return found


def scan_earlier(wh: storage.Warehouse, batch_date: date
                 ) -> tuple[list[str], list[str], np.ndarray]:
    """Every earlier article with its cluster and signature (old publish)."""
    earlier: list[pa.Table] = []
    for other in wh.published_batches():
        version = wh.current_version(other)
        if other == batch_date or version is None:
            continue
        for path in sorted((version / "articles").glob("*.parquet")):
            earlier.append(pq.read_table(path, columns=["article_id", "duplicate_cluster_id",
                                                        "minhash"]))
    ids = [str(a) for t in earlier for a in t.column("article_id").to_pylist()]
    clusters = [str(c or a) for t in earlier for a, c in zip(
        t.column("article_id").to_pylist(), t.column("duplicate_cluster_id").to_pylist(),
        strict=True)]
    sigs = (np.concatenate([publish._signatures(t) for t in earlier]) if earlier
            else np.empty((0, neardup.NUM_PERM), np.uint32))
    return ids, clusters, sigs


# -- random archives ---------------------------------------------------------------------------

def body(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 120))) + "."


def edited(rng: random.Random, text: str, share: float) -> str:
    words = text.split()
    for _ in range(int(len(words) * share)):
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words)


def build_archive(root: Path, seed: int, days: int = 6) -> tuple[Settings, Path, list[date]]:
    """Publish ``days`` random batches; file bytes, contents and near copies recur across days;
    the third day is run twice (its first version replaced) and the index is deleted once."""
    rng = random.Random(seed)
    settings = Settings.from_mapping({"warehouse": root / "wh", "quality_gate": False,
                                      "ner_models": {"de": "none", "en": "none"}})
    pool: list[str] = []
    files: list[bytes] = []
    first = date(2024, 3, 1)
    dates = [first + timedelta(days=i) for i in range(days)]
    for n, day in enumerate(dates):
        landing = root / "landing" / day.isoformat()
        landing.mkdir(parents=True)
        for i in range(rng.randint(6, 14)):
            roll = rng.random()
            if files and roll < 0.2:  # the same bytes as an earlier file
                data = rng.choice(files)
            else:
                if pool and roll < 0.45:
                    text = edited(rng, rng.choice(pool), rng.choice((0.0, 0.05, 0.3)))
                else:
                    text = body(rng)
                    pool.append(text)
                data = f" date {day.isoformat()} {text[:60]}\n\n{text}\n".encode()
                files.append(data)
            (landing / f"{i:03d}_{rng.getrandbits(32):08x}.txt").write_bytes(data)
        if n == 3:  # the index is derived data: deleted, the next run's lookups rebuild it
            shutil.rmtree(settings.warehouse / archive_index.INDEX_DIR)
        stages.run_batch(readers.list_input_files(landing), day, settings)
        if n == 2:  # a re-run with one more file replaces the first version
            (landing / "999_extra.txt").write_bytes(f" date {day}\n\n{body(rng)}\n".encode())
            stages.run_batch(readers.list_input_files(landing), day, settings)
    return settings, root / "landing", dates


@pytest.mark.parametrize("seed", [1, 2])
def test_lookups_equal_the_scans(tmp_path: Path, seed: int,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Band rows in both tables: seed 1 merges the first days' by hand (as a compaction does),
    seed 2 lets ``record`` merge all but the last two batches'."""
    if seed == 2:
        monkeypatch.setattr(archive_index, "MAX_RECENT_BATCHES", 2)
    s, _, dates = build_archive(tmp_path, seed)
    wh = storage.Warehouse(s.warehouse)
    index = ArchiveIndex(wh)
    if seed == 1:
        assert index.merge(before=dates[3]) > 0
    with index._connect() as con:
        split = [con.execute(sql).fetchone()[0] for sql in (
            "SELECT count(*) FROM bands", "SELECT count(*) FROM bands_new")]
    assert min(split) > 0, split
    all_digests = {d for v in dates if (cur := wh.current_version(v)) is not None
                   for d, _ in plan._manifest(cur).values()}
    assert len(all_digests) > 20
    for day in [*dates, dates[-1] + timedelta(days=1)]:
        expected = scan_known_files(wh, all_digests, day)
        got = index.known_files(all_digests, exclude=day)
        assert {k: (str(wh.store(d, r).resolve()), n, d.isoformat())
                for k, (d, r, n) in got.items()} == expected

        staged_sigs = scan_earlier(wh, date(1999, 1, 1))[2]  # the whole archive as "new"
        ids, clusters, sigs = scan_earlier(wh, day)
        cand = index.near_duplicate_candidates(staged_sigs, exclude=day)
        # every earlier article shares a band with itself: all of them, in archive order
        assert cand.article_ids == ids and cand.cluster_ids == clusters
        assert np.array_equal(cand.signatures, sigs)


def test_a_batch_is_clustered_as_against_the_whole_archive(tmp_path: Path) -> None:
    """Publish's clusters with the index's candidates equal those with every earlier article,
    for new batches of edited copies of archive articles."""
    s, _, dates = build_archive(tmp_path, 7)
    wh = storage.Warehouse(s.warehouse)
    rng = random.Random(7)
    noise = np.random.default_rng(7)
    ids, _, sigs = scan_earlier(wh, date(1999, 1, 1))
    copies = sigs[rng.sample(range(len(ids)), 15)].copy()  # edited copies of earlier articles
    flips = noise.random(copies.shape) < 0.15
    copies[flips] = noise.integers(0, 2**32, int(flips.sum()), dtype=np.uint32)
    new_sigs = np.concatenate([neardup.signatures([body(rng) for _ in range(5)]), copies])
    new_ids = [f"new{i}" for i in range(len(new_sigs))]
    for day in (dates[2], dates[-1] + timedelta(days=1)):
        e_ids, e_clusters, e_sigs = scan_earlier(wh, day)
        cand = ArchiveIndex(wh).near_duplicate_candidates(new_sigs, exclude=day)
        assert len(cand.article_ids) < len(e_ids)
        assert (neardup.cluster_arrays(new_ids, new_sigs, cand.article_ids, cand.cluster_ids,
                                       cand.signatures)
                == neardup.cluster_arrays(new_ids, new_sigs, e_ids, e_clusters, e_sigs))
        joined = neardup.cluster_arrays(new_ids, new_sigs, e_ids, e_clusters, e_sigs)
        assert sum(1 for a, c in joined.items() if a != c) >= 15


def _families(data: st.DataObject, families: int, old: int, new: int, clusters: int,
              rates: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, list[str], list[str],
                                                 list[str]]:
    """Earlier and new signatures, copies of up to ``families`` random texts with a share (one
    of ``rates``) of values replaced; earlier clusters drawn from up to ``clusters`` ids; the
    earlier and new article ids."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    bases = rng.integers(0, 2**32, (data.draw(st.integers(1, families)), neardup.NUM_PERM),
                         dtype=np.uint32)

    def copies(n: int) -> np.ndarray:
        rows = bases[rng.integers(0, len(bases), n)].copy()
        flips = rng.random(rows.shape) < rng.choice(rates, (n, 1))
        rows[flips] = rng.integers(0, 2**32, int(flips.sum()), dtype=np.uint32)
        return rows

    olds, news = copies(data.draw(st.integers(0, old))), copies(data.draw(st.integers(1, new)))
    n_clusters = data.draw(st.integers(1, clusters))
    return (olds, news, [f"c{rng.integers(0, n_clusters)}" for _ in range(len(olds))],
            [f"o{i}" for i in range(len(olds))], [f"n{i}" for i in range(len(news))])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_clusters_depend_only_on_earlier_articles_sharing_a_band(data: st.DataObject) -> None:
    """The property the near-duplicate index rests on: dropping the earlier articles that share
    no band with any new article changes no cluster (random families of edited signatures)."""
    old, new, old_clusters, old_ids, new_ids = _families(data, 6, 40, 30, 8,
                                                         (0.05, 0.3, 0.6, 1.0))
    shared = np.isin(archive_index.band_codes(old), archive_index.band_codes(new)).any(axis=1)
    keep = np.flatnonzero(shared)
    assert neardup.cluster_arrays(new_ids, new, [old_ids[i] for i in keep],
                                  [old_clusters[i] for i in keep], old[keep]) == \
        neardup.cluster_arrays(new_ids, new, old_ids, old_clusters, old)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_clusters_depend_only_on_the_earlier_articles_a_bucket_keeps(
        data: st.DataObject) -> None:
    """What lets the index hand over few candidates however popular a band key is: the earlier
    articles no bucket keeps (beyond ``EARLIER_PER_CLUSTER`` of a cluster, ``MAX_EARLIER`` in
    all) change no cluster. Hundreds of earlier copies of a few texts, in few clusters."""
    old, new, old_clusters, old_ids, new_ids = _families(data, 4, 300, 20, 30,
                                                         (0.0, 0.05, 0.3, 0.6))
    old_codes, new_codes = archive_index.band_codes(old), archive_index.band_codes(new)
    hit_article, hit_band = np.nonzero(np.isin(old_codes, new_codes))
    numbers = {c: i for i, c in enumerate(dict.fromkeys(old_clusters))}
    keep = neardup.kept_earlier(old_codes[hit_article, hit_band], hit_article.astype(np.int64),
                                np.array([numbers[old_clusters[i]] for i in hit_article],
                                         dtype=np.int64))
    # the same articles the clustering's own buckets keep, band by band
    codes = np.array([numbers[c] for c in old_clusters], dtype=np.int64)
    used: set[int] = set()
    for band in range(neardup.BANDS):
        _, node = neardup._buckets(neardup._band_key(new, band), neardup._band_key(old, band),
                                   codes, len(old))
        used.update(node[node < len(old)].tolist())
    assert keep.tolist() == sorted(used)
    assert neardup.cluster_arrays(new_ids, new, [old_ids[i] for i in keep],
                                  [old_clusters[i] for i in keep], old[keep]) == \
        neardup.cluster_arrays(new_ids, new, old_ids, old_clusters, old)


def test_entity_cache_lookup_equals_the_scan(tmp_path: Path, tiny_ner: Path) -> None:
    _, landing, dates = build_archive(tmp_path, 3, days=3)
    s = Settings.from_mapping({"warehouse": tmp_path / "wh", "quality_gate": False,
                               "ner_models": {"de": str(tiny_ner), "en": "none"}})
    for day in dates[:2]:  # enriched again by the model: contents recur across the days
        stages.run_batch(readers.list_input_files(landing / day.isoformat()), day, s)
    wh = storage.Warehouse(s.warehouse)
    hashes = {str(h) for v in dates if (cur := wh.current_version(v)) is not None
              for h in pq.read_table(cur / "articles", columns=["content_hash"])
              .column("content_hash").to_pylist()}
    label = "de_tiny_ruler-0.0.1"
    expected = scan_enriched(wh, label, hashes)
    got = ArchiveIndex(wh).enriched_articles(label, hashes)
    assert expected and {h: f"{d}/{a}" for h, (d, _, a) in got.items()} == expected
    assert ArchiveIndex(wh).enriched_articles("de_other-1.0", hashes) == {}


def test_index_follows_replaced_and_removed_batches(tmp_path: Path) -> None:
    s, _, dates = build_archive(tmp_path, 5, days=4)
    wh = storage.Warehouse(s.warehouse)
    index = ArchiveIndex(wh)
    assert index.sync() == 0  # publish recorded every batch
    # a batch withdrawn by hand (its pointer removed) is forgotten at the next lookup
    wh.pointer(dates[1]).unlink()
    assert index.sync() == 0
    with index._connect() as con:
        indexed = {d for (d,) in con.execute("SELECT batch_date FROM batches")}
    assert indexed == {d.isoformat() for d in dates if d != dates[1]}
    assert index.near_duplicate_candidates(scan_earlier(wh, dates[1])[2], exclude=dates[0]
                                           ).article_ids == scan_earlier(wh, dates[0])[0]


def test_lookups_probe_the_index_per_key(tmp_path: Path) -> None:
    """Each lookup walks the batch's keys and searches the index for each: no query plan scans
    an index table (a scan costs what the archive holds; SQLite chose one for a fresh temporary
    table until the join order was fixed)."""
    import sqlite3

    s, _, _ = build_archive(tmp_path, 4, days=2)
    index = ArchiveIndex(storage.Warehouse(s.warehouse))
    con = sqlite3.connect(index.path)
    con.execute("CREATE TEMP TABLE wanted (k PRIMARY KEY) WITHOUT ROWID")
    for sql, params in ((archive_index.KNOWN_FILES_SQL, ("x",)),
                        (archive_index.ENRICHED_SQL, ("x",)),
                        (archive_index.CANDIDATES_SQL, {"exclude": "x"})):
        plan = [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql, params)]
        scans = [step for step in plan if step.startswith("SCAN")]
        assert scans and all(step == "SCAN w" for step in scans), plan  # once per table
    con.close()


def _open_index(root: str, barrier: object) -> None:
    index = ArchiveIndex(storage.Warehouse(Path(root)))
    barrier.wait()  # type: ignore[attr-defined]
    for _ in range(20):  # each open switches the journal if needed, then forgets a batch
        index.forget(date(2024, 1, 1))


def test_processes_opening_a_new_index_at_once_all_succeed(tmp_path: Path) -> None:
    """A parallel backfill's workers create the index together: switching a new file to WAL
    needs it to themselves and SQLite does not wait for that, so each retries (a worker failed
    its day with 'database is locked' before)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for attempt in range(3):
        root = tmp_path / f"wh{attempt}"
        barrier = ctx.Barrier(6)
        procs = [ctx.Process(target=_open_index, args=(str(root), barrier)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 6
