"""Per-point feature vectors of normalized, resampled ink (numpy, vectorized).

Layout of one vector (index: value), all lengths in core heights, y down:

    0  dx         x[i] - x[i-1]; 0 at the first point of the ink. Across a pen lift this
                  is the jump from the end of the previous stroke.
    1  dy         y[i] - y[i-1] (positive: downward), same convention.
    2  pen_up     1.0 at the first point of every stroke (the move into it was made with
                  the pen lifted), else 0.0.
    3  cos_dir    writing direction at i: the unit vector of p[i+1] - p[i-1] within the
    4  sin_dir    stroke (one-sided at stroke ends); (0, 0) for a one-point stroke (a dot).
    5  cos_curv   turning angle at i between the incoming step p[i] - p[i-1] and the
    6  sin_curv   outgoing step p[i+1] - p[i] (positive sin: turning clockwise on screen,
                  as y grows downward); (1, 0) at stroke ends and for dots (no turn).
    7  height     -y[i]: height above the baseline (corpus line at 1); only with
                  `InkFeatureConfig.position`.

Direction and curvature as in NPen++ (Jaeger et al., IJDAR 2001); dx, dy and the
pen bit as in Graves et al. (TPAMI 2009). F = 7, or 8 with `height`.
"""

from __future__ import annotations

import numpy as np

from recog.features.ink.resample import stroke_ids

DX, DY, PEN_UP, COS_DIR, SIN_DIR, COS_CURV, SIN_CURV, HEIGHT = range(8)
NAMES = ["dx", "dy", "pen_up", "cos_dir", "sin_dir", "cos_curv", "sin_curv", "height"]


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of v [N, 2] scaled to length 1 (zero rows stay zero); also returns the lengths."""
    norm = np.hypot(v[:, 0], v[:, 1])
    safe = np.where(norm > 0, norm, 1.0)
    return v / safe[:, None], norm


def point_vectors(xy: np.ndarray, offsets: np.ndarray, position: bool = True) -> np.ndarray:
    """Normalized points [N, 2] + stroke offsets [S + 1] -> feature vectors [N, 7 or 8] float32."""
    n = len(xy)
    dim = 8 if position else 7
    out = np.zeros((n, dim), np.float32)
    if n == 0:
        return out
    ids = stroke_ids(offsets)
    first = np.asarray(offsets[:-1], np.int64)
    last = np.asarray(offsets[1:], np.int64) - 1
    delta = np.zeros_like(xy)
    delta[1:] = xy[1:] - xy[:-1]
    out[:, DX], out[:, DY] = delta[:, 0], delta[:, 1]
    out[first, PEN_UP] = 1.0

    # Neighbours inside the stroke (clamped at its ends).
    idx = np.arange(n)
    prev = np.maximum(idx - 1, first[ids])
    nxt = np.minimum(idx + 1, last[ids])
    direction, _ = _unit(xy[nxt] - xy[prev])
    out[:, COS_DIR], out[:, SIN_DIR] = direction[:, 0], direction[:, 1]

    u, nu = _unit(xy[idx] - xy[prev])
    w, nw = _unit(xy[nxt] - xy[idx])
    turning = (nu > 0) & (nw > 0)
    out[:, COS_CURV] = np.where(turning, u[:, 0] * w[:, 0] + u[:, 1] * w[:, 1], 1.0)
    out[:, SIN_CURV] = np.where(turning, u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0], 0.0)
    if position:
        out[:, HEIGHT] = -xy[:, 1]
    return out
