"""Byte-level mutations of valid inputs for the property-style tests of the CLI and the service."""

from __future__ import annotations

import numpy as np


def mutate(data: bytes, rng: np.random.Generator, kind: int) -> bytes:
    """One mutation of `data`: 0 flip bytes anywhere, 1 truncate, 2 damage the first 64 bytes
    (headers, JSON openers), 3 insert random bytes, else random bytes of a random length."""
    b = bytearray(data)
    if kind == 0:
        for i in rng.integers(0, max(len(b), 1), size=int(rng.integers(1, 16))):
            if b:
                b[i] = int(rng.integers(0, 256))
    elif kind == 1:
        b = b[: int(rng.integers(0, len(b) + 1))]
    elif kind == 2:
        for i in rng.integers(0, max(min(64, len(b)), 1), size=6):
            if b:
                b[i] = int(rng.integers(0, 256))
    elif kind == 3:
        at = int(rng.integers(0, len(b) + 1))
        b[at:at] = rng.bytes(int(rng.integers(1, 300)))
    else:
        b = bytearray(rng.bytes(int(rng.integers(0, 6000))))
    return bytes(b)


def mutations(data: bytes, rng: np.random.Generator, count: int) -> list[bytes]:
    """`count` mutations of `data`, cycling through the five kinds."""
    return [mutate(data, rng, k % 5) for k in range(count)]
