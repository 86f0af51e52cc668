"""Ink feature and augmentation configuration (numpy side; serialized into ONNX metadata)."""

from __future__ import annotations

from dataclasses import dataclass

ENCODINGS = ("points", "bezier")


@dataclass
class InkFeatureConfig:
    """How an ink line becomes feature vectors [T, F] (see `recog.features.ink.extract`).

    Lengths are in core heights (the estimated x-height of the line), so the
    features do not depend on the device's resolution or the writer's size.

    Attributes:
        encoding: "points": one vector per resampled point (`point_vectors`);
            "bezier": one vector per fitted cubic Bezier curve (`bezier_vectors`,
            Carbune et al. 2020), a sequence several times shorter.
        spacing: resampling distance along each stroke, in core heights
            (0 = keep the captured points).
        deskew: rotate the line so that its baseline is horizontal.
        slant: shear the line so that its near-vertical strokes become vertical.
        outlier_factor: a point whose steps to both neighbours exceed this many times
            the line's median step while its neighbours stay close is a spike and is
            dropped (0 = keep everything).
        extrema_delta: hysteresis of the turning points that estimate the core band,
            as a fraction of the line's robust height (5th..95th percentile of y).
        bezier_tolerance: largest distance between a point and its fitted curve, in
            core heights, before the curve is split (encoding "bezier").
        position: append the height above the baseline (core heights, up positive)
            as the last feature.
    """

    encoding: str = "points"
    spacing: float = 0.25
    deskew: bool = True
    slant: bool = False
    outlier_factor: float = 8.0
    extrema_delta: float = 0.12
    bezier_tolerance: float = 0.05
    position: bool = True

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"ink_features.encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.spacing < 0 or self.outlier_factor < 0 or self.bezier_tolerance <= 0:
            raise ValueError("ink_features.spacing and outlier_factor must be >= 0, bezier_tolerance > 0")
        if not 0 < self.extrema_delta < 1:
            raise ValueError(f"ink_features.extrema_delta must be in (0, 1), got {self.extrema_delta}")

    @property
    def dim(self) -> int:
        """Feature dimension F: 7 base values (+1 with `position`), for either encoding."""
        return 7 + int(self.position)

    @property
    def frame_rate(self) -> float:
        """Feature vectors per "second" for the shared runtime code: 1.0, so ink word
        timestamps come out in feature-vector indices (points or curves), not seconds."""
        return 1.0


@dataclass
class InkAugmentConfig:
    """Random affine distortion of the normalized points of training lines (Ink only).

    Applied after normalization and before resampling and feature extraction,
    so each draw is a new writer-like variation of the same line. All ranges
    are symmetric around "no change"; 0 disables a component.

    Attributes:
        prob: probability that a line is distorted at all.
        scale: overall size factor drawn log-uniformly in [1/(1+s), 1+s] (mimics
            errors of the core-height estimate).
        stretch: extra horizontal factor, log-uniform in [1/(1+s), 1+s] (narrow/wide writing).
        shear: slant change in degrees, uniform in [-s, s].
        rotation: rotation in degrees, uniform in [-r, r] (baseline skew).
    """

    prob: float = 0.0
    scale: float = 0.1
    stretch: float = 0.15
    shear: float = 10.0
    rotation: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.prob <= 1:
            raise ValueError(f"ink_augment.prob must be in [0, 1], got {self.prob}")
        if min(self.scale, self.stretch, self.shear, self.rotation) < 0:
            raise ValueError("ink_augment ranges must be >= 0")
