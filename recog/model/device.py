"""Which device a model runs on: CUDA when present, else CPU."""

from __future__ import annotations

import torch


def select_device(name: str = "auto") -> torch.device:
    """"auto" -> cuda when available, else cpu; "cpu"/"cuda" are taken as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but no CUDA device is available")
    return torch.device(name)
