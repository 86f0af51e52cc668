"""Reading a checkpoint: weights + full recipe config + alphabet, loaded with `weights_only=True`.

Writing checkpoints, the step files of a run and resuming live in `recog.train.checkpoint`;
reading one into a model lives here so that inference never needs the training package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from recog.config import RecipeConfig, recipe_from_dict
from recog.model.bilstm_ctc import BiLSTMCTC
from recog.text import Alphabet

FORMAT = "recog-checkpoint-1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated or not a recog checkpoint; the message names the file."""


def load_state(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint dict with weights_only=True; errors name the file."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; give a model file (.onnx) or a checkpoint (.pt)")
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
    model, config, alphabet = model_from_state(state, path)
    return model, config, alphabet, state


def model_from_state(state: dict[str, Any], path: str | Path) -> tuple[BiLSTMCTC, RecipeConfig, Alphabet]:
    """A checkpoint dict -> (model in eval mode, recipe config, alphabet); errors name `path`."""
    missing = [k for k in ("config", "alphabet", "model") if k not in state]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    try:
        config = recipe_from_dict(state["config"])
        alphabet = Alphabet.from_string(state["alphabet"], config.text.units)
        model = BiLSTMCTC(config.model)
        model.load_state_dict(state["model"])
    except Exception as err:  # ConfigError, a state of another architecture (RuntimeError), bad types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: the weights do not fit the recipe it names ({first})") from None
    model.eval()
    return model, config, alphabet
