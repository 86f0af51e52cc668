"""Cubic Bezier encoding of ink (Carbune et al., "Fast multi-language LSTM-based online
handwriting recognition", IJDAR 2020, section 3.1).

Each stroke is cut into pieces that one cubic Bezier curve fits within
`tolerance` (core heights): a curve is fitted to the whole stroke by least
squares (end points fixed to the stroke's, chord-length parameters, the two
control points solved from 2x2 normal equations); where the largest point-curve
distance exceeds the tolerance, the stroke is split at that point and both
halves are fitted again, recursively (the splitting scheme of Schneider,
"An algorithm for automatically fitting digitized curves", Graphics Gems 1990).
A piece longer than `MAX_SPLIT_SPAN` points is split at its middle instead, so a
pathological stroke costs O(N log N + N x MAX_SPLIT_SPAN), not O(N^2); no stroke of
handwriting is that long (IAM-OnDB's longest has 294 resampled points).

A line becomes one vector per curve, several times fewer than resampled
points. Layout (core heights, y down):

    0  dx       end point - start point of the curve
    1  dy
    2  c1x      first control point - start point
    3  c1y
    4  c2x      second control point - end point
    5  c2y
    6  pen_up   1.0 for the straight pen-up move into the start of each stroke (its
                control points at 1/3 and 2/3 of the way), 0.0 for drawn curves
    7  height   -y of the end point (height above the baseline); only with `position`

Carbune et al. give the control points as a distance ratio and an angle relative to
the chord, and add time coefficients; the offsets used here carry the same geometry
without dividing by the chord (zero for closed loops such as an "o"). Time is not
used (the IAM-OnDB arrays have none). A one-point stroke (a dot) is one curve of
length zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

RIDGE = 1e-3  # pulls under-determined fits (3 points) toward the straight line
MAX_SPLIT_SPAN = 1024  # points; longer pieces that miss the tolerance are halved, not split at their worst point


@dataclass
class BezierCurves:
    """Pen-down cubic curves in writing order: start p0, controls c1, c2, end p3 ([M, 2] each),
    stroke [M] int64 (the stroke each curve belongs to)."""

    p0: np.ndarray
    c1: np.ndarray
    c2: np.ndarray
    p3: np.ndarray
    stroke: np.ndarray

    def __len__(self) -> int:
        return len(self.p0)

    def evaluate(self, t: np.ndarray) -> np.ndarray:
        """Curve points at parameters t [K] in [0, 1] -> [M, K, 2]."""
        t = np.asarray(t, np.float64)[None, :, None]
        s = 1.0 - t
        return (s**3 * self.p0[:, None] + 3 * s**2 * t * self.c1[:, None]
                + 3 * s * t**2 * self.c2[:, None] + t**3 * self.p3[:, None])


@numba.njit(cache=True)
def _fit(xy: np.ndarray, a: int, b: int, out: np.ndarray) -> tuple[float, int]:
    """Least-squares cubic through xy[a..b] with fixed ends; control points into out[0:2, :].

    Returns (largest distance of a point from the curve at its parameter, index of that point).
    """
    m = b - a + 1
    t = np.empty(m)  # np.empty and explicit zeros: np.zeros compiles more (see recog/_cache.py)
    t[0] = 0.0
    for j in range(1, m):
        t[j] = t[j - 1] + np.hypot(xy[a + j, 0] - xy[a + j - 1, 0], xy[a + j, 1] - xy[a + j - 1, 1])
    total = t[m - 1]
    if total <= 0.0:
        for d in range(2):
            out[0, d] = xy[a, d]
            out[1, d] = xy[a, d]
        return 0.0, a
    t /= total
    m11 = m12 = m22 = 0.0
    r1 = np.empty(2)
    r2 = np.empty(2)
    for d in range(2):
        r1[d] = r2[d] = 0.0
    for j in range(m):
        s = 1.0 - t[j]
        b0, b1, b2, b3 = s * s * s, 3 * s * s * t[j], 3 * s * t[j] * t[j], t[j] * t[j] * t[j]
        m11 += b1 * b1
        m12 += b1 * b2
        m22 += b2 * b2
        for d in range(2):
            r = xy[a + j, d] - b0 * xy[a, d] - b3 * xy[b, d]
            r1[d] += b1 * r
            r2[d] += b2 * r
    lam = RIDGE
    m11 += lam
    m22 += lam
    det = m11 * m22 - m12 * m12
    for d in range(2):
        l1 = xy[a, d] + (xy[b, d] - xy[a, d]) / 3.0
        l2 = xy[a, d] + 2.0 * (xy[b, d] - xy[a, d]) / 3.0
        q1, q2 = r1[d] + lam * l1, r2[d] + lam * l2
        out[0, d] = (m22 * q1 - m12 * q2) / det
        out[1, d] = (m11 * q2 - m12 * q1) / det
    worst, where = 0.0, a
    for j in range(1, m - 1):
        s = 1.0 - t[j]
        b0, b1, b2, b3 = s * s * s, 3 * s * s * t[j], 3 * s * t[j] * t[j], t[j] * t[j] * t[j]
        ex = b0 * xy[a, 0] + b1 * out[0, 0] + b2 * out[1, 0] + b3 * xy[b, 0] - xy[a + j, 0]
        ey = b0 * xy[a, 1] + b1 * out[0, 1] + b2 * out[1, 1] + b3 * xy[b, 1] - xy[a + j, 1]
        e = np.hypot(ex, ey)
        if e > worst:
            worst, where = e, a + j
    return worst, where


@numba.njit(cache=True)
def _fit_strokes(xy: np.ndarray, offsets: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """All strokes -> (curves [M, 4, 2] = p0, c1, c2, p3; stroke of each curve [M])."""
    n = xy.shape[0]
    # Every element is written before it is read (curves and owner up to `count`).
    curves = np.empty((n + offsets.shape[0], 4, 2))
    owner = np.empty(n + offsets.shape[0], np.int64)
    ctrl = np.empty((2, 2))
    stack = np.empty((n + 2, 2), np.int64)
    count = 0
    for k in range(offsets.shape[0] - 1):
        first, last = offsets[k], offsets[k + 1] - 1
        if last < first:
            continue
        top = 0
        stack[0, 0], stack[0, 1] = first, last
        top = 1
        while top > 0:
            top -= 1
            a, b = stack[top, 0], stack[top, 1]
            if b == a:
                for d in range(2):
                    ctrl[0, d] = xy[a, d]
                    ctrl[1, d] = xy[a, d]
                worst, where = 0.0, a
            else:
                worst, where = _fit(xy, a, b, ctrl)
            if worst > tolerance and b - a >= 2:
                if b - a > MAX_SPLIT_SPAN:
                    where = (a + b) // 2
                stack[top, 0], stack[top, 1] = where, b  # right half, done after the left
                stack[top + 1, 0], stack[top + 1, 1] = a, where
                top += 2
                continue
            # Element by element: copying rows as slices compiles numba's shape-mismatch error
            # path (a few seconds on the first run); see recog/_cache.py.
            for d in range(2):
                curves[count, 0, d] = xy[a, d]
                curves[count, 1, d] = ctrl[0, d]
                curves[count, 2, d] = ctrl[1, d]
                curves[count, 3, d] = xy[b, d]
            owner[count] = k
            count += 1
    return curves[:count], owner[:count]


def fit_bezier(xy: np.ndarray, offsets: np.ndarray, tolerance: float) -> BezierCurves:
    """Points [N, 2] + offsets [S + 1] -> the pen-down curves of every stroke, in writing order."""
    curves, owner = _fit_strokes(np.ascontiguousarray(xy, np.float64), np.asarray(offsets, np.int64),
                                 float(tolerance))
    return BezierCurves(curves[:, 0], curves[:, 1], curves[:, 2], curves[:, 3], owner)


def bezier_vectors(curves: BezierCurves, xy: np.ndarray, offsets: np.ndarray, position: bool = True) -> np.ndarray:
    """Curves of a line -> vectors [S + M, 7 or 8] float32: a pen-up move, then the stroke's curves,
    for every stroke (layout in the module docstring)."""
    n_strokes = len(offsets) - 1
    dim = 8 if position else 7
    if n_strokes == 0:
        return np.zeros((0, dim), np.float32)
    starts, ends = xy[offsets[:-1]], xy[offsets[1:] - 1]
    air = starts - np.vstack([starts[:1], ends[:-1]])  # the first stroke's move is zero
    # Rows: air move of stroke k, then the curves of stroke k.
    per_stroke = np.bincount(curves.stroke, minlength=n_strokes) + 1
    row_of_air = np.concatenate([[0], np.cumsum(per_stroke)[:-1]]).astype(np.int64)
    is_curve = np.ones(int(per_stroke.sum()), bool)
    is_curve[row_of_air] = False
    out = np.zeros((len(is_curve), dim), np.float32)
    out[row_of_air, 0:2] = air
    out[row_of_air, 2:4] = air / 3.0
    out[row_of_air, 4:6] = -air / 3.0
    out[row_of_air, 6] = 1.0
    out[is_curve, 0:2] = curves.p3 - curves.p0
    out[is_curve, 2:4] = curves.c1 - curves.p0
    out[is_curve, 4:6] = curves.c2 - curves.p3
    if position:
        out[row_of_air, 7] = -starts[:, 1]
        out[is_curve, 7] = -curves.p3[:, 1]
    return out
