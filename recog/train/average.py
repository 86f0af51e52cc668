"""Checkpoint averaging: the element-wise mean of the weights of several checkpoints.

Averaging the weights of the last epochs of one run (Polyak / "checkpoint
averaging", as in Vaswani et al. 2017 and the ESPnet/NeMo recipes) smooths the
epoch-to-epoch swing of the dev error and usually scores at least as well as
the best single epoch, without choosing that epoch on the dev set.

A run with `train.average_last = N` keeps the weights of its last N epochs as
`OUT_DIR/epochs/epoch-NNN.pt` and writes their average as `OUT_DIR/averaged.pt`
(see `recog.train.trainer`); `recog average CKPT... -o OUT.pt` does the same
for any checkpoints of one recipe.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recog.model.checkpoint import CheckpointError, load_state
from recog.train.checkpoint import save_checkpoint

EPOCH_DIR = "epochs"
_EPOCH_NAME = re.compile(r"^epoch-(\d+)\.pt$")


def epoch_path(out_dir: str | Path, epoch: int) -> Path:
    """Where a run with `train.average_last` keeps the weights of epoch `epoch` (1-based)."""
    return Path(out_dir) / EPOCH_DIR / f"epoch-{epoch:03d}.pt"


def epoch_checkpoints(out_dir: str | Path) -> list[tuple[int, Path]]:
    """(epoch, path) of the kept per-epoch weights of a run, oldest first."""
    folder = Path(out_dir) / EPOCH_DIR
    if not folder.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _EPOCH_NAME.match(p.name)))


def average_states(paths: Sequence[str | Path]) -> dict[str, Any]:
    """A checkpoint whose model weights are the mean of those in `paths`.

    Config, alphabet and the other fields come from the last path; optimizer
    and scheduler state are dropped (an average is a released model, not a
    point to resume from). Floating-point tensors are averaged in float64 and
    cast back; integer buffers are taken from the last checkpoint.

    Raises CheckpointError (naming the file) when a path is unreadable or its
    model differs from the first one (other recipe, other shapes).
    """
    if not paths:
        raise CheckpointError("no checkpoints to average")
    first = load_state(paths[0])
    sums = {k: v.double() if v.is_floating_point() else v for k, v in first["model"].items()}
    last = first
    for path in paths[1:]:
        last = load_state(path)
        model = last["model"]
        if model.keys() != sums.keys():
            raise CheckpointError(f"{path}: its weights have other names than {paths[0]}'s (another recipe?)")
        for k, v in model.items():
            if v.shape != sums[k].shape:
                raise CheckpointError(f"{path}: {k} has shape {tuple(v.shape)}, {paths[0]} has "
                                      f"{tuple(sums[k].shape)} (another model size?)")
            sums[k] = sums[k] + v.double() if v.is_floating_point() else v
    n = len(paths)
    averaged = {k: (s / n).to(first["model"][k].dtype) if s.is_floating_point() else s for k, s in sums.items()}
    keep = {k: last[k] for k in ("format", "config", "alphabet", "epoch", "step", "elapsed") if k in last}
    return {**keep, "model": averaged, "averaged_from": [str(p) for p in paths]}


def average_checkpoints(paths: Sequence[str | Path], output: str | Path) -> dict[str, Any]:
    """Write the average of `paths` to `output` (atomically); returns the written state."""
    state = average_states(paths)
    save_checkpoint(output, state)
    return state
