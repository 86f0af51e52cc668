"""Log-mel features on the training side (torch/torchaudio).

The numpy twin in `audio_np.py` computes the same numbers for the torch-free
runtime; a test keeps them equal within 1e-4.
"""

from __future__ import annotations

import torch
import torchaudio

from recog.features.config import AudioFeatureConfig
from recog.features.pcen import pcen


class LogMel(torch.nn.Module):
    """Waveform [N] float32 (model rate) -> log-mel features [T, n_mels] float32.

    T = 1 + N // hop_length (centered STFT, zero padding). Slaney mel scale and
    Slaney-normalized filters, power spectrum, natural log of (mel + log_floor),
    then optional per-utterance normalization; with `normalize = "pcen"` the log is
    replaced by per-channel energy normalization (`recog.features.pcen`).

    `warp` (vocal-tract-length perturbation, Jaitly & Hinton 2013) stretches the
    linear-frequency axis by a factor (e.g. 0.9..1.1) before the mel filters.
    """

    def __init__(self, config: AudioFeatureConfig):
        super().__init__()
        self.config = config
        self.spectrogram = torchaudio.transforms.Spectrogram(
            n_fft=config.fft_size,
            win_length=config.win_length,
            hop_length=config.hop_length,
            power=2.0,
            center=True,
            pad_mode="constant",
        )
        self.mel = torchaudio.transforms.MelScale(
            n_mels=config.n_mels,
            sample_rate=config.sample_rate,
            f_min=config.f_min,
            f_max=config.top_freq,
            n_stft=config.fft_size // 2 + 1,
            norm="slaney",
            mel_scale="slaney",
        )

    def forward(
        self,
        wave: torch.Tensor,
        warp: float = 1.0,
        eq_db: torch.Tensor | None = None,
        speaker_spectrum: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Waveform [N] -> features [T, n_mels].

        warp: VTLP factor (1 = none); eq_db: optional gain per STFT bin [n_fft/2+1] in dB
        (training-time channel augmentation), applied to the power spectrum;
        speaker_spectrum: the speaker's mean log-mel spectrum [n_mels]
        (`recog.features.speaker`), subtracted when `normalize == "speaker"` (required then).
        """
        spec = self.spectrogram(wave)  # [n_fft/2+1, T]
        if warp != 1.0:
            spec = warp_frequency(spec, warp)
        if eq_db is not None:
            spec = spec * (10.0 ** (eq_db / 10.0)).unsqueeze(1)
        energy = self.mel(spec) + self.config.log_floor  # [F, T]
        if self.config.normalize == "pcen":
            c = self.config
            feats = pcen(energy, c.hop_ms, c.pcen_time_ms, c.pcen_gain, c.pcen_bias, c.pcen_power, c.log_floor)
            return normalize_scalar(feats.transpose(0, 1)).contiguous()
        feats = torch.log(energy).transpose(0, 1)  # [T, F]
        if self.config.normalize == "utterance":
            feats = normalize_utterance(feats)
        elif self.config.normalize == "scalar":
            feats = normalize_scalar(feats)
        elif self.config.normalize == "tilt":
            feats = normalize_scalar(remove_tilt(feats))
        elif self.config.normalize == "speaker":
            if speaker_spectrum is None:
                raise ValueError('features.normalize = "speaker" needs the speaker\'s spectrum')
            feats = normalize_scalar(feats - speaker_spectrum.to(feats.dtype))
        return feats.contiguous()


def warp_frequency(spec: torch.Tensor, factor: float) -> torch.Tensor:
    """Linear frequency warp of a power spectrogram [K, T]: out[k] = spec[k / factor].

    Bins that map past the top are filled with the top bin (energy there is tiny).
    """
    num_bins = spec.shape[0]
    src = torch.arange(num_bins, dtype=spec.dtype, device=spec.device) / factor
    src = src.clamp(max=num_bins - 1)
    low = src.floor().long()
    high = (low + 1).clamp(max=num_bins - 1)
    frac = (src - low.to(spec.dtype)).unsqueeze(1)
    return spec[low] * (1 - frac) + spec[high] * frac


def normalize_scalar(feats: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Zero mean, unit variance over all cells of feats [T, F] (one mean, one std)."""
    return (feats - feats.mean()) / (feats.std(unbiased=False) + eps)


def normalize_utterance(feats: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Zero mean, unit variance per feature band over time. feats: [T, F]."""
    mean = feats.mean(0, keepdim=True)
    std = feats.std(0, unbiased=False, keepdim=True)
    return (feats - mean) / (std + eps)


def remove_tilt(feats: torch.Tensor) -> torch.Tensor:
    """Subtract the utterance's spectral tilt from log-mel feats [T, F] (natural log).

    The tilt is the slope (log units per band) of the least-squares line through the
    mean spectrum of the frames louder than the utterance's mean frame level; the line
    is centred on the middle band, so the overall level is left to the next step.
    """
    level = feats.mean(1)  # [T]
    loud = feats[level >= level.mean()]  # [T', F]
    spectrum = loud.mean(0)  # [F]
    bands = torch.arange(feats.shape[1], dtype=feats.dtype, device=feats.device)
    centred = bands - bands.mean()
    slope = (centred * (spectrum - spectrum.mean())).sum() / (centred * centred).sum()
    return feats - slope * centred
