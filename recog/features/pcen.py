"""Per-channel energy normalization (PCEN, Wang et al. 2017) on the training side (torch).

PCEN replaces the log of a mel spectrogram by an automatic gain control per band
followed by root compression:

    M[t] = (1 - s) M[t-1] + s E[t]                      (smoothed energy, per band)
    PCEN[t] = (E[t] / (eps + M[t])^gain + bias)^power - bias^power

so each band is measured against its own recent level (a dull microphone's weak top
bands, or a talker's faint consonants after silence, come out near the level other
talkers give them). The smoother starts at the first frame's energy (librosa's default
start, energy 1, would mute the first ~0.4 s of float-scaled audio), and its coefficient
s follows librosa's rule for a time constant of `time_ms`.
The numpy twin is `librosa.pcen` (`recog.features.audio_np`); a test keeps them equal.
"""

from __future__ import annotations

import math

import torch
import torchaudio

from recog.features.pcen_coefficient import smoothing_coefficient


def pcen(
    energy: torch.Tensor,
    hop_ms: float,
    time_ms: float = 400.0,
    gain: float = 0.98,
    bias: float = 2.0,
    power: float = 0.5,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Mel energies [F, T] (power, >= 0) -> PCEN [F, T], same dtype.

    hop_ms: frame shift in milliseconds; time_ms: smoother time constant in milliseconds;
    gain (alpha), bias (delta), power (r), eps: as in Wang et al. 2017 and `librosa.pcen`.
    """
    s = smoothing_coefficient(time_ms, hop_ms)
    work = energy.double()
    first = work[:, :1]
    # The smoother is linear with unit DC gain, so starting it at the first frame equals
    # filtering (E - E[0]) from rest and adding E[0] back.
    a = torch.tensor([1.0, s - 1.0], dtype=work.dtype, device=work.device)
    b = torch.tensor([s, 0.0], dtype=work.dtype, device=work.device)
    smooth = torchaudio.functional.lfilter(work - first, a, b, clamp=False) + first
    agc = work * torch.exp(-gain * (math.log(eps) + torch.log1p(smooth / eps)))
    out = bias**power * torch.expm1(power * torch.log1p(agc / bias))
    return out.to(energy.dtype)
