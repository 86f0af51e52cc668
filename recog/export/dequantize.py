"""An fp32 checkpoint from a dynamic-int8 model file, for inspection and re-export.

`quantize_dynamic` keeps every LSTM and the output layer as int8 weights with one scale and
zero point per direction (LSTM) or per tensor (output); the convolution and the biases stay
fp32. This module turns those weights back into floats, w = (q - zero_point) * scale, and
writes them as a recog checkpoint of the recipe stored in the file, which `recog export`
then writes as an ordinary fp32 ONNX graph. The result is the int8 model's weights computed
in fp32 (activations are no longer quantized on the fly), not the float weights the model
was trained to: those are gone from an int8 file.

Layouts (ONNX operator docs): `DynamicQuantizeLSTM` holds W as [directions, input, 4H] and R
as [directions, H, 4H] (transposed against ONNX `LSTM`), gate blocks in ONNX order i, o, f, c;
B is [directions, 8H] (input biases then recurrent biases). PyTorch's `nn.LSTM` wants
weight_ih [4H, input] and weight_hh [4H, H] per layer and direction, gate order i, f, g, o.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from recog.config import recipe_from_dict
from recog.export.errors import ExportError
from recog.model.bilstm_ctc import BiLSTMCTC
from recog.model.checkpoint import FORMAT
from recog.model.lstm_cell import ONNX_GATE_ORDER, TORCH_GATE_ORDER
from recog.runtime.model_file import read_model_info


def _dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    """(q - zero_point) * scale in float32; scale/zero_point broadcast over q's leading axis
    when they hold one value per direction ([D] against q [D, rows, cols])."""
    q = q.astype(np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    zero_point = np.asarray(zero_point, dtype=np.float32)
    if scale.ndim == 1:
        scale = scale[:, None, None]
        zero_point = zero_point[:, None, None]
    return (q - zero_point) * scale


def _reorder_gates(w: np.ndarray, src: tuple[str, ...], dst: tuple[str, ...]) -> np.ndarray:
    """Rows of w [4H, ...] in gate order `src` -> gate order `dst` (the candidate is "g" in
    PyTorch's order and "c" in ONNX's)."""
    H = w.shape[0] // 4
    same = {"c": "g"}
    blocks = {same.get(name, name): w[k * H:(k + 1) * H] for k, name in enumerate(src)}
    return np.concatenate([blocks[same.get(name, name)] for name in dst], axis=0)


def _lstm_tensors(node: Any, init: dict[str, np.ndarray], layer: int) -> dict[str, np.ndarray]:
    """One DynamicQuantizeLSTM node -> the nn.LSTM state entries of its layer (both directions)."""
    names = list(node.input)
    W = _dequantize(init[names[1]], init[names[8]], init[names[9]])    # [D, in, 4H]
    R = _dequantize(init[names[2]], init[names[10]], init[names[11]])  # [D, H, 4H]
    B = init[names[3]].astype(np.float32)                               # [D, 8H]
    out: dict[str, np.ndarray] = {}
    for d in range(W.shape[0]):
        suffix = f"l{layer}" + ("_reverse" if d == 1 else "")
        four_h = W.shape[2]
        out[f"lstm.weight_ih_{suffix}"] = _reorder_gates(W[d].T, ONNX_GATE_ORDER, TORCH_GATE_ORDER)
        out[f"lstm.weight_hh_{suffix}"] = _reorder_gates(R[d].T, ONNX_GATE_ORDER, TORCH_GATE_ORDER)
        out[f"lstm.bias_ih_{suffix}"] = _reorder_gates(B[d, :four_h], ONNX_GATE_ORDER, TORCH_GATE_ORDER)
        out[f"lstm.bias_hh_{suffix}"] = _reorder_gates(B[d, four_h:], ONNX_GATE_ORDER, TORCH_GATE_ORDER)
    return out


def _output_weight(node: Any, init: dict[str, np.ndarray], path: Path) -> np.ndarray:
    """The output layer's weight [V, 2H] from its int8 MatMul (MatMulInteger or DynamicQuantizeMatMul)."""
    names = list(node.input)
    if node.op_type == "MatMulInteger":
        # MatMulInteger(A, B, a_zero_point, b_zero_point); the quantizer names B's scale after B.
        q = init[names[1]]
        scale = init.get(names[1].removesuffix("_quantized") + "_scale")
        zero_point = init.get(names[3]) if len(names) > 3 else None
    else:  # DynamicQuantizeMatMul(A, B, b_scale, b_zero_point, bias)
        q, scale = init[names[1]], init[names[2]]
        zero_point = init[names[3]] if len(names) > 3 and names[3] else np.zeros_like(scale)
    if scale is None or zero_point is None:
        raise ExportError(f"{path}: the output MatMul's scale or zero point is not an initializer")
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)  # [2H, V]


def dequantized_state(path: str | Path) -> dict[str, Any]:
    """A recog checkpoint dict (format, config, alphabet, model weights) from an int8 model file.

    Raises `ExportError` naming the file when it is not a dynamic-int8 recog model of the
    BiLSTM-CTC architecture (an fp32 file needs no dequantizing).
    """
    path = Path(path)
    info = read_model_info(path)
    if not info.config:
        raise ExportError(f"{path}: the model file stores no recipe (recog.config); cannot rebuild the network")
    if len(info.members) > 1:
        raise ExportError(f"{path}: an ensemble of {len(info.members)} networks ({', '.join(info.members)}); "
                          "dequantizing one is not supported: export its members' checkpoints instead")
    model_proto = onnx.load(str(path))
    init = {t.name: numpy_helper.to_array(t) for t in model_proto.graph.initializer}
    lstm_nodes = [n for n in model_proto.graph.node if n.op_type == "DynamicQuantizeLSTM"]
    matmuls = [n for n in model_proto.graph.node if n.op_type in ("MatMulInteger", "DynamicQuantizeMatMul")]
    if not lstm_nodes:
        raise ExportError(f"{path}: no DynamicQuantizeLSTM node: not a dynamic-int8 model (an fp32 file needs no dequantizing)")
    if len(matmuls) != 1:
        raise ExportError(f"{path}: expected one int8 output MatMul, found {len(matmuls)}")

    config = recipe_from_dict(info.config)
    model = BiLSTMCTC(config.model)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    weights: dict[str, np.ndarray] = {}
    for layer, node in enumerate(lstm_nodes):
        weights.update(_lstm_tensors(node, init, layer))
    weights["output.weight"] = _output_weight(matmuls[0], init, path).T
    for key in state:
        if key in weights:
            continue
        # The exporter wraps the network, so its fp32 initializers are named "model.<key>".
        stored = next((name for name in (key, "model." + key) if name in init), None)
        if stored is None:
            raise ExportError(f"{path}: weight {key} is neither quantized nor stored as an fp32 initializer")
        weights[key] = init[stored]
    for key, value in weights.items():
        if key not in state:
            raise ExportError(f"{path}: rebuilt weight {key} does not belong to the recipe's network")
        if tuple(state[key].shape) != value.shape:
            raise ExportError(f"{path}: {key} has shape {value.shape}, the recipe's network wants {tuple(state[key].shape)}")
        state[key] = torch.from_numpy(np.array(value, dtype=np.float32))  # a writable copy
    model.load_state_dict(state)
    return {"format": FORMAT, "config": info.config, "alphabet": info.alphabet.to_string(),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "dequantized_from": path.name}
