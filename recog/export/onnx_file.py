"""Editing an ONNX file: recog metadata, the LSTM sequence_lens check, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from recog.export.errors import ExportError
from recog.runtime.model_file import ModelInfo


def write_metadata(model: onnx.ModelProto, info: ModelInfo) -> None:
    """Replace the recog.* entries of `metadata_props` with `info`."""
    props = info.to_props()
    keep = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)


def check_lstm_lengths(model: onnx.ModelProto, where: str | Path) -> int:
    """Every LSTM node must take `sequence_lens` (input 5); returns the number of LSTM nodes."""
    lstms = [n for n in model.graph.node if n.op_type == "LSTM"]
    for node in lstms:
        if len(node.input) < 5 or not node.input[4]:
            raise ExportError(f"{where}: LSTM node {node.name!r} has no sequence_lens input; "
                              "padded batches would differ from single utterances")
    return len(lstms)


def save_atomic(model: onnx.ModelProto, path: Path) -> None:
    """Write to a temporary name in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    onnx.save(model, str(tmp))
    os.replace(tmp, path)
