"""Length-bucketed batching: similar lengths together, so little compute goes to padding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def length_buckets(lengths: Sequence[int], max_frames: int, max_batch: int = 64) -> list[list[int]]:
    """Split item indices into batches of similar length.

    Items are sorted by length (longest first) and packed greedily while the
    padded size (items x longest length) stays within `max_frames` and the
    batch within `max_batch` items. An item longer than `max_frames` gets a
    batch of its own. Returns lists of indices into `lengths`.
    """
    order = sorted(range(len(lengths)), key=lambda i: -int(lengths[i]))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = int(lengths[current[0]]) if current else int(lengths[i])
        if current and (len(current) + 1) * longest > max_frames or len(current) >= max_batch:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def pad_batch(features: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """[T_i, F] float32 each -> (padded [B, max T, F] float32 (zeros), lengths [B] int32)."""
    lengths = np.asarray([f.shape[0] for f in features], np.int32)
    dim = features[0].shape[1]
    padded = np.zeros((len(features), int(lengths.max()), dim), np.float32)
    for i, f in enumerate(features):
        padded[i, : f.shape[0]] = f
    return padded, lengths
