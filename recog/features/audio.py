"""Log-mel features on the training side (torch/torchaudio).

The numpy twin in `audio_np.py` computes the same numbers for the torch-free
runtime (a test keeps them equal to float32 rounding); both normalize with the
one table in `recog.features.normalization`.
"""

from __future__ import annotations

import torch
import torchaudio

from recog.features.config import AudioFeatureConfig
from recog.features.normalization import normalize


class LogMel(torch.nn.Module):
    """Waveform [N] float32 (model rate) -> log-mel features [T, n_mels] float32.

    T = 1 + N // hop_length (centered STFT, zero padding). Slaney mel scale and
    Slaney-normalized filters, power spectrum, natural log of (mel + log_floor),
    then the per-utterance normalization `config.normalize` names
    (`recog.features.normalization`).

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
    ) -> torch.Tensor:
        """Waveform [N] -> features [T, n_mels].

        warp: VTLP factor (1 = none); eq_db: optional gain per STFT bin [n_fft/2+1] in dB
        (training-time channel augmentation), applied to the power spectrum.
        """
        spec = self.spectrogram(wave)  # [n_fft/2+1, T]
        if warp != 1.0:
            spec = warp_frequency(spec, warp)
        if eq_db is not None:
            spec = spec * (10.0 ** (eq_db / 10.0)).unsqueeze(1)
        feats = torch.log(self.mel(spec) + self.config.log_floor).transpose(0, 1)  # [T, F]
        return normalize(feats, self.config.normalize).contiguous()


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
