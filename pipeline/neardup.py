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
    later: list[np.ndarray] = []  # candidate pairs (later, earlier), indexes into all
    earlier: list[np.ndarray] = []
    for band in range(BANDS):
        keys = new_keys[:, band]
        if m:
            order = np.argsort(old_keys[:, band], kind="stable")
            ranked = old_keys[order, band]
            lo = np.searchsorted(ranked, keys, "left")
            counts = np.searchsorted(ranked, keys, "right") - lo
            hit = np.flatnonzero(counts)
            if hit.size:  # every new article with each earlier one of an equal key
                c = counts[hit]
                within = np.arange(c.sum()) - np.repeat(np.cumsum(c) - c, c)
                later.append(np.repeat(hit + m, c))
                earlier.append(order[np.repeat(lo[hit], c) + within])
        order = np.argsort(keys, kind="stable")  # pairs within the new articles
        ranked = keys[order]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        ends = np.r_[starts[1:], n]
        shared = ends - starts > 1  # only keys held by several new articles make pairs
        for start, end in zip(starts[shared], ends[shared], strict=True):
            group = np.sort(order[start:end])
            before, after = np.triu_indices(len(group), 1)
            later.append(m + group[after])
            earlier.append(m + group[before])
    size = m + n
    codes = np.unique(np.concatenate(later) * size + np.concatenate(earlier)) if later else \
        np.empty(0, dtype=np.int64)  # sorted: by later member, then earlier
    first, second = codes // size, codes % size
    sigs = np.concatenate([earlier_sigs, new_sigs]) if m else new_sigs
    similar = np.empty(len(codes), dtype=bool)
    for at in range(0, len(codes), 65_536):  # estimated Jaccard, a block of pairs at a time
        i, j = first[at:at + 65_536], second[at:at + 65_536]
        similar[at:at + 65_536] = (sigs[i] == sigs[j]).mean(axis=1) >= threshold
    parent = list(range(m + n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(first[similar].tolist(), second[similar].tolist(), strict=True):
        if find(i) != find(j):
            a, b = sorted((find(i), find(j)))
            parent[b] = a  # the earlier member's root wins
    ids = [*earlier_clusters, *new_ids]
    return {new_ids[i]: ids[find(m + i)] for i in range(n)}
