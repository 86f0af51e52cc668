"""Acoustic models behind one interface, for evaluation and transcription.

`load_acoustic_model(path)` accepts a training checkpoint (`.pt`, needs torch)
or an exported `.onnx` file (torch-free runtime).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from recog.features.config import AudioFeatureConfig
from recog.text import Alphabet, TextNormalizer


class AcousticModel(Protocol):
    """What evaluation and transcription need from a model.

    Attributes:
        alphabet: output tokens (blank = 0).
        features: feature configuration (sample rate, mel parameters).
        normalizer: the recipe's text normalization (applied to references).
        frame_rate: output frames per second (after subsampling).
        name: recipe name.
    """

    alphabet: Alphabet
    features: AudioFeatureConfig
    normalizer: TextNormalizer
    frame_rate: float
    name: str

    def featurize(self, wave: np.ndarray) -> np.ndarray:
        """Waveform [N] float32 at features.sample_rate -> features [T, F] float32."""
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
