"""Checkpoint -> one self-describing ONNX file (legacy TorchScript exporter, opset 17).

Graph:
    inputs   features   [B, T, F] float32   (feature frames, e.g. 10 ms each)
             lengths    [B] int32           (valid frames per utterance)
    outputs  log_probs  [B, T', V] float32  (natural log, blank = 0; T' = T / subsampling)
             out_lengths [B] int32          (valid output frames per utterance)
             member_log_probs [B, T', M, V] float32  (an ensemble combined by sequence only:
                                            each of its M members' own log-probs)

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

from recog.config import RecipeConfig
from recog.export.dev_rates import dev_metrics, recipe_dev_sets
from recog.export.errors import ExportError
from recog.export.onnx_file import check_lstm_lengths, save_atomic, write_metadata
from recog.export.parity import check_parity
from recog.model import BiLSTMCTC
from recog.model.checkpoint import load_state, model_from_state
from recog.model.ensemble import PosteriorEnsemble
from recog.model.lengths import length_mask
from recog.runtime.model_file import ModelInfo, read_model_info
from recog.text import Alphabet

OPSET = 17
INPUTS = ["features", "lengths"]
OUTPUTS = ["log_probs", "out_lengths"]
MEMBER_OUTPUT = "member_log_probs"
COMBINE = ("sequence", "frame")  # how an ensemble's members are combined; the first is the default


class OnnxGraph(nn.Module):
    """The exported function: int32 lengths in and out around `BiLSTMCTC.forward` (or an
    ensemble's; with `members_out`, the ensemble's members' log-probs as a third output)."""

    def __init__(self, model: nn.Module, members_out: bool = False):
        super().__init__()
        self.model = model
        self.members_out = members_out

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """features [B, T, F] float32, lengths [B] int32 -> (log_probs [B, T', V], out_lengths [B] int32
        [, member_log_probs [B, T', M, V]]).

        Frames past each length are zeroed first (the model was trained on zero
        padding), so whatever a caller leaves in the padding cannot leak in.
        """
        lengths = lengths.long()
        valid = length_mask(lengths, features.shape[1])
        features = features * valid[:, :, None].to(features.dtype)
        if self.members_out:
            log_probs, out_lengths, members = self.model.forward_members(features, lengths)
            return log_probs, out_lengths.int(), members
        log_probs, out_lengths = self.model(features, lengths)
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


@dataclass
class Sources:
    """The network(s) to export and what the metadata says about them.

    Attributes:
        network: one `BiLSTMCTC`, or a `PosteriorEnsemble` of several.
        config: the recipe (an ensemble's first member's).
        alphabet: the output tokens, shared by every member.
        metrics: dev metrics stored with a single checkpoint (None for an ensemble or a
            dequantized file: nothing measured them yet).
        members: "<recipe> seed <n>" per member of an ensemble ([] for one network).
    """

    network: nn.Module
    config: RecipeConfig
    alphabet: Alphabet
    metrics: dict[str, float] | None
    members: list[str]


def load_source(path: Path) -> tuple[BiLSTMCTC, RecipeConfig, Alphabet, dict[str, Any]]:
    """A checkpoint (.pt) or a dynamic-int8 model file (.onnx, weights dequantized to fp32)."""
    if path.suffix == ".onnx":
        from recog.export.dequantize import dequantized_state

        state = dequantized_state(path)
    else:
        state = load_state(path)
    model, config, alphabet = model_from_state(state, path)
    return model, config, alphabet, state


def load_sources(paths: Sequence[str | Path]) -> Sources:
    """One network, or the ensemble of several of one recipe (shared features, text, network)."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ExportError("nothing to export: give a checkpoint (.pt), or several for an ensemble")
    loaded = [load_source(p) for p in paths]
    model, config, alphabet, state = loaded[0]
    if len(loaded) == 1:
        measured = None if paths[0].suffix == ".onnx" else (state.get("metrics") or {})
        return Sources(model, config, alphabet, measured, [])
    for path, (_, other, other_alphabet, _) in zip(paths[1:], loaded[1:], strict=True):
        if other_alphabet.tokens != alphabet.tokens:
            raise ExportError(f"{path}: its alphabet differs from {paths[0]}'s; ensemble members share one alphabet")
        if other.feature_config != config.feature_config or other.data.modality != config.data.modality:
            raise ExportError(f"{path}: its features differ from {paths[0]}'s; ensemble members share one feature "
                              "pipeline")
        if other.text.normalizer != config.text.normalizer:
            raise ExportError(f"{path}: its text normalizer differs from {paths[0]}'s")
    try:
        network = PosteriorEnsemble([m for m, _, _, _ in loaded])
    except ValueError as err:
        raise ExportError(f"{', '.join(map(str, paths))}: {err}") from None
    members = [f"{c.name} seed {c.seed}" for _, c, _, _ in loaded]
    return Sources(network, config, alphabet, None, members)


def stored_metrics(path: str | Path) -> tuple[dict[str, float], str]:
    """(dev metrics, what they were measured on) of a checkpoint or of an exported model file."""
    if Path(path).suffix == ".onnx":
        info = read_model_info(path)
        return info.metrics, info.metrics_about
    return load_state(path).get("metrics") or {}, ""


def export_onnx(
    checkpoint: str | Path | Sequence[str | Path],
    output: str | Path,
    opset: int = OPSET,
    tolerance: float = 1e-4,
    parity_batches: tuple[int, ...] = (1, 3, 8),
    metrics_from: str | Path | None = None,
    metrics_about: str = "",
    threads: int = 0,
    combine: str = COMBINE[0],
) -> ExportReport:
    """Export `checkpoint` to `output` and prove it computes what PyTorch does.

    `checkpoint` is a training checkpoint (.pt), a dynamic-int8 model file (.onnx: its
    weights dequantized to fp32, for inspection), or a list of checkpoints of one recipe
    (different seeds): an ensemble, one graph whose output is the log of the mean of the
    members' posteriors (`recog.model.ensemble`). `combine` says how the runtime combines an
    ensemble's members: "sequence" (default; the graph also outputs each member's log-probs and
    decoders choose among the members' texts, `recog.decode.member_choice`) or "frame" (the
    mean posteriors are decoded).

    The dev metrics written into the metadata are the checkpoint's own, or those of
    `metrics_from` (another checkpoint or model file of the same recipe): for a model
    trained on every speaker, whose own dev figures were measured on its training data,
    the figures of the held-out-speaker run are the honest ones. Where the source stores
    none (an ensemble, a dequantized file), the written file is measured on the recipe's
    dev sets (greedy). `metrics_about` says what they were measured on (stored as
    `recog.metrics_about`).

    Raises `ExportError` (and leaves no file) when a LSTM lacks sequence_lens or
    the max abs log-prob difference on padded batches exceeds `tolerance`.
    """
    output = Path(output)
    paths = [checkpoint] if isinstance(checkpoint, (str, Path)) else list(checkpoint)
    source = load_sources(paths)
    if combine not in COMBINE:
        raise ExportError(f"combine must be one of {', '.join(COMBINE)}, got {combine!r}")
    members_out = bool(source.members) and combine == "sequence"
    graph = OnnxGraph(source.network.float().eval(), members_out)
    outputs = OUTPUTS + [MEMBER_OUTPUT] if members_out else OUTPUTS
    axes = {"features": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
            "log_probs": {0: "batch", 1: "frames"}, "out_lengths": {0: "batch"}}
    if members_out:
        axes[MEMBER_OUTPUT] = {0: "batch", 1: "frames"}
    dim = source.config.model.input_dim
    example = (torch.randn(2, 64, dim), torch.tensor([64, 40], dtype=torch.int32))
    tmp = output.with_name(f".{output.name}.export{os.getpid()}")
    output.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and RNN batch_first notes
        torch.onnx.export(
            graph, example, str(tmp), dynamo=False, opset_version=opset, do_constant_folding=True,
            input_names=INPUTS, output_names=outputs, dynamic_axes=axes,
        )
    metrics = source.metrics
    if metrics_from:
        metrics, about = stored_metrics(metrics_from)
        metrics_about = metrics_about or about
    try:
        proto = onnx.load(str(tmp))
        check_lstm_lengths(proto, paths[0])
        info = ModelInfo.from_recipe(source.config, source.alphabet, metrics, metrics_about)
        info.members = source.members
        info.combine = combine if source.members else ""
        write_metadata(proto, info)
        kind = f"ensemble of {len(source.members)} " if source.members else ""
        proto.producer_name = "recog"
        proto.doc_string = f"BiLSTM-CTC {kind}recipe {source.config.name!r} ({len(source.alphabet)} tokens)"
        onnx.checker.check_model(proto)
        save_atomic(proto, output)
    finally:
        tmp.unlink(missing_ok=True)
    try:
        diff = check_parity(source.network, output, batch_sizes=parity_batches, tolerance=tolerance)
        dev = recipe_dev_sets(info.config) if metrics is None else []
        if dev:
            info.metrics = dev_metrics(output, dev, threads)
            info.metrics_about = metrics_about or "the recipe's dev sets, measured on this file at export (greedy)"
            write_metadata(proto, info)  # the graph written above, still in memory
            save_atomic(proto, output)
    except ExportError:
        output.unlink(missing_ok=True)
        raise
    return ExportReport(output, diff, info, output.stat().st_size)
