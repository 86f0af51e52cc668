"""Open-addressing hash map from int64 keys to int32 values, usable inside numba code.

The n-gram table (`recog.decode.lm`), the word trie and the hotword trie
(`recog.decode.lexicon`) all need "(node, token) -> row" look-ups from
`@njit` code, where Python dicts are not available. A pair of flat arrays
does the job: `keys[cap]` int64 (-1 = empty slot) and `vals[cap]` int32, with
`cap` a power of two at most half full and linear probing (Knuth, TAOCP vol. 3,
6.4, algorithm L). Keys are scrambled with the splitmix64 finalizer (Steele,
Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014)
so that the dense, structured keys `state * V + word` spread over the table.
"""

from __future__ import annotations

import numpy as np
from numba import njit

EMPTY = -1

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


@njit(cache=True, inline="always")
def _mix(key: int) -> np.uint64:
    z = np.uint64(key)
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True)
def ht_get(keys: np.ndarray, vals: np.ndarray, key: int) -> int:
    """Value stored for `key` (a non-negative int64), or -1 when absent."""
    mask = keys.shape[0] - 1
    i = np.int64(_mix(key) & np.uint64(mask))
    while True:
        k = keys[i]
        if k == key:
            return vals[i]
        if k == EMPTY:
            return -1
        i = (i + 1) & mask


@njit(cache=True, nogil=True)
def _fill(src_keys: np.ndarray, src_vals: np.ndarray, keys: np.ndarray, vals: np.ndarray) -> int:
    mask = keys.shape[0] - 1
    dupes = 0
    for j in range(src_keys.shape[0]):
        key = src_keys[j]
        i = np.int64(_mix(key) & np.uint64(mask))
        while True:
            k = keys[i]
            if k == EMPTY:
                keys[i] = key
                vals[i] = src_vals[j]
                break
            if k == key:
                vals[i] = src_vals[j]
                dupes += 1
                break
            i = (i + 1) & mask
    return dupes


def build_table(keys: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hash arrays `(table_keys int64[cap], table_vals int32[cap])` mapping keys[i] -> vals[i].

    Args:
        keys: int64[n], non-negative and distinct.
        vals: int32[n].
    Raises:
        ValueError: a key is negative or repeated.
    """
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    vals = np.ascontiguousarray(vals, dtype=np.int32)
    if keys.shape != vals.shape or keys.ndim != 1:
        raise ValueError(f"keys and vals must be 1-D of one length, got {keys.shape} and {vals.shape}")
    if keys.size and keys.min() < 0:
        raise ValueError("hash keys must be non-negative")
    cap = 8
    while cap < 2 * keys.size:
        cap *= 2
    table_keys = np.full(cap, EMPTY, dtype=np.int64)
    table_vals = np.full(cap, -1, dtype=np.int32)
    dupes = _fill(keys, vals, table_keys, table_vals) if keys.size else 0  # no keys: no need to compile _fill
    if dupes:
        raise ValueError(f"{dupes} repeated key(s) in hash table input")
    return table_keys, table_vals
