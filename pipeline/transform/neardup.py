"""Near-duplicate articles (wire copies, re-edits, new headlines) by MinHash + LSH.

Each body becomes a set of word 3-shingles; its MinHash signature (128 permutations) estimates
Jaccard similarity; 32 bands of 4 rows make pairs above ~0.45 collide in some band with high
probability. Candidate pairs are verified on the signatures (estimated Jaccard >=
``THRESHOLD``) and joined into clusters (union-find); a bucket's members are compared with a
few representatives rather than with each other (``cluster_arrays``), so thousands of template
articles in one bucket cost linear time and memory, not quadratic. Signatures are stored with
the articles (the internal ``articles.minhash`` column) and band keys derived from them at
publish, so a batch is compared with every batch published before it: clusters span batches. A
cluster's id is the ``article_id`` of its first member (earliest batch, then earliest
published); rows already published keep their id.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS
SHINGLE = 3
THRESHOLD = 0.5
_PRIME = np.uint64((1 << 61) - 1)
_MAX = np.uint64((1 << 32) - 1)
_rng = np.random.default_rng(20230131)
# Multiply-shift hashing, one (a, b) pair per permutation: ((a * x + b) mod 2^64) >> 32 with a
# odd. Only multiplications, additions and a shift on uint64: no modulo, which numpy does slowly.
_A = _rng.integers(0, 1 << 63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _rng.integers(0, 1 << 63, NUM_PERM, dtype=np.uint64)
_SHIFT = np.uint64(32)
_TOKEN = re.compile(r"\w+", re.UNICODE)
_GRAM_MUL = np.uint64(1_000_003)
_BAND_MUL = np.uint64(0x9E3779B97F4A7C15)


def shingles(text: str, k: int = SHINGLE) -> np.ndarray:
    """32-bit hashes (as uint64) of the word k-grams of the lower-cased text (one gram of
    all words if it is shorter).

    Each word is hashed once (CRC-32) and a gram's hash is a polynomial of its words' hashes,
    computed for all grams at once with numpy: no Python loop over grams.
    """
    words = _TOKEN.findall(text.lower())
    if not words:
        return np.empty(0, dtype=np.uint64)
    h = np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))
    k = min(k, len(words))
    grams = np.zeros(len(words) - k + 1, dtype=np.uint64)
    for i in range(k):  # ((w0 * M + w1) * M + w2) mod p over the gram's words
        grams = (grams * _GRAM_MUL + h[i:len(h) - k + 1 + i]) % _PRIME
    return grams & _MAX  # repeated grams stay: they do not change a minimum


def signature(text: str) -> np.ndarray:
    """MinHash signature (``NUM_PERM`` uint32) of the text's shingles."""
    values = shingles(text)
    if values.size == 0:
        return np.full(NUM_PERM, _MAX, dtype=np.uint32)
    hashed = (np.outer(_A, values) + _B[:, None]) >> _SHIFT
    sig: np.ndarray = hashed.min(axis=1).astype(np.uint32)
    return sig


def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):  # the reflected CRC-32 polynomial of zlib
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1)
    return table.astype(np.uint32)


_CRC = _crc_table()
_CRC_MAX_LEN = 64
"""Words up to this many bytes are hashed together, byte position by byte position; longer
ones (URLs, base64) one by one, so a freak token cannot make the loop long."""
_GRAMS_PER_CHUNK = 4096
"""MinHash works on (NUM_PERM x grams) arrays, in place: 4,096 grams are 4 MB of uint64, which
stay in the CPU cache (32k grams made it 2.5x slower)."""


def _crc32_words(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``zlib.crc32`` of every word ``data[start:start + length]``, all words at once."""
    crc = np.full(len(starts), 0xFFFFFFFF, dtype=np.uint32)
    short = np.flatnonzero(lengths <= _CRC_MAX_LEN)
    order = short[np.argsort(-lengths[short], kind="stable")]  # longest first
    s_starts, s_lengths = starts[order], lengths[order]
    running = crc[order]
    for i in range(int(s_lengths[0]) if len(order) else 0):
        active = int(np.searchsorted(-s_lengths, -i, side="left"))  # words longer than i
        c = running[:active]
        running[:active] = _CRC[(c ^ data[s_starts[:active] + i]) & 0xFF] ^ (c >> 8)
    crc[order] = running ^ np.uint32(0xFFFFFFFF)
    for j in np.flatnonzero(lengths > _CRC_MAX_LEN):
        crc[j] = zlib.crc32(data[starts[j]:starts[j] + lengths[j]].tobytes())
    return crc.astype(np.uint64)


def signatures(texts: Sequence[str], k: int = SHINGLE) -> np.ndarray:
    """``(len(texts), NUM_PERM)`` MinHash signatures, equal row for row to ``signature``.

    A parse shard's bodies are hashed together: words are CRC-32ed byte position by byte
    position across all texts, grams and minima are numpy operations over the whole shard.
    Per article that is about a third of ``signature``'s cost (no Python call per word)."""
    out = np.full((len(texts), NUM_PERM), _MAX, dtype=np.uint32)
    words = [_TOKEN.findall(t.lower()) for t in texts]
    full = [i for i, w in enumerate(words) if len(w) >= k]
    for i, w in enumerate(words):
        if 0 < len(w) < k:  # one gram of all words: rare, done the simple way
            out[i] = signature(texts[i])
    if not full:
        return out
    counts = np.array([len(words[i]) for i in full], dtype=np.int64)
    data = np.frombuffer(" ".join(" ".join(words[i]) for i in full).encode("utf-8"),
                         dtype=np.uint8)
    cuts = np.flatnonzero(data == 32)
    starts = np.concatenate(([0], cuts + 1))
    lengths = np.concatenate((cuts, [len(data)])) - starts
    h = _crc32_words(data, starts, lengths)
    n = len(h) - k + 1
    grams = np.zeros(n, dtype=np.uint64)
    for i in range(k):  # as in ``shingles``, over all texts; grams across texts are dropped
        grams = (grams * _GRAM_MUL + h[i:n + i]) % _PRIME
    grams &= _MAX
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))  # each text's first word
    per_text = counts - k + 1
    keep = np.concatenate([np.arange(f, f + g) for f, g in zip(first, per_text, strict=True)])
    grams = grams[keep]
    bounds = np.concatenate(([0], np.cumsum(per_text)))
    buffer = np.empty(NUM_PERM * _GRAMS_PER_CHUNK, dtype=np.uint64)
    t = 0
    while t < len(full):  # chunks of whole texts of at most _GRAMS_PER_CHUNK grams (or one)
        end = max(t + 1, int(np.searchsorted(bounds, bounds[t] + _GRAMS_PER_CHUNK,
                                               side="right")) - 1)
        if bounds[end] - bounds[t] > _GRAMS_PER_CHUNK:  # one long text: block by block
            out[full[t]] = _long_minima(grams[bounds[t]:bounds[end]], buffer)
            t = end
            continue
        chunk = grams[bounds[t]:bounds[end]]
        if len(chunk) * NUM_PERM > len(buffer):
            buffer = np.empty(NUM_PERM * len(chunk), dtype=np.uint64)
        hashed = buffer[:NUM_PERM * len(chunk)].reshape(NUM_PERM, len(chunk))
        np.multiply.outer(_A, chunk, out=hashed)  # in place: the buffer stays in the cache
        hashed += _B[:, None]
        hashed >>= _SHIFT
        minima = np.minimum.reduceat(hashed, bounds[t:end] - bounds[t], axis=1)
        out[full[t:end]] = minima.T.astype(np.uint32)
        t = end
    return out


def _long_minima(grams: np.ndarray, buffer: np.ndarray) -> np.ndarray:
    """The signature of one text of more than ``_GRAMS_PER_CHUNK`` grams, a block at a time:
    a 4 MB record (600,000 grams) as one block took 600 MB (128 hashes of 8 bytes a gram)."""
    best = np.full(NUM_PERM, _MAX, dtype=np.uint64)
    for at in range(0, len(grams), _GRAMS_PER_CHUNK):
        chunk = grams[at:at + _GRAMS_PER_CHUNK]
        hashed = buffer[:NUM_PERM * len(chunk)].reshape(NUM_PERM, len(chunk))
        np.multiply.outer(_A, chunk, out=hashed)
        hashed += _B[:, None]
        hashed >>= _SHIFT
        np.minimum(best, hashed.min(axis=1), out=best)
    return best.astype(np.uint32)


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """``(n, BANDS)`` uint64 keys of ``(n, NUM_PERM)`` signatures: equal bands have equal keys
    (unequal ones rarely collide; candidates are verified on the signatures anyway)."""
    rows = sigs.reshape(len(sigs), BANDS, ROWS).astype(np.uint64)
    keys = np.zeros((len(sigs), BANDS), dtype=np.uint64)
    for c in range(ROWS):  # a polynomial over the band's rows, wrapping at 2^64
        keys = keys * _BAND_MUL + rows[:, :, c]
    return keys


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


@dataclass(frozen=True)
class Member:
    article_id: str
    signature: np.ndarray
    cluster_id: str | None = None
    """Known cluster (an article of an earlier batch); None for a new article."""


def cluster(new: Sequence[Member], earlier: Iterable[Member],
            threshold: float = THRESHOLD) -> dict[str, str]:
    """Cluster id of every new article (see ``cluster_arrays``)."""
    old = list(earlier)
    return cluster_arrays(
        [m.article_id for m in new], _stack([m.signature for m in new]),
        [m.article_id for m in old], [m.cluster_id or m.article_id for m in old],
        _stack([m.signature for m in old]), threshold)


def _stack(sigs: Sequence[np.ndarray]) -> np.ndarray:
    return np.stack(sigs).astype(np.uint32) if sigs else np.empty((0, NUM_PERM), np.uint32)


MAX_HEADS = 32
"""Representatives a bucket's members are compared with, per band. Comparing every pair of a
bucket grew with its square: template articles share most buckets, and 4,000 of them took
3.5 GB (bench/neardup_memory.py: 8,000 took 1.4 GB, 20,000 failed at 6 GB)."""
EARLIER_PER_CLUSTER = 4
"""Earlier articles a bucket keeps per earlier cluster (the first published)."""
MAX_EARLIER = 64
"""Earlier articles a bucket keeps in all (the first published): a template that filled an
earlier batch's bucket with thousands of articles is not compared with all of them again."""
_PAIR_BLOCK = 16_384
"""Candidate pairs verified at a time: two gathers of 512 bytes a pair, 16 MB."""


def cluster_arrays(new_ids: Sequence[str], new_sigs: np.ndarray, earlier_ids: Sequence[str],
                   earlier_clusters: Sequence[str], earlier_sigs: np.ndarray,
                   threshold: float = THRESHOLD) -> dict[str, str]:
    """Cluster id of every new article, joining earlier clusters where they match.

    ``new_*`` are in batch order: the first member of a new cluster names it; a new article
    that matches an earlier one takes the earlier cluster's id (the earliest matching member's,
    when it bridges several). Candidates share an LSH band (equal keys, found with sorted arrays
    per band); a pair joins when its estimated Jaccard similarity reaches ``threshold``; joins
    are a union-find whose earliest member names the cluster (earlier articles first, then
    batch order). Earlier articles are never compared with each other, so earlier clusters are
    only joined through a new article, as before.

    Memory and time are bounded by the batch, whatever its similarity structure: a bucket (one
    band's equal keys) does not compare all its pairs. Its new members, in batch order, are
    compared with representatives: the first new member is compared with every other member
    of the bucket, the first one not similar to it is the next representative, and so on, up
    to ``MAX_HEADS``; a bucket keeps at most ``EARLIER_PER_CLUSTER`` earlier articles per
    earlier cluster and ``MAX_EARLIER`` in all (the first published). Per band at most
    ``(MAX_HEADS + MAX_EARLIER) * len(new_ids)`` pairs are verified, ``_PAIR_BLOCK`` at a time;
    besides, each band's keys of the earlier articles are looked up once (linear in them).

    What that guarantees, against comparing all pairs of every bucket:

    * Never more joined: every join is a verified candidate pair, so each cluster found lies
      within one all-pairs cluster.
    * The same clusters (and ids) whenever, in every bucket, similarity is transitive among the
      pairs it is asked about (x~y and y~h imply x~h for new y, h: near-duplicate families
      apart from each other), no bucket holds more than ``MAX_HEADS`` such families of new
      articles, and none is over its limits of earlier articles. A bucket then links every
      similar pair: a family's first new member is a representative and is compared with all
      of its family; other families are not similar to it.
    * Otherwise a similar pair can be missed in one band: two members that both failed their
      bucket's representatives, or a chain x~y~h with x !~ h where neither x nor y is a
      representative. The pair is still joined if it is connected in another band (similar
      pairs share several bands) or through other members; representatives are also compared
      with members already matched elsewhere when they are not yet in one cluster, which
      closes most chains.
    """
    m, n = len(earlier_ids), len(new_ids)
    if n == 0:
        return {}
    roots = _roots(new_sigs, earlier_clusters, earlier_sigs, threshold).tolist()
    return {new_ids[i]: earlier_clusters[r] if r < m else new_ids[r - m]
            for i, r in enumerate(roots)}


def kept_earlier(buckets: np.ndarray, earlier: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """The earlier articles ``cluster_arrays`` can use, from the rows (bucket, earlier article,
    its cluster) of earlier articles that share a bucket (one band's key) with a new article;
    earlier articles are numbered in archive order. A bucket keeps the first
    ``EARLIER_PER_CLUSTER`` of each cluster and then the first ``MAX_EARLIER`` (``_buckets``);
    an article no bucket keeps changes no cluster, so candidates need not include it: the
    archive index passes only these (sorted, distinct article numbers) on, however many earlier
    articles a popular bucket collected."""
    if not len(buckets):
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((earlier, clusters, buckets))
    b, a, c = buckets[order], earlier[order], clusters[order]
    run = np.r_[True, (b[1:] != b[:-1]) | (c[1:] != c[:-1])]
    first = _rank_in_runs(np.cumsum(run)) < EARLIER_PER_CLUSTER
    b, a = b[first], a[first]
    order = np.lexsort((a, b))
    b, a = b[order], a[order]
    return np.unique(a[_rank_in_runs(b) < MAX_EARLIER])


def _roots(new_sigs: np.ndarray, earlier_clusters: Sequence[str], earlier_sigs: np.ndarray,
           threshold: float) -> np.ndarray:
    """Each new article's cluster root: its cluster's first member, numbering the earlier
    articles ``0..m-1`` and the new ones ``m..m+n-1``."""
    m, n = len(earlier_sigs), len(new_sigs)
    numbers: dict[str, int] = {}  # a number per earlier cluster
    codes = np.fromiter((numbers.setdefault(c, len(numbers)) for c in earlier_clusters),
                        dtype=np.int64, count=m)
    parent = np.arange(m + n, dtype=np.int64)  # union-find over earlier, then new articles
    for band in range(BANDS):
        group, node = _buckets(_band_key(new_sigs, band), _band_key(earlier_sigs, band),
                               codes, m)
        _link(parent, group, node, m, new_sigs, earlier_sigs, threshold)
    return _find(parent, np.arange(m, m + n, dtype=np.int64))


def _band_key(sigs: np.ndarray, band: int) -> np.ndarray:
    """``band_keys(sigs)[:, band]``, without the keys (and uint64 copy) of the other bands."""
    rows = sigs[:, band * ROWS:(band + 1) * ROWS].astype(np.uint64)
    key = np.zeros(len(sigs), dtype=np.uint64)
    for c in range(ROWS):
        key = key * _BAND_MUL + rows[:, c]
    return key


def _rank_in_runs(labels: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal consecutive ``labels``."""
    if not labels.size:
        return np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    return np.arange(len(labels)) - np.repeat(starts, np.diff(np.r_[starts, len(labels)]))


def _buckets(new_key: np.ndarray, old_key: np.ndarray, codes: np.ndarray,
             m: int) -> tuple[np.ndarray, np.ndarray]:
    """One band's buckets that hold a new article and another member: ``(group, node)`` rows
    sorted by group, then node (earlier articles ``0..m-1`` first, then new ones in batch
    order). Earlier articles are limited to ``EARLIER_PER_CLUSTER`` per cluster and
    ``MAX_EARLIER`` per bucket, the first published kept."""
    n = len(new_key)
    order = np.argsort(new_key, kind="stable")
    ranked = new_key[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    keys = ranked[starts]  # sorted, distinct: group g is keys[g]
    groups = [np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))]
    nodes = [order.astype(np.int64) + m]
    if m:
        at = np.minimum(np.searchsorted(keys, old_key), len(keys) - 1)
        hit = np.flatnonzero(keys[at] == old_key)  # earlier articles in some new bucket
        g, c = at[hit], codes[hit]
        by_cluster = np.lexsort((hit, c, g))
        cluster_run = g[by_cluster] * (int(codes.max()) + 1) + c[by_cluster]
        kept = by_cluster[_rank_in_runs(cluster_run) < EARLIER_PER_CLUSTER]
        kept = kept[np.lexsort((hit[kept], g[kept]))]
        kept = kept[_rank_in_runs(g[kept]) < MAX_EARLIER]
        groups.append(g[kept])
        nodes.append(hit[kept].astype(np.int64))
    group, node = np.concatenate(groups), np.concatenate(nodes)
    order = np.lexsort((node, group))
    group, node = group[order], node[order]
    shared = np.bincount(group, minlength=len(keys))[group] > 1
    return group[shared], node[shared]


def _link(parent: np.ndarray, group: np.ndarray, node: np.ndarray, m: int,
          new_sigs: np.ndarray, earlier_sigs: np.ndarray, threshold: float) -> None:
    """Join the similar pairs of one band's buckets that involve a representative.

    Round after round, every bucket's first new member not yet ``covered`` (similar to one of
    the bucket's representatives) becomes its next representative and is compared with each
    other member that is not covered, or not yet in its cluster."""
    if not group.size:
        return
    is_new = node >= m
    covered = np.zeros(len(node), dtype=bool)
    head_of = np.full(int(group[-1]) + 1, -1, dtype=np.int64)
    for _ in range(MAX_HEADS):
        waiting = np.flatnonzero(is_new & ~covered)
        if not waiting.size:
            return
        heads = waiting[np.r_[True, group[waiting][1:] != group[waiting][:-1]]]
        covered[heads] = True
        head_of[:] = -1
        head_of[group[heads]] = heads
        rows = np.flatnonzero(head_of[group] >= 0)
        head = head_of[group[rows]]
        rows, head = rows[rows != head], head[rows != head]
        a, b = node[head], node[rows]
        ask = ~covered[rows] | (_find(parent, a) != _find(parent, b))
        rows, a, b = rows[ask], a[ask], b[ask]
        similar = _similar(a, b, m, new_sigs, earlier_sigs, threshold)
        covered[rows[similar]] = True
        _union(parent, a[similar], b[similar])


def _similar(a: np.ndarray, b: np.ndarray, m: int, new_sigs: np.ndarray,
             earlier_sigs: np.ndarray, threshold: float) -> np.ndarray:
    """Whether each pair of articles ``(a[i], b[i])`` reaches ``threshold``, a block at a time."""
    out = np.empty(len(a), dtype=bool)
    for at in range(0, len(a), _PAIR_BLOCK):
        x = _gather(a[at:at + _PAIR_BLOCK], m, new_sigs, earlier_sigs)
        y = _gather(b[at:at + _PAIR_BLOCK], m, new_sigs, earlier_sigs)
        equal = np.count_nonzero(x == y, axis=1)  # equal / NUM_PERM is exact: a power of 2
        out[at:at + _PAIR_BLOCK] = equal >= threshold * NUM_PERM
    return out


def _gather(index: np.ndarray, m: int, new_sigs: np.ndarray,
            earlier_sigs: np.ndarray) -> np.ndarray:
    """Signatures of articles numbered earlier first, then new (no concatenated copy)."""
    old = index < m
    if not old.any():  # np.take: twice as fast as indexing, for rows
        return np.take(new_sigs, index - m, axis=0)
    out = np.empty((len(index), NUM_PERM), dtype=np.result_type(new_sigs, earlier_sigs))
    out[old] = np.take(earlier_sigs, index[old], axis=0)
    out[~old] = np.take(new_sigs, index[~old] - m, axis=0)
    return out


def _find(parent: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Roots of ``items`` (pointer jumping, all at once); their paths are compressed."""
    roots: np.ndarray = parent[items]
    while True:
        up = parent[roots]
        if np.array_equal(up, roots):
            break
        roots = up
    parent[items] = roots
    return roots


def _union(parent: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Join the pairs ``(a[i], b[i])``: the smaller root wins, so a cluster's root is its
    first member (earlier articles, then batch order), whatever the order of the joins."""
    while a.size:
        ra, rb = _find(parent, a), _find(parent, b)
        apart = ra != rb
        a, b, ra, rb = a[apart], b[apart], ra[apart], rb[apart]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
