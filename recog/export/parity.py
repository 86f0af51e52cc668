"""ONNX vs PyTorch parity: padded ONNX batches against each utterance alone in PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from recog.export.errors import ExportError


def parity_lengths(batch_size: int, rng: np.random.Generator, max_len: int = 400) -> list[int]:
    """Feature lengths for one parity batch: the longest is `max_len`, the rest random (>= 5)."""
    if batch_size == 1:
        return [int(rng.integers(5, max_len + 1))]
    return [max_len] + [int(x) for x in rng.integers(5, max_len, size=batch_size - 1)]


def check_parity(
    model: nn.Module,
    onnx_path: str | Path,
    batch_sizes: tuple[int, ...] = (1, 3, 8),
    tolerance: float = 1e-4,
    seed: int = 0,
    max_len: int = 400,
) -> float:
    """Max |log-prob| difference between the ONNX model on padded batches and `model` per utterance,
    relative to the log-probs' magnitude: |onnx - torch| / max(1, max |torch|) per utterance.

    For each batch size, random features [B, max_len, F] with random lengths go
    through onnxruntime as one padded batch; each utterance goes through
    PyTorch alone (no padding). Only valid frames are compared; output lengths
    must match exactly. An ensemble file with a `member_log_probs` output has every member's
    log-probs compared too. Raises `ExportError` when the difference exceeds `tolerance`
    (float32 rounding differs between CPUs and grows with the values, which reach -30).
    """
    ort_model = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    dim = model.config.input_dim
    worst = 0.0
    model = model.eval()
    for b in batch_sizes:
        lengths = parity_lengths(b, rng, max_len)
        feats = np.zeros((b, max(lengths), dim), np.float32)
        for i, n in enumerate(lengths):
            feats[i, :n] = rng.standard_normal((n, dim)).astype(np.float32)
        log_probs, out_lengths, *members = ort_model.run(None, {"features": feats,
                                                                "lengths": np.asarray(lengths, np.int32)})
        for i, n in enumerate(lengths):
            with torch.no_grad():
                one = (torch.from_numpy(feats[i : i + 1, :n]), torch.tensor([n]))
                ref, ref_len, *ref_members = model.forward_members(*one) if members else model(*one)
            m = int(ref_len[0])
            if int(out_lengths[i]) != m:
                raise ExportError(f"{onnx_path}: output length {int(out_lengths[i])} != PyTorch {m} "
                                  f"for an input of {n} frames (batch of {b})")
            pairs = [(log_probs[i, :m], ref[0].numpy())]
            if members:
                pairs.append((members[0][i, :m], ref_members[0][0].numpy()))
            for got, expected in pairs:
                scale = max(1.0, float(np.abs(expected).max())) if m else 1.0
                worst = max(worst, float(np.abs(got - expected).max(initial=0.0)) / scale)
    if not worst <= tolerance:
        raise ExportError(f"{onnx_path}: ONNX and PyTorch log-probs differ by up to {worst:.2e} of their magnitude "
                          f"(> {tolerance:.0e}) on padded batches {list(batch_sizes)}")
    return worst
