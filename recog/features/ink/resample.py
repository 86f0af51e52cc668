"""Equidistant resampling of pen strokes along their arc length (numpy, vectorized over all strokes).

Resampling to a fixed spacing removes the writing speed and the device's
sampling rate from the sequence: a recognizer sees the shape, and the number of
vectors grows with the length of the trace, not with how slowly it was drawn
(Guerfali & Plamondon 1993; Jaeger et al. 2001, NPen++).
"""

from __future__ import annotations

import numpy as np

from recog.features.ink.strokes import InkError
from recog.features.limits import above


def stroke_ids(offsets: np.ndarray) -> np.ndarray:
    """Offsets [S + 1] -> stroke index of every point [N] int64."""
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def resample_strokes(xy: np.ndarray, offsets: np.ndarray, spacing: float, max_points: int | None = None,
                     source: str = "<ink>") -> tuple[np.ndarray, np.ndarray]:
    """Points [N, 2] + offsets [S + 1] -> equidistant points [M, 2] + offsets [S + 1].

    A stroke of arc length L becomes n = max(1, round(L / spacing)) segments of
    exactly L / n each (so the spacing lies within [2/3, 2] x `spacing` for short
    strokes and tends to `spacing` for long ones); both end points are kept, and
    a stroke of length 0 (a dot) keeps one point. Points are linearly interpolated
    along the polyline, so every new point lies on the original trace.

    M is counted from the stroke lengths before any point is made: when it would exceed
    `max_points` (or the lengths are not finite) an `InkError` naming `source` says so.
    """
    if spacing <= 0 or len(xy) == 0:
        return xy, offsets
    n_strokes = len(offsets) - 1
    ids = stroke_ids(offsets)
    step = np.zeros(len(xy))
    step[1:] = np.hypot(*(xy[1:] - xy[:-1]).T)
    first = offsets[:-1]
    step[first] = 0.0
    arc = np.cumsum(step)  # arc length from the start of the ink, pen-up jumps excluded
    start = arc[first]
    length = arc[offsets[1:] - 1] - start
    if max_points is not None:
        total = float(np.sum(np.where(length > 0, np.maximum(1.0, np.rint(length / spacing)) + 1.0, 1.0)))
        if not total <= max_points:  # also NaN: lengths overflowed
            raise InkError(above(source, f"resampling every {spacing:g} core heights would make",
                                 f"{total:.0f} points (path length {float(np.sum(length)):.3g} core heights),",
                                 max_points, "max_resampled_points"))
    segments = np.maximum(1, np.rint(length / spacing)).astype(np.int64)
    counts = np.where(length > 0, segments + 1, 1)
    new_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    new_ids = np.repeat(np.arange(n_strokes), counts)
    j = np.arange(new_offsets[-1]) - new_offsets[new_ids]
    target = j * (length / segments)[new_ids]  # arc position within the stroke
    # Interpolate on a global coordinate where every stroke gets its own interval, separated
    # by a gap of 1, so a position never mixes points of two strokes.
    key = arc + ids  # strictly increasing across strokes (the +1 per stroke), non-decreasing within
    query = start[new_ids] + new_ids + target
    out = np.column_stack([np.interp(query, key, xy[:, 0]), np.interp(query, key, xy[:, 1])])
    out[new_offsets[1:] - 1] = xy[offsets[1:] - 1]  # end points exactly, whatever the rounding of `query`
    return out, new_offsets
