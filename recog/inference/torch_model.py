"""A training checkpoint as an `AcousticModel` (PyTorch eager)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from recog.data.collate import pad_features
from recog.features.audio import LogMel
from recog.features.ink import Ink, ink_features
from recog.features.speaker import own_spectrum
from recog.model import BiLSTMCTC
from recog.text import Alphabet
from recog.train.checkpoint import load_model
from recog.train.device import select_device


class TorchAcousticModel:
    """Runs a `BiLSTMCTC` in eval mode; see `recog.inference.AcousticModel`."""

    def __init__(self, model: BiLSTMCTC, config, alphabet: Alphabet, device: torch.device):
        self.model = model.to(device).eval()
        self.device = device
        self.alphabet = alphabet
        self.modality = config.data.modality
        self.features = config.feature_config
        self.normalizer = config.text.normalizer
        self.name = config.name
        self.frame_rate = self.features.frame_rate / config.model.subsampling
        self.logmel = LogMel(config.features) if self.modality == "audio" else None

    @classmethod
    def from_checkpoint(cls, path: str | Path, threads: int = 0, device: str = "auto") -> TorchAcousticModel:
        if threads > 0:
            torch.set_num_threads(threads)
        model, config, alphabet, _ = load_model(path)
        return cls(model, config, alphabet, select_device(device))

    def featurize(self, wave: np.ndarray | Ink, speaker_spectrum: np.ndarray | None = None) -> np.ndarray:
        if self.modality == "ink":
            return ink_features(wave, self.features)  # the numpy code the runtime uses
        wave = np.ascontiguousarray(wave, dtype=np.float32)
        spectrum = None
        if self.features.normalize == "speaker":
            spectrum = torch.from_numpy(own_spectrum(wave, self.features) if speaker_spectrum is None
                                        else np.asarray(speaker_spectrum, np.float32))
        with torch.inference_mode():
            return self.logmel(torch.from_numpy(wave), speaker_spectrum=spectrum).numpy()

    @torch.inference_mode()
    def log_probs_tensors(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Like `log_probs` on tensors (no numpy round trip); one batch."""
        padded, lengths = pad_features(features)
        out, out_lengths = self.model(padded.to(self.device), lengths.to(self.device))
        out = out.float().cpu()
        return [out[i, : int(n)] for i, n in enumerate(out_lengths.cpu())]

    def log_probs(self, features: list[np.ndarray]) -> list[np.ndarray]:
        return [t.numpy() for t in self.log_probs_tensors([torch.from_numpy(f) for f in features])]
