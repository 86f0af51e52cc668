"""Acoustic model backends: features in, CTC log-probabilities out.

`load_acoustic_model(path)` opens an exported `.onnx` file (onnxruntime; never
imports torch) or a training checkpoint `.pt` (PyTorch, imported only then).
Both expose the `AcousticModel` interface; featurization belongs to the model's
`Modality` (`recog.runtime.modality`), so both backends read the same features.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from recog.runtime.modality import Modality
from recog.runtime.model_file import ModelFormatError, ModelInfo


class AcousticModel(Protocol):
    """What the recognizer needs from a model.

    Attributes:
        info: the model's description (alphabet, features, normalizer, frame rate, name, ...).
        modality: `AUDIO` or `INK`: how inputs are read and featurized.
    """

    info: ModelInfo
    modality: Modality

    def log_probs(self, features: list[np.ndarray]) -> list[np.ndarray]:
        """Features [T_i, F] float32 each -> CTC log-probs [T'_i, V] float32 each (batched inside);
        an ensemble combined by sequence gives [T'_i, M, V], its M members' (every decoder
        built by `DecoderConfig.build` reads both)."""
        ...


def load_acoustic_model(path: str | Path, threads: int = 0) -> AcousticModel:
    """Open a `.onnx` model or a `.pt` checkpoint by its suffix, or a shipped model by name
    (`recog.runtime.model_index.resolve_model`).

    Raises `ModelFormatError` naming the file when it cannot be opened (a damaged checkpoint
    included), and `ModuleNotFoundError` with the remedy when a checkpoint is given without torch.
    """
    from recog.runtime.model_index import resolve_model

    path = resolve_model(path)  # a shipped model's name (`digits-en`) -> its file; a path stays a path
    if path.suffix == ".onnx":
        from recog.runtime.backends.onnx import OnnxAcousticModel

        return OnnxAcousticModel(path, threads=threads)
    try:
        from recog.runtime.backends.torch_checkpoint import TorchAcousticModel
    except ModuleNotFoundError as err:
        if err.name in ("torch", "torchaudio"):
            raise ModuleNotFoundError(f"{path}: a checkpoint needs torch (pip install 'recog[train]'); export it "
                                      "with `recog export` and pass the .onnx file", name=err.name) from None
        raise
    from recog.model.checkpoint import CheckpointError

    try:
        return TorchAcousticModel.from_checkpoint(path, threads=threads)
    except CheckpointError as err:
        raise ModelFormatError(str(err)) from None
