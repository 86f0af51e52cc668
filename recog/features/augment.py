"""Training-time augmentation: waveform perturbation and SpecAugment (torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torchaudio


@dataclass
class AugmentConfig:
    """Augmentation applied to training utterances only.

    Attributes:
        speed: speed-perturbation factors drawn uniformly in [lo, hi]
            (Ko et al. 2015: resampling changes tempo and pitch together); [1, 1] = off.
        vtlp: vocal-tract-length warp factors in [lo, hi] (Jaitly & Hinton 2013); [1, 1] = off.
        tempo: tempo factors in [lo, hi] (> 1 faster): the feature frames are stretched in
            time, so the speaking rate changes while pitch and formants stay (unlike
            `speed`); [1, 1] = off.
        gain_db: random gain in decibels, uniform in [lo, hi].
        noise_prob: probability of adding noise to an utterance.
        snr_db: signal-to-noise ratio range in dB for the added noise.
        freq_masks: SpecAugment frequency masks per utterance (Park et al. 2019).
        freq_mask_width: maximum width of each frequency mask, in bands.
        time_masks: SpecAugment time masks per utterance.
        time_mask_width: maximum width of each time mask, in frames.
        time_mask_ratio: a time mask never exceeds this fraction of the utterance.
        eq_db: largest gain, in dB, of a random smooth equalizer curve applied to the
            spectrum (a sum of 4 cosines over frequency): simulates microphones and
            channels; 0 = off.
        lowpass_prob: probability of a random band limit (a soft low-pass of the
            spectrum): recordings from other microphones often lack the top band.
        lowpass_hz: the band limit's cutoff in Hz, uniform in [lo, hi]; above it the
            spectrum falls by up to 40 dB over a few hundred Hz.
        shelf_db: gain of a random high shelf in dB, uniform in [lo, hi] (negative = a
            duller microphone or voice: less energy in the top band, with the band
            still there, unlike the low-pass); [0, 0] = off.
        shelf_hz: the shelf's corner frequency in Hz, uniform in [lo, hi].
        trim_prob: probability of cutting the silence at both ends of an utterance
            (10 ms frames more than 40 dB below its loudest), so that padded corpora
            (synthetic voices) also appear as tightly cut clips, as FSDD's are.
        pad_s: seconds of faint noise (-70..-50 dBFS) added before and after, each drawn
            uniformly in [lo, hi] (after the trim): the model then sees every voice with
            and without surrounding silence, and per-utterance normalization statistics
            that vary with it; [0, 0] = off.
        expand_prob: probability of a downward expander (a soft noise gate) after the
            noise: 10 ms frames quieter than the knee are pushed further down, so weak
            consonants (a faint /s/, a soft /k/) and the pauses around a word come out as
            faint as some talkers' and microphones' make them; 0 = off.
        expand_knee_db: the knee, in dB below the utterance's 95th-percentile frame level,
            uniform in [lo, hi].
        expand_ratio: extra attenuation in dB per dB below the knee, uniform in [lo, hi]
            (1 = a 1:2 expander); at most 40 dB in all.
    """

    speed: list[float] = field(default_factory=lambda: [1.0, 1.0])
    vtlp: list[float] = field(default_factory=lambda: [1.0, 1.0])
    tempo: list[float] = field(default_factory=lambda: [1.0, 1.0])
    gain_db: list[float] = field(default_factory=lambda: [0.0, 0.0])
    noise_prob: float = 0.0
    snr_db: list[float] = field(default_factory=lambda: [10.0, 40.0])
    freq_masks: int = 0
    freq_mask_width: int = 8
    time_masks: int = 0
    time_mask_width: int = 20
    time_mask_ratio: float = 0.2
    eq_db: float = 0.0
    lowpass_prob: float = 0.0
    lowpass_hz: list[float] = field(default_factory=lambda: [1800.0, 3800.0])
    shelf_db: list[float] = field(default_factory=lambda: [0.0, 0.0])
    shelf_hz: list[float] = field(default_factory=lambda: [800.0, 2500.0])
    trim_prob: float = 0.0
    pad_s: list[float] = field(default_factory=lambda: [0.0, 0.0])
    expand_prob: float = 0.0
    expand_knee_db: list[float] = field(default_factory=lambda: [15.0, 30.0])
    expand_ratio: list[float] = field(default_factory=lambda: [0.5, 1.5])


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


def frame_power(wave: torch.Tensor, sample_rate: int) -> tuple[torch.Tensor, int]:
    """Mean power of each whole 10 ms frame of [N]: ([N // hop], hop in samples)."""
    hop = max(1, sample_rate // 100)
    frames = wave.shape[0] // hop
    return wave[: frames * hop].reshape(frames, hop).pow(2).mean(dim=1), hop


def trim_silence(wave: torch.Tensor, sample_rate: int, below_peak_db: float = 40.0) -> torch.Tensor:
    """Cut leading and trailing 10 ms frames more than `below_peak_db` under the loudest: [N] -> [M <= N]."""
    power, hop = frame_power(wave, sample_rate)
    if power.numel() < 2:
        return wave
    rms = power.sqrt()
    loud = torch.nonzero(rms >= rms.max() * 10 ** (-below_peak_db / 20)).flatten()
    if loud.numel() == 0:
        return wave
    return wave[int(loud[0]) * hop : (int(loud[-1]) + 1) * hop]


def pad_with_faint_noise(wave: torch.Tensor, sample_rate: int, cfg: AugmentConfig, rng: torch.Generator) -> torch.Tensor:
    """Add `cfg.pad_s` seconds of white noise at -70..-50 dBFS before and after [N]: [N + pads]."""
    before, after = (int(uniform(rng, cfg.pad_s) * sample_rate) for _ in range(2))
    level = 10 ** (uniform(rng, [-70.0, -50.0]) / 20)
    return torch.cat([level * torch.randn(before, generator=rng), wave, level * torch.randn(after, generator=rng)])


def expand_downward(wave: torch.Tensor, sample_rate: int, knee_db: float, ratio: float,
                    max_cut_db: float = 40.0) -> torch.Tensor:
    """Downward expander on [N]: a 10 ms frame whose level is `d` dB under the knee (`knee_db` below
    the 95th-percentile frame level) is attenuated by min(ratio * d, max_cut_db) dB; the gain is
    interpolated linearly between frame centres. Frames above the knee are unchanged. [N] -> [N]."""
    power, hop = frame_power(wave, sample_rate)
    frames = power.numel()
    if frames < 2:
        return wave
    level_db = 10 * torch.log10(power + 1e-12)
    knee = torch.quantile(level_db, 0.95) - knee_db
    cut_db = (ratio * (knee - level_db).clamp_min(0)).clamp_max(max_cut_db)
    centres = torch.arange(frames, dtype=torch.float32) * hop + hop / 2
    positions = torch.arange(wave.shape[0], dtype=torch.float32)
    idx = torch.searchsorted(centres, positions).clamp(1, frames - 1)
    left, right = centres[idx - 1], centres[idx]
    w = ((positions - left) / (right - left)).clamp(0, 1)
    gain_db = cut_db[idx - 1] * (1 - w) + cut_db[idx] * w
    return wave * 10 ** (-gain_db / 20)


def perturb_wave(
    wave: torch.Tensor, sample_rate: int, cfg: AugmentConfig, rng: torch.Generator
) -> torch.Tensor:
    """Silence trim and padding, speed, gain, noise and expander perturbation of one waveform [N] float32."""
    if cfg.trim_prob > 0 and torch.rand((), generator=rng).item() < cfg.trim_prob:
        wave = trim_silence(wave, sample_rate)
    if cfg.pad_s != [0.0, 0.0]:
        wave = pad_with_faint_noise(wave, sample_rate, cfg, rng)
    wave = speed_perturb(wave, sample_rate, uniform(rng, cfg.speed))
    gain = uniform(rng, cfg.gain_db)
    if gain:
        wave = wave * 10 ** (gain / 20)
    if cfg.noise_prob > 0 and torch.rand((), generator=rng).item() < cfg.noise_prob:
        wave = add_noise(wave, uniform(rng, cfg.snr_db), rng)
    if cfg.expand_prob > 0 and torch.rand((), generator=rng).item() < cfg.expand_prob:
        wave = expand_downward(wave, sample_rate, uniform(rng, cfg.expand_knee_db), uniform(rng, cfg.expand_ratio))
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


def random_shelf_db(num_bins: int, sample_rate: int, gain_db: float, corner_hz: float) -> torch.Tensor:
    """A high shelf as a gain curve in dB over `num_bins` STFT bins (0 .. sample_rate/2): [num_bins].

    0 dB well below `corner_hz`, `gain_db` well above it, half of it at the corner;
    the transition is logistic with a width of a quarter of the corner frequency.
    """
    freqs = torch.linspace(0.0, sample_rate / 2, num_bins)
    return gain_db * torch.sigmoid((freqs - corner_hz) / (0.25 * corner_hz))


def channel_curve_db(num_bins: int, sample_rate: int, cfg: AugmentConfig, rng: torch.Generator) -> torch.Tensor | None:
    """The random channel (EQ, band limit, high shelf) of one training utterance in dB [num_bins], or None if off."""
    curve = None
    if cfg.eq_db > 0:
        curve = random_eq_db(num_bins, cfg.eq_db, rng)
    if cfg.lowpass_prob > 0 and torch.rand((), generator=rng).item() < cfg.lowpass_prob:
        lowpass = random_lowpass_db(num_bins, sample_rate, uniform(rng, cfg.lowpass_hz), rng)
        curve = lowpass if curve is None else curve + lowpass
    if cfg.shelf_db != [0.0, 0.0]:
        shelf = random_shelf_db(num_bins, sample_rate, uniform(rng, cfg.shelf_db), uniform(rng, cfg.shelf_hz))
        curve = shelf if curve is None else curve + shelf
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
