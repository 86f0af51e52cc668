"""Analytic FLOP count of a `BiLSTMCTC` forward pass, from its config and the utterance lengths.

Convention: a multiply-add of a matrix product counts 2 FLOPs; a bias or sum
addition, an elementwise product and a nonlinearity (sigmoid, tanh, ReLU)
count 1 each. Work is counted on each utterance's own length: what a padded
batch spends on padding frames is not useful work and shows up as a lower
achieved rate. With F input features, C conv channels, kernel k, H LSTM units
per direction, V output classes:

- Conv front end, layer l (C_in = F for the first layer, else C; C_out = C),
  per output frame: 2·C_in·k·C_out (the products) + C_out (bias) + C_out (ReLU).
  Layer l emits T_l = floor((T_{l-1} + 2·floor(k/2) − k) / s_l) + 1 frames
  (stride s_l = 2 per halving, or one stride-1 layer for subsampling 1), the
  formula of `ConvFrontEnd.output_lengths`.
- LSTM, per layer, per direction, per output frame T' (I = C or F for the
  first layer, 2H above it; PyTorch's gate layout, Hochreiter & Schmidhuber 1997):
  8·H·(I + H) for W_ih·x and W_hh·h over the 4 gates, + 12·H for adding those
  two products and the two bias vectors b_ih, b_hh, + 9·H for the cell update
  (3 sigmoids, 2 tanh, c' = f·c + i·g: 2 products and 1 sum; h = o·tanh(c'): 1 product).
  Both directions: twice that.
- Output layer per frame: 2·(2H)·V + V (bias).

Not counted: log-softmax (about 5·V per frame), the CTC loss, dropout, the
padding masks and the optimizer update (about 15 FLOPs per parameter per
step); for the digits recipe these are well under 1 % of the total.

A training step (forward + backward) counts 3x the forward FLOPs: the backward
pass computes two products per forward product, one for the input gradient
and one for the weight gradient (the convention of Kaplan et al. 2020 and of
"model FLOPs utilization", Chowdhery et al. 2022).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from recog.model.config import ModelConfig

TRAIN_MULTIPLIER = 3  # forward + backward (2x forward)


@dataclass(frozen=True)
class FlopCount:
    """Forward FLOPs of one batch, by part (see the module docstring)."""

    conv: int
    lstm: int
    output: int

    @property
    def total(self) -> int:
        return self.conv + self.lstm + self.output

    @property
    def train_step(self) -> int:
        """FLOPs of forward + backward."""
        return TRAIN_MULTIPLIER * self.total

    def __add__(self, other: FlopCount) -> FlopCount:
        return FlopCount(self.conv + other.conv, self.lstm + other.lstm, self.output + other.output)


def conv_strides(config: ModelConfig) -> list[int]:
    """Strides of the front end's convolutions (empty without a front end), as `ConvFrontEnd` builds them."""
    if not config.conv_channels:
        return []
    return [2] * int(math.log2(config.subsampling)) or [1]


def frontend_lengths(config: ModelConfig, length: int) -> list[int]:
    """Output frames of each conv layer for an input of `length` frames (empty without a front end)."""
    out, pad = [], config.conv_kernel // 2
    for s in conv_strides(config):
        length = (length + 2 * pad - config.conv_kernel) // s + 1
        out.append(length)
    return out


def lstm_frame_flops(input_size: int, hidden: int) -> int:
    """FLOPs of one LSTM direction for one frame: 8·H·(I+H) + 21·H."""
    return 8 * hidden * (input_size + hidden) + 12 * hidden + 9 * hidden


def forward_flops(config: ModelConfig, lengths: Sequence[int]) -> FlopCount:
    """Forward FLOPs of a batch whose utterances have `lengths` input frames.

    `config` needs input_dim and vocab_size filled in (F and V).
    """
    if config.input_dim <= 0 or config.vocab_size <= 1:
        raise ValueError("forward_flops needs a ModelConfig with input_dim > 0 and vocab_size > 1")
    C, k, H, V = config.conv_channels, config.conv_kernel, config.hidden_size, config.vocab_size
    lstm_in = C if C else config.input_dim
    per_frame_lstm = sum(2 * lstm_frame_flops(lstm_in if j == 0 else 2 * H, H) for j in range(config.lstm_layers))
    per_frame_out = 2 * 2 * H * V + V
    conv = lstm = output = 0
    for length in lengths:
        c_in, t_out = config.input_dim, int(length)
        for t_out in frontend_lengths(config, int(length)):
            conv += t_out * (2 * c_in * k * C + 2 * C)
            c_in = C
        t_out = max(t_out, 1)  # the model clamps an empty output to one frame
        lstm += t_out * per_frame_lstm
        output += t_out * per_frame_out
    return FlopCount(conv, lstm, output)
