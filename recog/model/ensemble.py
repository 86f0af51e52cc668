"""Several networks of one recipe as one graph: each member's CTC posteriors and their mean.

Members trained from different seeds make different mistakes, most of all on inputs unlike
their training data (an unseen voice). The graph gives two things:

- the mean of their per-frame probabilities,

      log p(k | t) = log( (1/M) * sum_m p_m(k | t) ) = logsumexp_m(log p_m(k | t)) - log M,

  a distribution the CTC decoders read like any single model's (frame-level combination);
- every member's own log-probabilities, stacked [B, T', M, V], for the sequence-level
  combination (`recog.decode.member_choice`: each member decodes, the text the members
  together find most probable wins). Members trained apart place their CTC spikes on
  different frames, so on such members the frame-level mean loses words that the
  sequence-level choice keeps (docs/training.md).

The members must share the feature pipeline, the alphabet and the network's configuration
(the recipe; only the seed differs), so that their frames line up.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
from torch import nn

from recog.model.bilstm_ctc import BiLSTMCTC
from recog.model.config import ModelConfig


class PosteriorEnsemble(nn.Module):
    """M `BiLSTMCTC` members -> log of the mean of their posteriors.

    forward(features [B, T, F], lengths [B]) -> (log_probs [B, T', V] natural log, out_lengths [B]),
    the same contract as one `BiLSTMCTC`.
    """

    def __init__(self, members: Sequence[BiLSTMCTC]):
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
        first = members[0].config
        for k, m in enumerate(members[1:], start=2):
            differ = [f.name for f in dataclasses.fields(first) if getattr(first, f.name) != getattr(m.config, f.name)]
            if differ:
                raise ValueError(f"member {k}'s network differs from member 1's in {', '.join(differ)}: "
                                 "an ensemble's members must share one architecture, so their frames line up")
        self.members = nn.ModuleList(members)
        self.config: ModelConfig = first

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, F], lengths [B] -> (log_probs [B, T', V] the mean, out_lengths [B])."""
        log_mean, out_lengths, _ = self.forward_members(features, lengths)
        return log_mean, out_lengths

    def forward_members(self, features: torch.Tensor,
                        lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """features [B, T, F], lengths [B] -> (log of the mean posteriors [B, T', V],
        out_lengths [B], each member's log-probs [B, T', M, V]); natural logs."""
        outputs = [member(features, lengths) for member in self.members]
        stacked = torch.stack([log_probs for log_probs, _ in outputs], dim=2)  # [B, T', M, V]
        log_mean = torch.logsumexp(stacked, dim=2) - math.log(len(self.members))
        return log_mean, outputs[0][1], stacked
