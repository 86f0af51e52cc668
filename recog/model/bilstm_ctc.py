"""Stacked bidirectional LSTM with a CTC output layer (Graves et al. 2006; Graves & Schmidhuber 2005)."""

from __future__ import annotations

import math

import torch
from torch import nn

from recog.model.config import ModelConfig
from recog.model.lengths import length_mask
from recog.model.unpacked_lstm import run_unpacked


class ConvFrontEnd(nn.Module):
    """1-D convolutions over time with stride 2 per halving (or one stride-1 layer).

    Positions past each utterance's length are zeroed after every layer so that
    a padded batch computes exactly what each utterance alone would.
    """

    def __init__(self, input_dim: int, channels: int, kernel: int, subsampling: int):
        super().__init__()
        strides = [2] * int(math.log2(subsampling)) or [1]
        self.kernel, self.padding, self.strides = kernel, kernel // 2, strides
        dims = [input_dim] + [channels] * len(strides)
        self.convs = nn.ModuleList(
            nn.Conv1d(dims[i], dims[i + 1], kernel, stride=s, padding=kernel // 2) for i, s in enumerate(strides)
        )
        self.output_dim = channels

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames after the front end for input lengths [B] (int64)."""
        for s in self.strides:
            lengths = torch.div(lengths + 2 * self.padding - self.kernel, s, rounding_mode="floor") + 1
        return lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [B, T, F] -> ([B, T', C], lengths [B])."""
        x = x.transpose(1, 2)  # [B, F, T]
        for conv, s in zip(self.convs, self.strides, strict=True):
            x = torch.relu(conv(x))
            lengths = torch.div(lengths + 2 * self.padding - self.kernel, s, rounding_mode="floor") + 1
            x = x * length_mask(lengths, x.shape[2])[:, None, :].to(x.dtype)
        return x.transpose(1, 2), lengths


class BiLSTMCTC(nn.Module):
    """Features [B, T, F] -> CTC log-probabilities [B, T', V] (natural log, blank = 0).

    T' = T / subsampling (see `output_lengths`). Each utterance is processed up to
    its own length, so padding never changes a result: packed sequences (cuDNN on
    CUDA, inference, ONNX export), or, when training on CPU, `run_unpacked`, which
    computes the same without the quadratic cost of PyTorch's packed backward on CPU.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.input_dim <= 0 or config.vocab_size <= 1:
            raise ValueError("ModelConfig needs input_dim > 0 and vocab_size > 1 (fill them from the data)")
        self.config = config
        self.frontend = (
            ConvFrontEnd(config.input_dim, config.conv_channels, config.conv_kernel, config.subsampling)
            if config.conv_channels
            else None
        )
        lstm_in = self.frontend.output_dim if self.frontend else config.input_dim
        self.lstm = nn.LSTM(
            lstm_in,
            config.hidden_size,
            num_layers=config.lstm_layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.dropout if config.lstm_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        # Off: train on CPU through the packed LSTM too (`recog bench train --compare-packed`).
        self.cpu_unpacked = True
        self.output = nn.Linear(2 * config.hidden_size, config.vocab_size)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames T' for input lengths [B]."""
        return self.frontend.output_lengths(lengths) if self.frontend else lengths

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, F] float32, lengths [B] int64 -> (log_probs [B, T', V], out_lengths [B])."""
        x = features
        if self.frontend is not None:
            x, lengths = self.frontend(x, lengths)
        if self._train_on_cpu(x):
            out = run_unpacked(self.lstm, x, lengths.clamp(min=1))
        else:
            total = x.shape[1]
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu().clamp(min=1), batch_first=True,
                                                       enforce_sorted=False)
            out, _ = self.lstm(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=total)
        logits = self.output(self.dropout(out))
        return torch.log_softmax(logits.float(), dim=-1), lengths

    def _train_on_cpu(self, x: torch.Tensor) -> bool:
        """True when gradients flow on CPU outside an export trace: the unpacked LSTM path."""
        tracing = torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
        return self.cpu_unpacked and x.device.type == "cpu" and torch.is_grad_enabled() and not tracing

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
