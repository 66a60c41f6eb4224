"""Near-duplicate articles (wire copies, re-edits, new headlines) by MinHash + LSH.

Each body becomes a set of word 3-shingles; its MinHash signature (128 permutations) estimates
Jaccard similarity; 32 bands of 4 rows make pairs above ~0.45 collide in some band with high
probability. Candidate pairs are verified on the signatures (estimated Jaccard >=
``THRESHOLD``) and joined into clusters (union-find). Signatures are stored with the articles
(the internal ``articles.minhash`` column) and band keys derived from them at publish, so a
batch is compared with every batch published before it: clusters span batches. A cluster's id
is the ``article_id`` of its first member (earliest batch, then earliest published); rows
already published keep their id.
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


def cluster_arrays(new_ids: Sequence[str], new_sigs: np.ndarray, earlier_ids: Sequence[str],
                   earlier_clusters: Sequence[str], earlier_sigs: np.ndarray,
                   threshold: float = THRESHOLD) -> dict[str, str]:
    """Cluster id of every new article, joining earlier clusters where they match.

    ``new_*`` are in batch order: the first member of a new cluster names it; a new article
    that matches an earlier one takes the earlier cluster's id (the earliest matching member's,
    when it bridges several). Candidate pairs come from equal LSH bands, found with sorted
    arrays per band (no Python loop over earlier articles), and are kept when the estimated
    Jaccard similarity reaches ``threshold``. Earlier clusters are not re-joined with each other.
    """
    m, n = len(earlier_ids), len(new_ids)
    if n == 0:
        return {}
    new_keys, old_keys = band_keys(new_sigs), band_keys(earlier_sigs)
    candidates: set[tuple[int, int]] = set()  # (member, earlier member), indexes into all
    for band in range(BANDS):
        keys = new_keys[:, band]
        if m:
            order = np.argsort(old_keys[:, band], kind="stable")
            ranked = old_keys[order, band]
            lo = np.searchsorted(ranked, keys, "left")
            hi = np.searchsorted(ranked, keys, "right")
            for k in np.flatnonzero(hi > lo):
                candidates.update((m + int(k), int(j)) for j in order[lo[k]:hi[k]])
        order = np.argsort(keys, kind="stable")  # pairs within the new articles
        ranked = keys[order]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        ends = np.r_[starts[1:], n]
        shared = ends - starts > 1  # only keys held by several new articles make pairs
        for start, end in zip(starts[shared], ends[shared], strict=True):
            group = sorted(int(i) for i in order[start:end])
            candidates.update((m + b, m + a) for x, a in enumerate(group) for b in group[x + 1:])
    sigs = np.concatenate([earlier_sigs, new_sigs]) if m else new_sigs
    parent = list(range(m + n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in sorted(candidates):
        if find(i) != find(j) and float(np.mean(sigs[i] == sigs[j])) >= threshold:
            a, b = sorted((find(i), find(j)))
            parent[b] = a  # the earlier member's root wins
    ids = [*earlier_clusters, *new_ids]
    return {new_ids[i]: ids[find(m + i)] for i in range(n)}
