"""Ink normalization: clean the points, deskew, scale to core heights, optional slant correction.

The core band of a line (between the baseline and the corpus line, i.e. the
height of an "x") is estimated from the turning points of the pen's vertical
motion, following the NPen++ preprocessing (Jaeger, Manke, Reichert & Waibel,
"Online handwriting recognition: the NPen++ recognizer", IJDAR 2001):

1. Turning points: along each stroke, local maxima and minima of y found with a
   hysteresis of `extrema_delta` x the line's robust height (5th..95th percentile
   of y), so pen jitter does not count (Billauer's peak detection, `turning_points`).
2. Skew: a robust line (Theil-Sen: median of pairwise slopes) through the lower
   turning points (y down: the maxima) is the baseline; the ink is rotated to make
   it horizontal. Beyond 512 turning points (never in a line of writing) the pairs
   of 512 evenly spaced ones are used, so the cost stays linear in the points.
3. Core band: baseline = median y of the lower turning points, corpus line = median
   y of the upper ones. Most turning points of running text lie on these two lines
   (every letter bounces between them); ascenders, descenders and capitals are a
   minority of turning points, so the medians ignore them, where a bounding box or
   a percentile band of all points would not. core height = baseline - corpus line.
   When a line has too few turning points (a dot, a dash), half the robust height is
   used, then half the bounding box, then 1.
4. Scale and translate: coordinates are divided by the core height, the baseline
   moves to y = 0 and the leftmost point to x = 0 (y still grows downward).
5. Slant (optional): the length-weighted median of dx/dy over pen-down segments
   within 45 degrees of vertical is the slant; a horizontal shear removes it.

Cleaning before all this drops consecutive duplicate points and spikes (a point
that jumps away from the stroke and straight back, a digitizer glitch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from recog.features.ink.config import InkFeatureConfig
from recog.features.ink.strokes import Ink

MAX_SKEW_DEGREES = 20.0
MAX_SLANT = 1.0  # |dx/dy|, 45 degrees
THEIL_SEN_MAX_POINTS = 512  # turning points whose pairs the skew estimate uses (all of them up to this)


@dataclass
class CoreBand:
    """Normalization estimated for one line (input units, after deskew).

    Attributes:
        baseline: y of the baseline.
        corpus: y of the corpus (x-height) line; corpus < baseline (y down).
        height: core height = baseline - corpus (> 0), the unit of normalized ink.
        skew: rotation removed, in radians (atan of the baseline slope dy/dx; positive: it falls to the right, y down).
        slant: horizontal shear removed (dx per unit of dy), 0 when not corrected.
        fallback: True when the core band could not be estimated from turning points.
    """

    baseline: float
    corpus: float
    height: float
    skew: float = 0.0
    slant: float = 0.0
    fallback: bool = False


def clean_points(points: np.ndarray, offsets: np.ndarray, outlier_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop consecutive duplicates within a stroke, then spikes; (points [N, C], offsets [S+1]) -> same, smaller."""
    n = len(points)
    if n == 0:
        return points, offsets
    stroke = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    same = np.zeros(n, bool)
    same[1:] = stroke[1:] == stroke[:-1]
    dup = same.copy()
    dup[1:] &= np.all(points[1:, :2] == points[:-1, :2], axis=1)
    keep = ~dup
    points, stroke = points[keep], stroke[keep]
    if outlier_factor > 0 and len(points) >= 3:
        keep = ~_spikes(points[:, :2], stroke, outlier_factor)
        points, stroke = points[keep], stroke[keep]
    counts = np.bincount(stroke, minlength=len(offsets) - 1)
    new_offsets = np.concatenate([[0], np.cumsum(counts[counts > 0])]).astype(np.int64)
    return points, new_offsets


def _spikes(xy: np.ndarray, stroke: np.ndarray, factor: float) -> np.ndarray:
    """[N] bool: interior points whose steps in and out are both > factor x median step, and whose
    neighbours are closer to each other than half the shorter of those steps (out and back)."""
    same = stroke[1:] == stroke[:-1]
    step = np.hypot(*(xy[1:] - xy[:-1]).T)
    inner = step[same]
    if inner.size == 0:
        return np.zeros(len(xy), bool)
    limit = factor * float(np.median(inner))
    d_in, d_out = step[:-1], step[1:]
    bridge = np.hypot(*(xy[2:] - xy[:-2]).T)
    mid = same[:-1] & same[1:] & (d_in > limit) & (d_out > limit) & (bridge < 0.5 * np.minimum(d_in, d_out))
    return np.concatenate([[False], mid, [False]])


@numba.njit(cache=True)
def _turning_points_kernel(y: np.ndarray, offsets: np.ndarray, delta: float) -> np.ndarray:
    """[N] int8: +1 at accepted local maxima of y, -1 at minima, 0 elsewhere (per stroke, hysteresis)."""
    flags = np.zeros(y.shape[0], np.int8)
    for k in range(offsets.shape[0] - 1):
        a, b = offsets[k], offsets[k + 1]
        if b - a < 2:
            continue
        mx, mn = y[a], y[a]
        imx, imn = a, a
        last_val = y[a]
        look_for_max = True
        for i in range(a + 1, b):
            v = y[i]
            if v > mx:
                mx, imx = v, i
            if v < mn:
                mn, imn = v, i
            if look_for_max:
                if v < mx - delta:
                    flags[imx] = 1
                    last_val = mx
                    mn, imn = v, i
                    look_for_max = False
            elif v > mn + delta:
                flags[imn] = -1
                last_val = mn
                mx, imx = v, i
                look_for_max = True
        # The stroke ends on a pending extremum: keep it when it is delta away from the last one.
        if look_for_max and mx - last_val > delta and flags[imx] == 0:
            flags[imx] = 1
        elif not look_for_max and last_val - mn > delta and flags[imn] == 0:
            flags[imn] = -1
    return flags


def turning_points(y: np.ndarray, offsets: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of (lower turning points = maxima of y, upper = minima of y), y [N] float, y down."""
    flags = _turning_points_kernel(np.ascontiguousarray(y, np.float64), np.asarray(offsets, np.int64), float(delta))
    return np.flatnonzero(flags > 0), np.flatnonzero(flags < 0)


def theil_sen_slope(x: np.ndarray, y: np.ndarray, min_dx: float, max_points: int = THEIL_SEN_MAX_POINTS) -> float:
    """Median of the pairwise slopes (y_j - y_i) / (x_j - x_i) over pairs with |x_j - x_i| > min_dx (Sen 1968).

    Exact for up to `max_points` points (a handwritten line has tens of lower turning
    points; an IAM-OnDB line at most about 100). Beyond, the median is taken over the
    pairs of `max_points` points evenly spaced in the given order, so time is
    O(n + max_points^2) and memory O(max_points^2) (about 8 MB for 512) whatever n is.
    """
    if len(x) > max_points:
        keep = np.rint(np.linspace(0, len(x) - 1, max_points)).astype(np.int64)
        x, y = x[keep], y[keep]
    i, j = np.triu_indices(len(x), 1)
    dx, dy = x[j] - x[i], y[j] - y[i]
    flip = dx < 0
    dx, dy = np.where(flip, -dx, dx), np.where(flip, -dy, dy)
    ok = dx > min_dx
    return float(np.median(dy[ok] / dx[ok])) if np.any(ok) else 0.0


def robust_height(y: np.ndarray) -> float:
    """Distance between the 5th and 95th percentiles of y."""
    lo, hi = np.percentile(y, [5.0, 95.0])
    return float(hi - lo)


def estimate_core(xy: np.ndarray, offsets: np.ndarray, delta_fraction: float,
                  deskew: bool) -> tuple[CoreBand, np.ndarray]:
    """Core band of a line and the deskewed points: (CoreBand, xy [N, 2]); see the module docstring."""
    spread = robust_height(xy[:, 1])
    bottoms, tops = turning_points(xy[:, 1], offsets, delta_fraction * spread)
    skew = 0.0
    if deskew and len(bottoms) >= 3:
        width = float(np.ptp(xy[:, 0]))
        slope = theil_sen_slope(xy[bottoms, 0], xy[bottoms, 1], 0.02 * width)
        skew = float(np.clip(np.arctan(slope), -np.radians(MAX_SKEW_DEGREES), np.radians(MAX_SKEW_DEGREES)))
        if skew:
            c, s = np.cos(skew), np.sin(skew)
            center = xy.mean(axis=0)
            d = xy - center
            # Rotate by -skew: the baseline y = slope * x becomes horizontal.
            xy = center + np.column_stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]])
    if len(bottoms) >= 2 and len(tops) >= 2:
        baseline, corpus = float(np.median(xy[bottoms, 1])), float(np.median(xy[tops, 1]))
        if baseline - corpus > 0.1 * spread:
            return CoreBand(baseline, corpus, baseline - corpus, skew), xy
    height = 0.5 * robust_height(xy[:, 1])
    if height <= 0:
        height = 0.5 * float(max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]))) if len(xy) else 0.0
    height = height if height > 0 else 1.0
    baseline = float(np.percentile(xy[:, 1], 75.0)) if len(xy) else 0.0
    return CoreBand(baseline, baseline - height, height, skew, fallback=True), xy


def estimate_slant(xy: np.ndarray, offsets: np.ndarray) -> float:
    """Length-weighted median of dx/dy over within-stroke segments within 45 degrees of vertical."""
    stroke = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    same = stroke[1:] == stroke[:-1]
    d = (xy[1:] - xy[:-1])[same]
    vertical = np.abs(d[:, 0]) < np.abs(d[:, 1])
    if not np.any(vertical):
        return 0.0
    ratio = d[vertical, 0] / d[vertical, 1]
    weight = np.hypot(*d[vertical].T)
    order = np.argsort(ratio)
    cum = np.cumsum(weight[order])
    return float(np.clip(ratio[order][np.searchsorted(cum, 0.5 * cum[-1])], -MAX_SLANT, MAX_SLANT))


def normalize_points(points: np.ndarray, offsets: np.ndarray,
                     config: InkFeatureConfig) -> tuple[np.ndarray, np.ndarray, CoreBand]:
    """Raw points [N, 2|3] + offsets -> (xy [M, 2] float64 in core heights, offsets, CoreBand).

    Output: baseline at y = 0, corpus line at y = -1 (y down), leftmost point at x = 0.
    Timestamps are dropped (the features are time-invariant).
    """
    points, offsets = clean_points(np.asarray(points, np.float64), np.asarray(offsets, np.int64),
                                   config.outlier_factor)
    xy = points[:, :2]
    if len(xy) == 0:
        return np.zeros((0, 2)), offsets, CoreBand(0.0, -1.0, 1.0, fallback=True)
    band, xy = estimate_core(xy, offsets, config.extrema_delta, config.deskew)
    xy = np.column_stack([xy[:, 0], xy[:, 1] - band.baseline]) / band.height
    if config.slant:
        band.slant = estimate_slant(xy, offsets)
        xy[:, 0] -= band.slant * xy[:, 1]
    xy[:, 0] -= xy[:, 0].min()
    return xy, offsets, band


def normalize_ink(ink: Ink, config: InkFeatureConfig) -> Ink:
    """`normalize_points` on an Ink: the same line in core-height units (x, y only)."""
    points, offsets = ink.flat()
    xy, offsets, _ = normalize_points(points, offsets, config)
    return Ink.from_flat(xy, offsets, ink.source)
