"""`AugmentConfig`: the training-time audio augmentation settings (a plain dataclass, no torch).

The augmentations themselves are in `recog.features.augment` (torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
