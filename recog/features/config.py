"""Feature configuration shared by the torch (training) and numpy (runtime) extractors."""

from __future__ import annotations

from dataclasses import dataclass

from recog.features.normalization import NORMALIZATIONS


@dataclass
class AudioFeatureConfig:
    """Log-mel spectrogram parameters.

    Attributes:
        sample_rate: model rate in Hz; inputs at other rates are resampled.
        n_mels: mel bands (feature dimension F).
        win_ms: analysis window length in milliseconds (Hann window).
        hop_ms: frame shift in milliseconds (10 ms -> 100 frames per second).
        n_fft: FFT size in samples; 0 means the next power of two >= the window.
        f_min: lowest mel filter edge in Hz.
        f_max: highest mel filter edge in Hz; 0 means sample_rate / 2.
        log_floor: added to mel power before the log, avoids log(0).
        normalize: "utterance" (zero mean, unit variance per band over the utterance:
            cepstral-mean-and-variance style, removes the channel but also the average
            spectrum of a short word), "scalar" (one mean and one standard deviation
            over all bands and frames of the utterance: removes gain, keeps spectral
            shape; pair it with the `eq_db` augmentation for channel robustness) or "none"
            (`recog.features.normalization` holds the formulas).
    """

    sample_rate: int = 16000
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 0
    f_min: float = 0.0
    f_max: float = 0.0
    log_floor: float = 1e-6
    normalize: str = "utterance"

    def __post_init__(self) -> None:
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"features.normalize must be one of {', '.join(NORMALIZATIONS)}, got {self.normalize!r}")

    @property
    def win_length(self) -> int:
        """Window length in samples."""
        return int(round(self.sample_rate * self.win_ms / 1000))

    @property
    def hop_length(self) -> int:
        """Frame shift in samples."""
        return int(round(self.sample_rate * self.hop_ms / 1000))

    @property
    def fft_size(self) -> int:
        """FFT size in samples."""
        if self.n_fft:
            return self.n_fft
        n = 1
        while n < self.win_length:
            n *= 2
        return n

    @property
    def top_freq(self) -> float:
        """Upper mel edge in Hz."""
        return self.f_max or self.sample_rate / 2

    @property
    def frame_rate(self) -> float:
        """Feature frames per second."""
        return self.sample_rate / self.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a signal of `num_samples` (centered STFT)."""
        return 1 + num_samples // self.hop_length

