"""Several `BiLSTMCTC` networks of one recipe as one model: the mean of their CTC posteriors.

Networks trained from different random seeds make different errors on a speaker none of
them has heard; averaging their per-frame posteriors (frame-synchronous posterior
combination, as in ROVER-free hybrid/CTC system combination) cancels part of that variance.
All members must read the same features and emit the same tokens at the same frame rate.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from recog.model.bilstm_ctc import BiLSTMCTC
from recog.model.config import ModelConfig


class EnsembleError(ValueError):
    """The networks cannot be combined (different inputs, outputs or frame rates)."""


def check_compatible(configs: list[ModelConfig], names: list[str]) -> None:
    """Raise `EnsembleError` naming the first member whose input dim, vocabulary or time
    reduction (subsampling and convolution kernel) differs from the first member's."""
    first = configs[0]
    for cfg, name in zip(configs[1:], names[1:], strict=True):
        for field in ("input_dim", "vocab_size", "subsampling", "conv_kernel"):
            if getattr(cfg, field) != getattr(first, field):
                raise EnsembleError(f"{name}: model.{field} = {getattr(cfg, field)} but {names[0]} has "
                                    f"{getattr(first, field)}; an ensemble needs the same inputs and outputs")
        if bool(cfg.conv_channels) != bool(first.conv_channels):
            raise EnsembleError(f"{name}: has {'a' if cfg.conv_channels else 'no'} convolutional front end "
                                f"and {names[0]} does not match; their frame rates differ")


class CTCEnsemble(nn.Module):
    """Members' log-probs [K, B, T', V] -> log of their mean probability [B, T', V].

    Same call as `BiLSTMCTC.forward`: (features [B, T, F], lengths [B]) ->
    (log_probs [B, T', V], out_lengths [B]); every member gives the same out_lengths.
    `config` is the first member's (input_dim, vocab_size, subsampling are shared).
    """

    def __init__(self, members: list[BiLSTMCTC], names: list[str] | None = None):
        super().__init__()
        if not members:
            raise EnsembleError("an ensemble needs at least one model")
        names = names or [f"member {i}" for i in range(len(members))]
        check_compatible([m.config for m in members], names)
        self.members = nn.ModuleList(members)
        self.config = members[0].config
        self.log_k = math.log(len(members))

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames T' for input lengths [B]."""
        return self.members[0].output_lengths(lengths)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = [m(features, lengths) for m in self.members]
        if len(outputs) == 1:
            return outputs[0]
        stacked = torch.stack([lp for lp, _ in outputs])  # [K, B, T', V]
        return torch.logsumexp(stacked, dim=0) - self.log_k, outputs[0][1]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
