"""Training-time augmentation: waveform perturbation and SpecAugment (torch)."""

from __future__ import annotations

import math

import torch
import torchaudio

from recog.features.augment_config import AugmentConfig


def uniform(rng: torch.Generator, bounds: list[float]) -> float:
    """One draw from U[lo, hi] using `rng`."""
    lo, hi = bounds
    return lo + (hi - lo) * torch.rand((), generator=rng).item()


def speed_perturb(wave: torch.Tensor, sample_rate: int, factor: float) -> torch.Tensor:
    """Play `wave` [N] `factor` times faster (pitch moves too): [N] -> [~N / factor]."""
    if abs(factor - 1.0) < 1e-3:
        return wave
    # Resample from rate*factor to rate; rates rounded to a 100 Hz grid keep the filter small.
    src = int(round(sample_rate * factor / 100)) * 100
    return torchaudio.functional.resample(wave, src, sample_rate)


def tempo_stretch(feats: torch.Tensor, factor: float) -> torch.Tensor:
    """Features [T, F] played `factor` times faster, pitch and formants unchanged:
    [max(1, round(T / factor)), F], by linear interpolation between frames."""
    if abs(factor - 1.0) < 1e-3:
        return feats
    frames = max(1, round(feats.shape[0] / factor))
    stretched = torch.nn.functional.interpolate(feats.T.unsqueeze(0), size=frames, mode="linear", align_corners=True)
    return stretched[0].T.contiguous()


def add_noise(wave: torch.Tensor, snr_db: float, rng: torch.Generator) -> torch.Tensor:
    """Add white or pink-ish (first-order lowpass of white) noise at `snr_db` to [N]."""
    noise = torch.randn(wave.shape, generator=rng)
    if torch.rand((), generator=rng).item() < 0.5:
        noise = torchaudio.functional.lfilter(
            noise.unsqueeze(0), torch.tensor([1.0, -0.95]), torch.tensor([1.0, 0.0]), clamp=False
        )[0]
    signal_power = wave.pow(2).mean().clamp_min(1e-10)
    noise_power = noise.pow(2).mean().clamp_min(1e-10)
    scale = torch.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return wave + scale * noise


def perturb_wave(
    wave: torch.Tensor, sample_rate: int, cfg: AugmentConfig, rng: torch.Generator
) -> torch.Tensor:
    """Speed, gain and noise perturbation of one waveform [N] float32."""
    wave = speed_perturb(wave, sample_rate, uniform(rng, cfg.speed))
    gain = uniform(rng, cfg.gain_db)
    if gain:
        wave = wave * 10 ** (gain / 20)
    if cfg.noise_prob > 0 and torch.rand((), generator=rng).item() < cfg.noise_prob:
        wave = add_noise(wave, uniform(rng, cfg.snr_db), rng)
    return wave


def random_eq_db(num_bins: int, max_db: float, rng: torch.Generator) -> torch.Tensor:
    """A random smooth equalizer curve over `num_bins` frequency bins, in dB: [num_bins].

    A sum of 4 cosines of random amplitude and phase over the band, scaled so
    that its largest magnitude is a random value in [0, max_db].
    """
    x = torch.linspace(0.0, math.pi, num_bins)
    curve = torch.zeros(num_bins)
    for k in range(1, 5):
        amp = torch.randn((), generator=rng) / k
        phase = torch.rand((), generator=rng) * 2 * math.pi
        curve += amp * torch.cos(k * x + phase)
    peak = curve.abs().max().clamp_min(1e-6)
    return curve / peak * max_db * torch.rand((), generator=rng)


def random_lowpass_db(num_bins: int, sample_rate: int, cutoff_hz: float, rng: torch.Generator) -> torch.Tensor:
    """A soft low-pass as a gain curve in dB over `num_bins` STFT bins (0 .. sample_rate/2): [num_bins].

    0 dB below `cutoff_hz`, then a logistic fall to -40 dB with a random width of 50..300 Hz.
    """
    freqs = torch.linspace(0.0, sample_rate / 2, num_bins)
    width = 50.0 + 250.0 * torch.rand((), generator=rng)
    return -40.0 * torch.sigmoid((freqs - cutoff_hz - 2 * width) / width)


def channel_curve_db(num_bins: int, sample_rate: int, cfg: AugmentConfig, rng: torch.Generator) -> torch.Tensor | None:
    """The random channel (EQ, band limit) of one training utterance in dB [num_bins], or None if off."""
    curve = None
    if cfg.eq_db > 0:
        curve = random_eq_db(num_bins, cfg.eq_db, rng)
    if cfg.lowpass_prob > 0 and torch.rand((), generator=rng).item() < cfg.lowpass_prob:
        lowpass = random_lowpass_db(num_bins, sample_rate, uniform(rng, cfg.lowpass_hz), rng)
        curve = lowpass if curve is None else curve + lowpass
    return curve


def spec_augment(feats: torch.Tensor, cfg: AugmentConfig, rng: torch.Generator) -> torch.Tensor:
    """SpecAugment masking (Park et al. 2019) of features [T, F]; masked cells become 0
    (the mean after per-utterance normalization). Returns a new tensor."""
    feats = feats.clone()
    num_frames, num_bands = feats.shape
    for _ in range(cfg.freq_masks):
        width = int(torch.randint(0, cfg.freq_mask_width + 1, (), generator=rng))
        start = int(torch.randint(0, max(1, num_bands - width), (), generator=rng))
        feats[:, start : start + width] = 0.0
    max_width = min(cfg.time_mask_width, int(math.floor(cfg.time_mask_ratio * num_frames)))
    for _ in range(cfg.time_masks):
        if max_width < 1:
            break
        width = int(torch.randint(0, max_width + 1, (), generator=rng))
        start = int(torch.randint(0, max(1, num_frames - width), (), generator=rng))
        feats[start : start + width, :] = 0.0
    return feats
