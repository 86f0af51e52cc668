"""Masks from per-utterance lengths, shared by the model and its export wrapper."""

from __future__ import annotations

import torch


def length_mask(lengths: torch.Tensor, total: int) -> torch.Tensor:
    """[B, total] bool: True at frames t < lengths[b] (the valid frames of each padded row)."""
    return torch.arange(total, device=lengths.device)[None, :] < lengths[:, None]
