"""Checkpoints: weights + full recipe config + alphabet (+ optimizer state for resuming).

Everything is plain tensors, numbers, strings, lists and dicts, so a checkpoint
loads with `torch.load(weights_only=True)`. Files are written to a temporary
name and renamed, so a crash never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from recog.config import RecipeConfig, recipe_from_dict, to_dict
from recog.model import BiLSTMCTC
from recog.text import Alphabet

FORMAT = "recog-checkpoint-1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated or not a recog checkpoint."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Atomically write `state` to `path` (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)


def make_state(
    model: BiLSTMCTC, config: RecipeConfig, alphabet: Alphabet, **extra: Any
) -> dict[str, Any]:
    """The checkpoint dictionary; `extra` holds optimizer/scheduler/progress fields."""
    return {
        "format": FORMAT,
        "config": to_dict(config),
        "alphabet": alphabet.to_string(),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **extra,
    }


def load_state(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint dict with weights_only=True; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle errors, ...
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a recog checkpoint (format {FORMAT!r} expected)")
    return state


def load_model(path: str | Path) -> tuple[BiLSTMCTC, RecipeConfig, Alphabet, dict[str, Any]]:
    """Checkpoint -> (model in eval mode, recipe config, alphabet, the raw state)."""
    state = load_state(path)
    config = recipe_from_dict(state["config"])
    alphabet = Alphabet.from_string(state["alphabet"])
    model = BiLSTMCTC(config.model)
    model.load_state_dict(state["model"])
    model.eval()
    return model, config, alphabet, state


def release_checkpoint(src: str | Path, dst: str | Path) -> int:
    """Copy a checkpoint without optimizer/scheduler/RNG state (for shipping); returns bytes."""
    state = load_state(src)
    keep = {k: state[k] for k in ("format", "config", "alphabet", "model", "epoch", "step", "metrics", "elapsed") if k in state}
    save_checkpoint(dst, keep)
    return Path(dst).stat().st_size
