"""Acoustic models behind one interface, for evaluation and transcription.

`load_acoustic_model(path)` accepts a training checkpoint (`.pt`, needs torch)
or an exported `.onnx` file (torch-free runtime).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from recog.features.config import AudioFeatureConfig
from recog.features.ink.config import InkFeatureConfig
from recog.features.ink.strokes import Ink
from recog.text import Alphabet, TextNormalizer


class AcousticModel(Protocol):
    """What evaluation and transcription need from a model.

    Attributes:
        alphabet: output tokens (blank = 0).
        features: feature configuration (audio: sample rate, mel parameters; ink: `InkFeatureConfig`).
        normalizer: the recipe's text normalization (applied to references).
        frame_rate: output frames per second (after subsampling); for ink, per feature vector.
        name: recipe name.
        modality: "audio" or "ink": what `featurize` takes.
    """

    alphabet: Alphabet
    features: AudioFeatureConfig | InkFeatureConfig
    normalizer: TextNormalizer
    frame_rate: float
    name: str
    modality: str

    def featurize(self, data: np.ndarray | Ink, speaker_spectrum: np.ndarray | None = None) -> np.ndarray:
        """Audio: waveform [N] float32 at features.sample_rate; ink: an `Ink` -> features [T, F] float32.

        speaker_spectrum: [n_mels], for models with `features.normalize = "speaker"`
        (`recog.features.speaker`); such a model given None uses the input's own spectrum.
        """
        ...

    def log_probs(self, features: list[np.ndarray]) -> list[np.ndarray]:
        """Features [T_i, F] each -> CTC log-probs [T'_i, V] float32 each (batched inside)."""
        ...


def load_acoustic_model(path: str | Path, threads: int = 0) -> AcousticModel:
    """Open a `.pt` checkpoint or a `.onnx` model by its suffix."""
    path = Path(path)
    if path.suffix == ".onnx":
        from recog.runtime.onnx_model import OnnxAcousticModel

        return OnnxAcousticModel(path, threads=threads)
    from recog.inference.torch_model import TorchAcousticModel

    return TorchAcousticModel.from_checkpoint(path, threads=threads)
