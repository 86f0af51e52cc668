"""Batch collation: pad features, keep lengths."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

# Frames of the stand-in utterance of a batch whose every utterance turned out unusable.
PLACEHOLDER_FRAMES = 16


@dataclass
class Batch:
    """A padded batch.

    Attributes:
        features: [B, T, F] float32, zero-padded past each length.
        lengths: [B] int64 frames per utterance.
        targets: [sum(L)] int64 token ids, concatenated (CTC loss layout).
        target_lengths: [B] int64 tokens per utterance.
        sources: the file (segment address, `shard.tar:KEY`) of each utterance, in batch order.
        problems: (path, reason, detail) of the utterances of this batch that could not be
            used when read (`recog.data.items.UnusableItem`); they are not in the tensors.
        real: False for a stand-in batch (`placeholder`) when no utterance could be used:
            it runs with loss weight 0, so that every rank still takes part in the step.
    """

    features: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor
    sources: list[str] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    real: bool = True

    def _tensors(self) -> tuple[torch.Tensor, ...]:
        return self.features, self.lengths, self.targets, self.target_lengths

    def to(self, device: torch.device) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) for t in self._tensors()), self.sources, self.problems,
                     self.real)

    def pin_memory(self) -> Batch:
        """The batch in page-locked host memory (called by a DataLoader with pin_memory=True)."""
        return Batch(*(t.pin_memory() for t in self._tensors()), self.sources, self.problems, self.real)

    @classmethod
    def placeholder(cls, dim: int, problems: list[tuple[str, str, str]]) -> Batch:
        """A stand-in batch of one silent utterance [1, PLACEHOLDER_FRAMES, dim] with no tokens."""
        return cls(torch.zeros(1, PLACEHOLDER_FRAMES, dim), torch.tensor([PLACEHOLDER_FRAMES]),
                   torch.zeros(0, dtype=torch.long), torch.zeros(1, dtype=torch.long), [], problems, real=False)


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
