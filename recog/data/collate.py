"""Batch collation: pad features, keep lengths."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """A padded batch.

    Attributes:
        features: [B, T, F] float32, zero-padded past each length.
        lengths: [B] int64 frames per utterance.
        targets: [sum(L)] int64 token ids, concatenated (CTC loss layout).
        target_lengths: [B] int64 tokens per utterance.
    """

    features: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor

    def to(self, device: torch.device) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) for t in (self.features, self.lengths, self.targets, self.target_lengths)))

    def pin_memory(self) -> Batch:
        """The batch in page-locked host memory (called by a DataLoader with pin_memory=True)."""
        return Batch(*(t.pin_memory() for t in (self.features, self.lengths, self.targets, self.target_lengths)))


def pad_features(features: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """List of [T_i, F] -> ([B, max T, F] zero-padded, [B] lengths)."""
    lengths = torch.tensor([f.shape[0] for f in features], dtype=torch.long)
    padded = torch.nn.utils.rnn.pad_sequence(features, batch_first=True)
    return padded, lengths


def collate(items: list[tuple[torch.Tensor, torch.Tensor]]) -> Batch:
    """[(features [T, F], targets [L]), ...] -> Batch."""
    feats, lengths = pad_features([f for f, _ in items])
    targets = [t for _, t in items]
    return Batch(
        features=feats,
        lengths=lengths,
        targets=torch.cat(targets) if targets else torch.zeros(0, dtype=torch.long),
        target_lengths=torch.tensor([len(t) for t in targets], dtype=torch.long),
    )
