"""Checkpoint -> one self-describing ONNX file (legacy TorchScript exporter, opset 17).

Graph:
    inputs   features   [B, T, F] float32   (feature frames, e.g. 10 ms each)
             lengths    [B] int32           (valid frames per utterance)
    outputs  log_probs  [B, T', V] float32  (natural log, blank = 0; T' = T / subsampling)
             out_lengths [B] int32          (valid output frames per utterance)

B and T are dynamic. The model runs its LSTMs on packed sequences; the legacy
exporter turns `pack_padded_sequence` into the `sequence_lens` input of every
ONNX LSTM node (checked below), so a padded batch computes what each
utterance alone would. Everything else the runtime needs (alphabet, feature
config, frame rate, ...) is written to `metadata_props` (see
`recog.runtime.metadata`).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import nn

from recog.export.errors import ExportError
from recog.export.onnx_file import check_lstm_lengths, save_atomic, write_metadata
from recog.export.parity import check_parity
from recog.model import BiLSTMCTC
from recog.model.checkpoint import load_model, load_state
from recog.model.lengths import length_mask
from recog.runtime.model_file import ModelInfo

OPSET = 17
INPUTS = ["features", "lengths"]
OUTPUTS = ["log_probs", "out_lengths"]


class OnnxGraph(nn.Module):
    """The exported function: int32 lengths in and out around `BiLSTMCTC.forward`."""

    def __init__(self, model: BiLSTMCTC):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, F] float32, lengths [B] int32 -> (log_probs [B, T', V], out_lengths [B] int32).

        Frames past each length are zeroed first (the model was trained on zero
        padding), so whatever a caller leaves in the padding cannot leak in.
        """
        lengths = lengths.long()
        valid = length_mask(lengths, features.shape[1])
        log_probs, out_lengths = self.model(features * valid[:, :, None].to(features.dtype), lengths)
        return log_probs, out_lengths.int()


@dataclass
class ExportReport:
    """Result of `export_onnx`.

    Attributes:
        path: the written model.
        max_abs_diff: largest |log-prob| difference ONNX vs PyTorch over the parity batches.
        info: the metadata written into the file.
        size_bytes: file size.
    """

    path: Path
    max_abs_diff: float
    info: ModelInfo
    size_bytes: int


def export_onnx(
    checkpoint: str | Path,
    output: str | Path,
    opset: int = OPSET,
    tolerance: float = 1e-4,
    parity_batches: tuple[int, ...] = (1, 3, 8),
    metrics_from: str | Path | None = None,
    metrics_about: str = "",
) -> ExportReport:
    """Export `checkpoint` to `output` and prove it computes what PyTorch does.

    The dev metrics written into the metadata are the checkpoint's own, or those of
    `metrics_from` (another checkpoint of the same recipe): for a model trained on
    every speaker, whose own dev figures were measured on its training data, the
    figures of the held-out-speaker run are the honest ones. `metrics_about` says what
    they were measured on (stored as `recog.metrics_about`).

    Raises `ExportError` (and leaves no file) when a LSTM lacks sequence_lens or
    the max abs log-prob difference on padded batches exceeds `tolerance`.
    """
    output = Path(output)
    model, config, alphabet, state = load_model(checkpoint)
    graph = OnnxGraph(model.float().eval())
    dim = config.model.input_dim
    example = (torch.randn(2, 64, dim), torch.tensor([64, 40], dtype=torch.int32))
    tmp = output.with_name(f".{output.name}.export{os.getpid()}")
    output.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and RNN batch_first notes
        torch.onnx.export(
            graph, example, str(tmp), dynamo=False, opset_version=opset, do_constant_folding=True,
            input_names=INPUTS, output_names=OUTPUTS,
            dynamic_axes={"features": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
                          "log_probs": {0: "batch", 1: "frames"}, "out_lengths": {0: "batch"}},
        )
    try:
        proto = onnx.load(str(tmp))
        check_lstm_lengths(proto, checkpoint)
        metrics = load_state(metrics_from).get("metrics") if metrics_from else state.get("metrics")
        info = ModelInfo.from_recipe(config, alphabet, metrics, metrics_about)
        write_metadata(proto, info)
        proto.producer_name, proto.doc_string = "recog", f"BiLSTM-CTC recipe {config.name!r} ({len(alphabet)} tokens)"
        onnx.checker.check_model(proto)
        save_atomic(proto, output)
    finally:
        tmp.unlink(missing_ok=True)
    try:
        diff = check_parity(model, output, batch_sizes=parity_batches, tolerance=tolerance)
    except ExportError:
        output.unlink(missing_ok=True)
        raise
    return ExportReport(output, diff, info, output.stat().st_size)
