"""PCEN's smoother coefficient, shared by the torch (`recog.features.pcen`) and numpy (`audio_np`) sides."""

from __future__ import annotations

import math


def smoothing_coefficient(time_ms: float, hop_ms: float) -> float:
    """IIR coefficient s in (0, 1] for a time constant of time_ms at a frame shift of hop_ms (librosa's rule)."""
    frames = time_ms / hop_ms
    return (math.sqrt(1.0 + 4.0 * frames**2) - 1.0) / (2.0 * frames**2)
