"""Checkpoints: weights + full recipe config + alphabet (+ optimizer state for resuming).

Everything is plain tensors, numbers, strings, lists and dicts, so a checkpoint
loads with `torch.load(weights_only=True)`. Files are written to a temporary
name and renamed, so a crash never leaves a half-written checkpoint behind.

A training run keeps its resumable checkpoints as `OUT_DIR/checkpoints/step-NNNNNNNN.pt`
(the newest `train.keep_checkpoints`), and `OUT_DIR/last.pt` is the newest of
them (a hard link, or a copy where links are not possible). `--resume` reads
`last.pt`; if that is damaged it says so, naming the file, and falls back to
the step checkpoints, newest first.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from recog.config import RecipeConfig, to_dict
from recog.model import BiLSTMCTC
from recog.model.checkpoint import FORMAT, CheckpointError, load_state
from recog.text import Alphabet

STEP_DIR = "checkpoints"
_STEP_NAME = re.compile(r"^step-(\d+)\.pt$")


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


def release_checkpoint(src: str | Path, dst: str | Path) -> int:
    """Copy a checkpoint without optimizer/scheduler/RNG state (for shipping); returns bytes."""
    state = load_state(src)
    keep = {k: state[k] for k in ("format", "config", "alphabet", "model", "epoch", "step", "metrics", "elapsed") if k in state}
    save_checkpoint(dst, keep)
    return Path(dst).stat().st_size


def step_checkpoints(out_dir: str | Path) -> list[Path]:
    """The run's step checkpoints, newest (highest step) first."""
    folder = Path(out_dir) / STEP_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_NAME.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def save_training_checkpoint(out_dir: str | Path, state: dict[str, Any], keep: int) -> Path:
    """Write `checkpoints/step-<state["step"]>.pt`, make `last.pt` point at it, keep the newest `keep`.

    `keep` 0 keeps every step checkpoint. Returns the step checkpoint's path.
    """
    out_dir = Path(out_dir)
    path = out_dir / STEP_DIR / f"step-{int(state['step']):08d}.pt"
    save_checkpoint(path, state)
    last = out_dir / "last.pt"
    tmp = last.with_name(f".{last.name}.tmp{os.getpid()}")
    try:
        os.link(path, tmp)
    except OSError:  # file systems without hard links
        shutil.copyfile(path, tmp)
    os.replace(tmp, last)
    if keep > 0:
        for old in step_checkpoints(out_dir)[keep:]:
            old.unlink(missing_ok=True)
    return path


def remove_step_checkpoints(out_dir: str | Path) -> int:
    """Delete the step checkpoints (and stale temporary files) of an earlier run; returns how many."""
    out_dir = Path(out_dir)
    old = step_checkpoints(out_dir)
    for p in old:
        p.unlink(missing_ok=True)
    remove_temporary_files(out_dir)
    return len(old)


def remove_temporary_files(out_dir: str | Path) -> None:
    """Delete half-written `.NAME.tmpPID` files a killed run left behind."""
    out_dir = Path(out_dir)
    for folder in (out_dir, out_dir / STEP_DIR):
        if folder.is_dir():
            for p in folder.glob(".*.pt.tmp*"):
                p.unlink(missing_ok=True)


def load_latest(out_dir: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable resumable checkpoint of a run: `last.pt`, else the step checkpoints.

    A damaged file is reported on stderr with its name and the next older one
    is tried. Returns None when the run has no checkpoint at all; raises
    CheckpointError when there are checkpoints but none can be read.
    """
    out_dir = Path(out_dir)
    candidates = [p for p in [out_dir / "last.pt", *step_checkpoints(out_dir)] if p.is_file()]
    damaged: list[Path] = []
    for path in candidates:
        if any(os.path.samefile(path, bad) for bad in damaged):
            continue  # last.pt is a link to a step file already found damaged
        try:
            state = load_state(path)
            if "optimizer" not in state:
                raise CheckpointError(f"{path}: has no optimizer state (a released model, not a training checkpoint)")
            return path, state
        except CheckpointError as err:
            print(f"warning: {err}; trying the previous checkpoint", file=sys.stderr)
            damaged.append(path)
    if damaged:
        raise CheckpointError(f"no readable checkpoint in {out_dir}: damaged {', '.join(map(str, damaged))}")
    return None
