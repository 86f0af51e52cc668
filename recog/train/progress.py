"""What a run shows and records: the per-epoch progress bar, log.jsonl and TensorBoard events.

Only rank 0 creates these (other ranks get disabled ones). TensorBoard event
files go to `OUT_DIR/tensorboard/` when `torch.utils.tensorboard` imports (it
needs the `tensorboard` package); without it they are skipped silently.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm


def progress_bar(total: int, epoch: int, epochs: int, enabled: bool, done: int = 0) -> tqdm:
    """A bar over an epoch's optimizer steps (tqdm shows the ETA); `done` steps already behind (resume)."""
    return tqdm(total=total, initial=done, desc=f"epoch {epoch + 1}/{epochs}", file=sys.stderr,
                dynamic_ncols=True, mininterval=2, disable=not enabled)


class MetricsLog:
    """`OUT_DIR/log.jsonl` (one JSON object per epoch) plus optional TensorBoard scalars.

    Args:
        out_dir: the run's folder.
        enabled: False on ranks other than 0 (then every method does nothing).
    """

    def __init__(self, out_dir: str | Path, enabled: bool = True):
        self.path = Path(out_dir) / "log.jsonl"
        self.enabled = enabled
        self.writer: Any = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: optional
                pass
            else:
                self.writer = SummaryWriter(str(Path(out_dir) / "tensorboard"))

    def truncate_after(self, step: int) -> None:
        """Drop records written after `step` (a resumed run redoes those epochs)."""
        if not self.enabled or not self.path.is_file():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        kept = [ln for ln in lines if ln.strip() and _step_of(ln) <= step]
        if len(kept) != len(lines):
            self.path.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")

    def step(self, step: int, scalars: dict[str, float]) -> None:
        """Per-step scalars (TensorBoard only), e.g. {"train/loss": 1.2, "train/lr": 1e-3}."""
        if self.writer is not None:
            for tag, value in scalars.items():
                self.writer.add_scalar(tag, value, step)

    def epoch(self, record: dict[str, Any]) -> None:
        """Append one epoch record to log.jsonl and its numbers to TensorBoard (tagged epoch/...)."""
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, int | float) and not isinstance(value, bool) and key != "step":
                    self.writer.add_scalar(f"epoch/{key}", value, record["step"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return 0
