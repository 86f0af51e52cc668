"""A training checkpoint run by PyTorch (eager): for evaluating checkpoints before export.

Imported only when a `.pt` file is given; the ONNX path never loads torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from recog.model.bilstm_ctc import BiLSTMCTC
from recog.model.checkpoint import load_model
from recog.model.device import select_device
from recog.runtime.batching import pad_batch
from recog.runtime.modality import modality_of
from recog.runtime.model_file import ModelInfo


class TorchAcousticModel:
    """Runs a `BiLSTMCTC` in eval mode; see `recog.runtime.backends.AcousticModel`."""

    def __init__(self, model: BiLSTMCTC, info: ModelInfo, device: torch.device):
        self.model = model.to(device).eval()
        self.device = device
        self.info = info
        self.modality = modality_of(info.modality)

    @classmethod
    def from_checkpoint(cls, path: str | Path, threads: int = 0, device: str = "auto") -> TorchAcousticModel:
        """Load `path` (a `recog-checkpoint-1` file); `threads` > 0 sets torch's intra-op threads."""
        if threads > 0:
            torch.set_num_threads(threads)
        model, config, alphabet, state = load_model(path)
        return cls(model, ModelInfo.from_recipe(config, alphabet, state.get("metrics")), select_device(device))

    @torch.inference_mode()
    def log_probs(self, features: list[np.ndarray]) -> list[np.ndarray]:
        """Features [T_i, F] float32 each -> log-probs [T'_i, V] float32 each, one padded batch."""
        padded, lengths = pad_batch(features)
        out, out_lengths = self.model(torch.from_numpy(padded).to(self.device),
                                      torch.from_numpy(lengths.astype(np.int64)).to(self.device))
        out = out.float().cpu().numpy()
        return [out[i, : int(n)] for i, n in enumerate(out_lengths.cpu())]
