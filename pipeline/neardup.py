"""Near-duplicate articles (wire copies, re-edits, new headlines) by MinHash + LSH.

Each body becomes a set of word 3-shingles; its MinHash signature (128 permutations) estimates
Jaccard similarity; 32 bands of 4 rows make pairs above ~0.45 collide in some band with high
probability. Candidate pairs are verified on the signatures (estimated Jaccard >=
``THRESHOLD``) and joined into clusters (union-find). Signatures and band keys are kept in the
warehouse (``_index/minhash``, one file per batch), so a batch is compared with every batch
published before it: clusters span batches. A cluster's id is the ``article_id`` of its first
member (earliest batch, then earliest published); rows already published keep their id.
"""

from __future__ import annotations

import hashlib
import re
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
_A = _rng.integers(1, int(_PRIME), NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, int(_PRIME), NUM_PERM, dtype=np.uint64)
_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, k: int = SHINGLE) -> set[int]:
    """32-bit hashes of the word k-grams of the lower-cased text (the whole text if shorter)."""
    words = _TOKEN.findall(text.lower())
    grams = [" ".join(words[i:i + k]) for i in range(max(1, len(words) - k + 1))]
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little")
            for g in grams if g}


def signature(text: str) -> np.ndarray:
    """MinHash signature (``NUM_PERM`` uint32) of the text's shingles."""
    values = np.fromiter(shingles(text), dtype=np.uint64)
    if values.size == 0:
        return np.full(NUM_PERM, _MAX, dtype=np.uint32)
    # (a * x + b) mod p, truncated to 32 bits: one universal hash per permutation.
    hashed = (np.outer(_A, values) + _B[:, None]) % _PRIME
    sig: np.ndarray = (hashed & _MAX).min(axis=1).astype(np.uint32)
    return sig


def band_keys(sig: np.ndarray) -> list[int]:
    """One 63-bit key per band: equal keys mean an equal band."""
    rows = sig.reshape(BANDS, ROWS)
    return [int.from_bytes(hashlib.blake2b(r.tobytes() + bytes([i]), digest_size=8).digest(),
                           "little") >> 1 for i, r in enumerate(rows)]


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
    """Cluster id of every new article, joining earlier clusters where they match.

    ``new`` is in batch order (its first member of a new cluster names the cluster).
    """
    members = list(earlier) + list(new)
    index: dict[tuple[int, int], list[int]] = {}
    parent = list(range(len(members)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, member in enumerate(members):
        for band, key in enumerate(band_keys(member.signature)):
            for j in index.setdefault((band, key), []):
                if find(i) != find(j) and similarity(member.signature,
                                                     members[j].signature) >= threshold:
                    a, b = sorted((find(i), find(j)))
                    parent[b] = a  # the earlier member's root wins
            index[(band, key)].append(i)
    out: dict[str, str] = {}
    first = len(members) - len(new)
    for i in range(first, len(members)):
        root = members[find(i)]
        out[members[i].article_id] = root.cluster_id or root.article_id
    return out
