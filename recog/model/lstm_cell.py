"""A readable reference of the whole BiLSTM-CTC network in numpy, written as the LSTM equations.

For every step t of one direction of one layer (σ the logistic sigmoid, [h, x] a concatenation):

    f_t  = σ(W_f · [h_(t−1), x_t] + b_f)        forget gate: how much of the old cell to keep
    i_t  = σ(W_i · [h_(t−1), x_t] + b_i)        input gate: how much of the candidate to write
    C̃_t  = tanh(W_C · [h_(t−1), x_t] + b_C)     candidate cell values
    C_t  = f_t ∗ C_(t−1) + i_t ∗ C̃_t            cell update
    o_t  = σ(W_o · [h_(t−1), x_t] + b_o)        output gate: how much of the cell to show
    h_t  = o_t ∗ tanh(C_t)                      hidden state

A bidirectional layer runs one such LSTM forward in time and one backward (starting at the
input's last frame) and joins their hidden states [h_fwd, h_bwd] as the next layer's input.
Around the LSTMs sit the rest of `recog.model.BiLSTMCTC`: 1-D convolutions with ReLU that
subsample time, and a linear output layer with log_softmax (CTC log-probabilities, blank 0).

    net = ReferenceNetwork.load("models/digits-en/member0.onnx")   # or a checkpoint .pt
    inside = net.forward(features)                               # features [T, F]
    inside.log_probs                                             # [T', V], as onnxruntime gives
    inside.layers[0]["fwd"].forget                               # f_t of layer 0, forward: [T', H]

This is for looking inside a model, not for serving it: it computes in float64, one step
at a time. It needs numpy only to read a checkpoint's weights once they are loaded; an ONNX
file is read with the `onnx` package (imported on use), a checkpoint with torch (on use).
An int8 ONNX file (DynamicQuantizeLSTM) keeps no float gate weights: inspect its fp32 twin
or the checkpoint instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DIRECTIONS = ("fwd", "bwd")
GATES = ("forget", "input", "candidate", "cell", "output", "hidden")

# Weight-matrix row blocks of each library, in its order ("g"/"c" is the candidate C̃).
TORCH_GATE_ORDER = ("i", "f", "g", "o")
ONNX_GATE_ORDER = ("i", "o", "f", "c")
QUANTIZED_OPS = {"DynamicQuantizeLSTM", "DynamicQuantizeMatMul", "MatMulInteger", "ConvInteger", "QLinearConv",
                 "QLinearMatMul", "DequantizeLinear"}


class InspectionError(ValueError):
    """A model file the reference network cannot read; the message names the file and what to use instead."""


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(−z)), written through tanh so that large |z| cannot overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass
class LstmWeights:
    """One direction of one LSTM layer: each gate's weights on [h_(t−1), x_t] and its bias.

    W_* are [H, H + D] (the first H columns act on h_(t−1), the last D on x_t); b_* are [H].
    """

    W_f: np.ndarray
    b_f: np.ndarray
    W_i: np.ndarray
    b_i: np.ndarray
    W_C: np.ndarray
    b_C: np.ndarray
    W_o: np.ndarray
    b_o: np.ndarray

    @property
    def hidden_size(self) -> int:
        return self.W_f.shape[0]

    @property
    def input_size(self) -> int:
        return self.W_f.shape[1] - self.W_f.shape[0]

    @classmethod
    def from_blocks(cls, order: Sequence[str], W_x: np.ndarray, W_h: np.ndarray, b: np.ndarray) -> LstmWeights:
        """From a library's stacked matrices: W_x [4H, D], W_h [4H, H], b [4H] (both biases summed),
        row blocks in `order` (`TORCH_GATE_ORDER` or `ONNX_GATE_ORDER`)."""
        H = W_h.shape[1]
        if W_x.shape[0] != 4 * H or W_h.shape[0] != 4 * H or b.shape != (4 * H,):
            raise ValueError(f"LSTM weights of shapes {W_x.shape}, {W_h.shape}, {b.shape} are not 4 gates of {H}")
        block = {name: slice(k * H, (k + 1) * H) for k, name in enumerate(order)}
        name_of = {"f": "f", "i": "i", "o": "o", "g": "C", "c": "C"}
        parts: dict[str, np.ndarray] = {}
        for name, rows in block.items():
            gate = name_of[name]
            parts[f"W_{gate}"] = np.concatenate([W_h[rows], W_x[rows]], axis=1).astype(np.float64)
            parts[f"b_{gate}"] = b[rows].astype(np.float64)
        return cls(**parts)


@dataclass
class LstmTrace:
    """Everything one direction of one layer computed, per output frame (arrays [T', H], time in
    input order also for the backward direction)."""

    layer: int
    direction: str
    forget: np.ndarray  # f_t
    input: np.ndarray  # i_t
    candidate: np.ndarray  # C̃_t
    cell: np.ndarray  # C_t
    output: np.ndarray  # o_t
    hidden: np.ndarray  # h_t

    def gate(self, name: str) -> np.ndarray:
        """The array called `name` (one of `GATES`)."""
        if name not in GATES:
            raise KeyError(f"unknown LSTM quantity {name!r} (known: {', '.join(GATES)})")
        return getattr(self, name)


@dataclass
class Inside:
    """One input through the network.

    Attributes:
        features: the input features [T, F].
        frontend: the convolutions' output, the first LSTM layer's input [T', C] (= features without a front end).
        layers: per layer, {"fwd": LstmTrace, "bwd": LstmTrace}.
        logits: the output layer before log_softmax [T', V].
        log_probs: CTC log-probabilities [T', V] (natural log, blank 0).
    """

    features: np.ndarray
    frontend: np.ndarray
    layers: list[dict[str, LstmTrace]]
    logits: np.ndarray
    log_probs: np.ndarray


@dataclass
class Conv:
    """One front-end convolution over time: weight [C_out, C_in, K], bias [C_out], then ReLU."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int
    padding: int


def lstm_step(w: LstmWeights, x_t: np.ndarray, h_prev: np.ndarray, C_prev: np.ndarray):
    """One LSTM step: (f_t, i_t, C̃_t, C_t, o_t, h_t) from x_t, h_(t−1) and C_(t−1)."""
    hx = np.concatenate([h_prev, x_t])  # [h_(t−1), x_t]
    f_t = sigmoid(w.W_f @ hx + w.b_f)  # forget gate
    i_t = sigmoid(w.W_i @ hx + w.b_i)  # input gate
    C_tilde = np.tanh(w.W_C @ hx + w.b_C)  # candidate
    C_t = f_t * C_prev + i_t * C_tilde  # cell update
    o_t = sigmoid(w.W_o @ hx + w.b_o)  # output gate
    h_t = o_t * np.tanh(C_t)  # hidden state
    return f_t, i_t, C_tilde, C_t, o_t, h_t


def run_direction(w: LstmWeights, x: np.ndarray, layer: int, direction: str) -> LstmTrace:
    """Run one direction over x [T, D] from zero states; "bwd" starts at the last frame."""
    T, H = x.shape[0], w.hidden_size
    if x.shape[1] != w.input_size:
        raise ValueError(f"layer {layer} {direction}: input has {x.shape[1]} features, weights expect {w.input_size}")
    out = {name: np.zeros((T, H)) for name in GATES}
    h, C = np.zeros(H), np.zeros(H)
    steps = range(T) if direction == "fwd" else range(T - 1, -1, -1)
    for t in steps:
        f_t, i_t, C_tilde, C, o_t, h = lstm_step(w, x[t], h, C)
        for name, value in zip(GATES, (f_t, i_t, C_tilde, C, o_t, h), strict=True):
            out[name][t] = value
    return LstmTrace(layer, direction, **out)


def conv1d_relu(x: np.ndarray, conv: Conv) -> np.ndarray:
    """x [T, C_in] -> ReLU(convolution over time) [T_out, C_out], zero padding at both ends."""
    padded = np.pad(x, ((conv.padding, conv.padding), (0, 0)))
    K = conv.weight.shape[2]
    windows = np.lib.stride_tricks.sliding_window_view(padded, K, axis=0)[:: conv.stride]  # [T_out, C_in, K]
    return np.maximum(np.einsum("tck,ock->to", windows, conv.weight) + conv.bias, 0.0)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log_softmax over the last axis."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@dataclass
class ReferenceNetwork:
    """The whole BiLSTM-CTC network as plain arrays (float64).

    Attributes:
        convs: the front end's convolutions, in order (empty without a front end).
        layers: per LSTM layer, {"fwd": LstmWeights, "bwd": LstmWeights}.
        output_weight: [V, 2H]; output_bias: [V] (the linear layer before log_softmax).
        source: the file the weights came from.
        metadata: the ONNX file's `metadata_props` ({} for a checkpoint).
    """

    convs: list[Conv]
    layers: list[dict[str, LstmWeights]]
    output_weight: np.ndarray
    output_bias: np.ndarray
    source: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    # ---- running -----------------------------------------------------------------
    def output_length(self, length: int) -> int:
        """Output frames T' for T input frames."""
        for conv in self.convs:
            length = (length + 2 * conv.padding - conv.weight.shape[2]) // conv.stride + 1
        return length

    def forward(self, features: np.ndarray) -> Inside:
        """One input's features [T, F] (T >= 1) -> `Inside` (every gate of every layer, log-probs)."""
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(f"features must be [T, F] with T >= 1, got shape {features.shape}")
        x = features.astype(np.float64)
        for conv in self.convs:
            x = conv1d_relu(x, conv)
        frontend = x
        traces: list[dict[str, LstmTrace]] = []
        for k, layer in enumerate(self.layers):
            trace = {d: run_direction(layer[d], x, k, d) for d in DIRECTIONS}
            traces.append(trace)
            x = np.concatenate([trace["fwd"].hidden, trace["bwd"].hidden], axis=1)  # [h_fwd, h_bwd]
        logits = x @ self.output_weight.T + self.output_bias
        return Inside(features, frontend, traces, logits, log_softmax(logits))

    def forward_batch(self, features: np.ndarray, lengths: Sequence[int]) -> list[Inside]:
        """A padded batch [B, T, F] with valid lengths [B] -> one `Inside` per input, each computed at
        its own length (what the padding holds never matters; the backward LSTMs start at each
        input's last valid frame)."""
        return [self.forward(features[b, : int(n)]) for b, n in enumerate(lengths)]

    # ---- loading -----------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> ReferenceNetwork:
        """An fp32 ONNX file (`.onnx`) or a checkpoint (`.pt`, needs torch) by its suffix."""
        return cls.from_checkpoint(path) if Path(path).suffix == ".pt" else cls.from_onnx(path)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any], kernel: int, subsampling: int, source: str = "") -> ReferenceNetwork:
        """From a `BiLSTMCTC` state dict (tensors or arrays) and its front end's kernel and subsampling."""
        arrays = {k: _to_numpy(v) for k, v in state.items()}
        convs = []
        strides = [2] * int(np.log2(subsampling)) or [1]
        for i in range(len(strides)):
            if f"frontend.convs.{i}.weight" not in arrays:
                break
            convs.append(Conv(arrays[f"frontend.convs.{i}.weight"].astype(np.float64),
                              arrays[f"frontend.convs.{i}.bias"].astype(np.float64), strides[i], kernel // 2))
        layers = []
        k = 0
        while f"lstm.weight_ih_l{k}" in arrays:
            layer = {}
            for direction, suffix in zip(DIRECTIONS, ("", "_reverse"), strict=True):
                w_ih, w_hh, b_ih, b_hh = (arrays[f"lstm.{name}_l{k}{suffix}"]
                                          for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
                layer[direction] = LstmWeights.from_blocks(TORCH_GATE_ORDER, w_ih, w_hh, b_ih + b_hh)
            layers.append(layer)
            k += 1
        if not layers:
            raise InspectionError(f"{source or 'state'}: no nn.LSTM weights (lstm.weight_ih_l0) in the state")
        return cls(convs, layers, arrays["output.weight"].astype(np.float64), arrays["output.bias"].astype(np.float64),
                   source)

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> ReferenceNetwork:
        """From a recog checkpoint (`recog.model.checkpoint.load_state`; imports torch)."""
        from recog.config import recipe_from_dict
        from recog.model.checkpoint import CheckpointError, load_state

        state = load_state(path)
        if "model" not in state or "config" not in state:
            raise CheckpointError(f"{path}: checkpoint lacks its model weights or config")
        model = recipe_from_dict(state["config"]).model
        return cls.from_state_dict(state["model"], model.conv_kernel, model.subsampling, str(path))

    @classmethod
    def from_onnx(cls, path: str | Path, cache: bool = True, member: int = 0) -> ReferenceNetwork:
        """From an fp32 ONNX file written by `recog export`: its Conv, LSTM and output MatMul/Add nodes
        (of an ensemble file, those of member `member`, counted from 0).

        The weights read are kept as one .npz in recog's cache folder (`recog._cache`), keyed by the
        file's path, size and modification time, so a second look at the same file neither imports
        `onnx` nor parses the graph again (`cache=False` reads the file every time).

        Raises `InspectionError` for an int8 file (no float gate weights to read) or a graph of
        another shape."""
        path = Path(path)
        if not path.is_file():
            raise InspectionError(f"{path}: model file not found")
        cached = _weights_cache_file(path, member) if cache else None
        if cached is not None and cached.is_file():
            try:
                return cls._from_arrays(dict(np.load(cached, allow_pickle=False)), str(path))
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache entry: read the model file again and rewrite it
        network = cls._parse_onnx(path, member)
        if cached is not None:
            network._save_arrays(cached)
        return network

    def _save_arrays(self, target: Path) -> None:
        """Write the weights as float32 arrays (they came from float32: lossless) to `target`, atomically;
        a cache folder that cannot be written is skipped silently."""
        arrays: dict[str, np.ndarray] = {"metadata": np.array(json.dumps(self.metadata)),
                                         "output_weight": self.output_weight.astype(np.float32),
                                         "output_bias": self.output_bias.astype(np.float32)}
        for i, conv in enumerate(self.convs):
            arrays[f"conv{i}_weight"] = conv.weight.astype(np.float32)
            arrays[f"conv{i}_bias"] = conv.bias.astype(np.float32)
            arrays[f"conv{i}_shape"] = np.array([conv.stride, conv.padding])
        for k, layer in enumerate(self.layers):
            for d, w in layer.items():
                for name in ("W_f", "b_f", "W_i", "b_i", "W_C", "b_C", "W_o", "b_o"):
                    arrays[f"layer{k}_{d}_{name}"] = getattr(w, name).astype(np.float32)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.stem}.{os.getpid()}.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, target)
        except OSError:
            pass

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], source: str) -> ReferenceNetwork:
        """The inverse of `_save_arrays`."""
        as64 = lambda key: arrays[key].astype(np.float64)  # noqa: E731
        convs = []
        while f"conv{len(convs)}_weight" in arrays:
            i = len(convs)
            stride, padding = (int(v) for v in arrays[f"conv{i}_shape"])
            convs.append(Conv(as64(f"conv{i}_weight"), as64(f"conv{i}_bias"), stride, padding))
        layers = []
        while f"layer{len(layers)}_fwd_W_f" in arrays:
            k = len(layers)
            layers.append({d: LstmWeights(**{name: as64(f"layer{k}_{d}_{name}") for name in
                                             ("W_f", "b_f", "W_i", "b_i", "W_C", "b_C", "W_o", "b_o")})
                           for d in DIRECTIONS})
        if not layers:
            raise KeyError("no LSTM layers in the cached weights")
        return cls(convs, layers, as64("output_weight"), as64("output_bias"), source,
                   json.loads(str(arrays["metadata"])))

    @classmethod
    def _parse_onnx(cls, path: Path, member: int = 0) -> ReferenceNetwork:
        """Read the weights from the ONNX graph itself (imports `onnx`); of an ensemble, member
        `member`'s (its nodes are named /members.<member>/...)."""
        try:
            import onnx
            from onnx import numpy_helper
        except ModuleNotFoundError:
            raise ModuleNotFoundError("reading ONNX weights needs the onnx package: pip install 'recog[train]'") from None
        try:
            model = onnx.load(str(path))
        except Exception as err:
            raise InspectionError(f"{path}: cannot read ONNX file ({err})") from None
        graph = model.graph
        metadata = {p.key: p.value for p in model.metadata_props}
        quantized = sorted({n.op_type for n in graph.node if n.op_type in QUANTIZED_OPS})
        members = json.loads(metadata.get("recog.members", "[]") or "[]")
        if (quantized or metadata.get("recog.quantization", "none") != "none") and len(members) > 1:
            raise InspectionError(
                f"{path}: an int8-quantized ensemble of {len(members)} networks keeps no float gate weights; "
                "inspect one member's fp32 file (a shipped model lists it among its files: `recog models`) "
                "or its checkpoint (.pt)")
        if quantized or metadata.get("recog.quantization", "none") != "none":
            raise InspectionError(
                f"{path}: an int8-quantized model ({', '.join(quantized) or 'recog.quantization int8'}) keeps no float "
                "gate weights; inspecting the LSTM needs the fp32 model file (model.onnx) or the checkpoint (.pt); "
                f"`recog export {path} -o model.onnx` writes the fp32 graph of its dequantized weights")
        nodes = list(graph.node)
        if len(members) > 1:
            if not 0 <= member < len(members):
                raise InspectionError(f"{path}: an ensemble of {len(members)} networks ({', '.join(members)}); "
                                      f"member {member} is not one of 0..{len(members) - 1}")
            nodes = [n for n in nodes if n.name.startswith(f"/members.{member}/")]
            metadata = {**metadata, "recog.members": json.dumps([members[member]]), "recog.combine": "",
                        "recog.inspected_member": f"{member} of {len(members)}: {members[member]}"}
        elif member != 0:
            raise InspectionError(f"{path}: one network, not an ensemble; there is no member {member}")
        init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        attrs = lambda node: {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}  # noqa: E731
        convs, layers = [], []
        for node in nodes:
            if node.op_type == "Conv":
                a = attrs(node)
                pads = list(a.get("pads", [0, 0]))
                if len(pads) != 2 or pads[0] != pads[1] or list(a.get("dilations", [1])) != [1] or a.get("group", 1) != 1:
                    raise InspectionError(f"{path}: Conv {node.name} is not a plain 1-D convolution with even padding")
                convs.append(Conv(init[node.input[1]].astype(np.float64), init[node.input[2]].astype(np.float64),
                                  int(a.get("strides", [1])[0]), int(pads[0])))
            elif node.op_type == "LSTM":
                a = attrs(node)
                direction = a.get("direction", b"forward")
                direction = direction.decode() if isinstance(direction, bytes) else direction
                if direction != "bidirectional" or "activations" in a or "clip" in a or a.get("input_forget", 0):
                    raise InspectionError(f"{path}: LSTM {node.name} is not a plain bidirectional LSTM")
                W, R, B = (init[node.input[i]] for i in (1, 2, 3))  # [2, 4H, D], [2, 4H, H], [2, 8H]
                H = R.shape[2]
                layers.append({d: LstmWeights.from_blocks(ONNX_GATE_ORDER, W[k], R[k], B[k, : 4 * H] + B[k, 4 * H :])
                               for k, d in enumerate(DIRECTIONS)})
        weight, bias = _output_layer(nodes, init, path)
        if not layers:
            raise InspectionError(f"{path}: no LSTM nodes in the graph")
        return cls(convs, layers, weight, bias, str(path), metadata)


def _weights_cache_file(path: Path, member: int = 0) -> Path:
    """Where the weights of model file `path` (of an ensemble: of member `member`) are cached: keyed
    by its resolved path, size, modification time and the member (a rewritten file gets a new entry)."""
    from recog._cache import cache_dir

    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{member}|1".encode()).hexdigest()[:32]
    return cache_dir() / "reference" / f"{key}.npz"


def _output_layer(nodes: list[Any], init: dict[str, np.ndarray], path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The linear output layer among `nodes` (graph nodes): a MatMul by an initializer [2H, V]
    followed by an Add of a bias [V] (or one Gemm); returns (weight [V, 2H], bias [V])."""
    for node in nodes:
        if node.op_type == "Gemm" and node.input[1] in init and len(node.input) > 2 and node.input[2] in init:
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            w = init[node.input[1]]
            return (w if trans_b else w.T).astype(np.float64), init[node.input[2]].astype(np.float64)
        if node.op_type == "MatMul" and node.input[1] in init:
            for add in nodes:
                if add.op_type == "Add" and node.output[0] in add.input:
                    bias = [i for i in add.input if i in init]
                    if bias:
                        return init[node.input[1]].T.astype(np.float64), init[bias[0]].astype(np.float64)
    raise InspectionError(f"{path}: no output layer (MatMul + Add of initializers) in the graph")


def _to_numpy(value: Any) -> np.ndarray:
    """A torch tensor or an array -> numpy array."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)
