"""Random state for exactly reproducible (and resumable) training.

Two mechanisms make a run independent of where it was interrupted and of how
many ranks share it:

- Per-batch seeds: before global batch `i` of epoch `e` is built, the dataset's
  augmentation generator is seeded with `batch_seed(seed, e, i, AUGMENT)`; before
  its forward pass the global torch RNG (dropout) is seeded with
  `batch_seed(seed, e, i, DROPOUT)`. The batch therefore looks the same whichever
  rank, data-loader worker or resumed process computes it.
- Saved states: `capture()` / `restore()` carry the python, numpy and torch
  (CPU and CUDA) generator states through a checkpoint, for anything else that
  draws random numbers between batches.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

AUGMENT = 0
DROPOUT = 1


def batch_seed(seed: int, epoch: int, index: int, stream: int) -> int:
    """A 63-bit seed for global batch `index` of `epoch` in random `stream` (AUGMENT, DROPOUT).

    Derived with numpy's SeedSequence (hashing), so neighbouring batches get
    unrelated streams.
    """
    words = np.random.SeedSequence([seed & 0xFFFFFFFF, epoch, index, stream]).generate_state(2, np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def capture() -> dict[str, Any]:
    """The python, numpy and torch RNG states as checkpoint-safe values (lists, ints, tensors)."""
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": _to_lists(random.getstate()),
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict[str, Any]) -> None:
    """Undo `capture()`: set the python, numpy and torch generators to the saved states."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state({
        "bit_generator": "MT19937",
        "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
        "has_gauss": np_state["has_gauss"],
        "gauss": np_state["gauss"],
    })
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda_states)


def _to_lists(value: Any) -> Any:
    """Tuples -> lists, recursively (checkpoints hold plain containers)."""
    if isinstance(value, tuple | list):
        return [_to_lists(v) for v in value]
    return value
