"""A stacked bidirectional `nn.LSTM` run on padded (unpacked) tensors, exactly as packed.

Why: on CPU, PyTorch runs a packed-sequence LSTM step by step and the backward pass
of every per-step slice allocates and zero-fills a gradient as large as the whole
packed input, so training time grows with T'^2; measured on 2 cores (torch 2.14.1,
3 x BiLSTM 192, forward + backward): batch 24 x 94 frames 2.16 s packed vs 0.81 s
here, 8 x 250 frames 3.33 s vs 0.71 s. This module runs each layer and direction
as a one-layer unidirectional LSTM on the padded batch instead. The forward
direction reads the padding only after each utterance's last frame, so its valid
outputs are unaffected; the backward direction reads each utterance reversed
*within its length* (padding still at the end) and its outputs are reversed back.
The result equals the packed LSTM's (to float rounding) at every valid frame;
frames past an utterance's length are zero, as `pad_packed_sequence` leaves them.

The module's own parameters (`weight_ih_l{k}[_reverse]`, ...) are used, so
checkpoints and the ONNX export (which traces the packed path) are unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from recog.model.lengths import length_mask


def reversal_index(lengths: torch.Tensor, total: int) -> torch.Tensor:
    """[B, total] int64: the frame each position reads when every row is reversed within its length
    (t -> lengths[b] - 1 - t for t < lengths[b]; padding frames read themselves)."""
    t = torch.arange(total, device=lengths.device).expand(len(lengths), total)
    lens = lengths[:, None]
    return torch.where(t < lens, lens - 1 - t, t)


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor,
                           index: torch.Tensor | None = None) -> torch.Tensor:
    """Reverse each row of x [B, T, C] over its first lengths[b] frames; padding stays in place.

    Applying it twice gives x back. `index`: `reversal_index(lengths, T)`, when already computed.
    """
    if index is None:
        index = reversal_index(lengths.to(x.device), x.shape[1])
    return x.gather(1, index[:, :, None].expand_as(x))


def run_unpacked(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`lstm` (bidirectional, batch_first) over padded x [B, T', C] with lengths [B] -> [B, T', 2H].

    Equals pack -> lstm -> pad_packed_sequence (zeros past each length). Dropout
    between layers follows `lstm.dropout` and `lstm.training`, as in `nn.LSTM`.
    """
    if not (lstm.bidirectional and lstm.batch_first) or lstm.proj_size:
        raise ValueError("run_unpacked expects a bidirectional, batch_first LSTM without projections")
    lengths = lengths.to(x.device)
    index = reversal_index(lengths, x.shape[1])  # the same for every layer and both reversals
    h0 = x.new_zeros(1, x.shape[0], lstm.hidden_size)
    for layer in range(lstm.num_layers):
        directions = []
        for suffix in ("", "_reverse"):
            weights = [getattr(lstm, f"{name}_l{layer}{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            inputs = reverse_within_lengths(x, lengths, index) if suffix else x
            # torch.lstm is the kernel nn.LSTM itself calls: (input, (h0, c0), weights, has_biases,
            # num_layers, dropout, train, bidirectional, batch_first) -> (output, h_n, c_n).
            out = torch.lstm(inputs, (h0, h0), weights, True, 1, 0.0, lstm.training, False, True)[0]
            directions.append(reverse_within_lengths(out, lengths, index) if suffix else out)
        x = torch.cat(directions, dim=-1)
        if layer < lstm.num_layers - 1 and lstm.dropout > 0:
            x = nn.functional.dropout(x, lstm.dropout, lstm.training)
    return x * length_mask(lengths, x.shape[1])[:, :, None].to(x.dtype)
