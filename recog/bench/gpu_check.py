"""`recog bench gpu` (`make gpu-check`): does training work on this machine's GPUs, and how fast is it?

Trains `steps` optimizer steps of a recipe's model (the digits recipe by
default) on CUDA the way `recog train` takes a step: bf16 autocast, cuDNN
LSTMs, CTC loss per token averaged over the utterances of the global batch,
gradient clipping, AdamW with the recipe's warm-up + cosine schedule (over
`steps`). Launched by torchrun (`make gpu-check` starts one process per
visible GPU), the model is wrapped in DistributedDataParallel over NCCL even
for a single GPU, so that the NCCL path is exercised; each rank takes its own
batch of every step. Then, in the same processes:

- **Loss.** Rank 0 trains the same model (same initialization) on the same
  batches on the CPU in float32 for `cpu_steps` steps, taking the N batches
  of the N ranks in one step (as one process with `train.accum_grad` N). The
  curves agree when the mean loss of every window of `window` steps differs
  by at most `rel_tol` of the CPU's (`compare_curves`; dropout masks and bf16
  rounding differ, so single steps are not compared). The GPU loss must also
  fall: the mean of its last window at most `fall_ratio` times its first.
- **Speed.** Input frames per second over the timed steps (those after every
  distinct batch was seen once, since cuDNN autotunes each new shape), the
  model FLOP/s (`recog.bench.flops`: 3x the analytic forward FLOPs, true
  lengths) and its fraction of the bf16 matmul peak measured on each GPU in
  this process (`recog.bench.peak.matmul_peak` on [n, n] bf16 matrices),
  summed over the GPUs.

Data: features of the recipe's training manifests that exist, computed once
without augmentation before the clock starts (`recog.bench.train_data`); the
check times the model's steps, not the data pipeline. Without any manifest,
random features and targets (stated in the report).

Exit status: 0 when both checks pass, 1 when one fails, `NO_GPU_EXIT` (3) with
a line starting "no GPU:" when no CUDA device is visible (nothing is trained).

This module holds the options, the loss checks and the report (no torch, so the
CLI can parse arguments without it); `recog.bench.gpu_train` trains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

NO_GPU_EXIT = 3
DEFAULT_CONFIG = Path("pipelines/digits/config.toml")


@dataclass
class GpuCheckOptions:
    """What `recog bench gpu` runs.

    Attributes:
        config: the recipe's TOML file.
        overrides: `key=value` overrides, as for `recog train --set`.
        steps: optimizer steps on the GPU(s).
        cpu_steps: steps of the CPU reference run (rank 0), compared with the first GPU steps.
        batches: distinct batches per rank, cycled through the steps.
        window: steps per window of the loss comparison.
        rel_tol: largest |GPU - CPU| / CPU of a window's mean loss.
        fall_ratio: the GPU's last window mean must be at most this times its first.
        peak_size: n of the [n, n] bf16 matmul that measures each GPU's peak.
        synthetic: random features even when the recipe's manifests exist.
    """

    config: Path = DEFAULT_CONFIG
    overrides: list[str] = field(default_factory=list)
    steps: int = 200
    cpu_steps: int = 40
    batches: int = 32
    window: int = 10
    rel_tol: float = 0.15
    fall_ratio: float = 0.7
    peak_size: int = 8192
    synthetic: bool = False

    def validate(self) -> None:
        """Raise ValueError naming the first option out of range."""
        if self.steps < 2 * self.window or self.window < 1:
            raise ValueError(f"--steps must be at least twice --window (>= 1), got steps={self.steps}, "
                             f"window={self.window}")
        if not self.window <= self.cpu_steps <= self.steps:
            raise ValueError(f"--cpu-steps must be between --window and --steps, got {self.cpu_steps}")
        if self.batches < 1 or self.peak_size < 1:
            raise ValueError("--batches and --peak-size must be >= 1")
        if not self.rel_tol > 0 or not 0 < self.fall_ratio <= 1:
            raise ValueError(f"--rel-tol must be > 0 and --fall-ratio in (0, 1], got {self.rel_tol}, "
                             f"{self.fall_ratio}")


@dataclass(frozen=True)
class CurveComparison:
    """Window means of two loss curves over the steps both ran.

    Attributes:
        windows: (first step, run mean, reference mean, |run - reference| / |reference|) per window.
        worst: the largest relative difference (inf when a mean is not finite).
        rel_tol: the tolerance `ok` was judged by.
    """

    windows: list[tuple[int, float, float, float]]
    worst: float
    rel_tol: float

    @property
    def ok(self) -> bool:
        return bool(self.windows) and self.worst <= self.rel_tol


def window_means(losses: Sequence[float], window: int) -> list[float]:
    """Means of consecutive windows of `window` losses (a last partial window is dropped)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    return [sum(losses[i:i + window]) / window for i in range(0, len(losses) - window + 1, window)]


def compare_curves(run: Sequence[float], reference: Sequence[float], window: int, rel_tol: float) -> CurveComparison:
    """Compare `run` with `reference` window by window over their common steps (see the module docstring)."""
    n = min(len(run), len(reference))
    rows, worst = [], 0.0
    for k, (a, b) in enumerate(zip(window_means(run[:n], window), window_means(reference[:n], window), strict=True)):
        rel = abs(a - b) / abs(b) if math.isfinite(a) and math.isfinite(b) and b != 0 else math.inf
        rows.append((k * window, a, b, rel))
        worst = max(worst, rel)
    return CurveComparison(rows, worst if rows else math.inf, rel_tol)


def loss_falls(losses: Sequence[float], window: int, ratio: float) -> tuple[bool, float, float]:
    """(last window mean <= ratio x first window mean, first mean, last mean); False for a non-finite mean."""
    means = window_means(losses, window)
    if len(means) < 2:
        raise ValueError(f"loss_falls needs at least two windows of {window} steps, got {len(losses)} steps")
    first, last = means[0], means[-1]
    ok = math.isfinite(first) and math.isfinite(last) and last <= ratio * first
    return ok, first, last


def summary_lines(report: dict) -> list[str]:
    """The human-readable report (rank 0's)."""
    r = report
    lines = [
        f"{r['device']} x {r['ranks']} (DDP: {r['ddp']}), torch {r['torch']}, CUDA {r['cuda']}, cuDNN {r['cudnn']}, "
        f"{r['precision']}",
        f"recipe {r['config']} ({r['parameters']:,} parameters, batches of {r['max_frames']} frames per rank); "
        f"data: {r['data']}",
        f"speed over {r['timed_steps']} of {r['steps']} steps: {r['frames_per_s']:.0f} input frames/s "
        f"({r['frames_per_s_per_gpu']:.0f} per GPU), model {r['model_flop_per_s'] / 1e12:.3g} TFLOP/s = "
        f"{100 * r['peak_fraction']:.2f} % of the measured {r['peak_dtype']} matmul peak "
        f"({r['peak_flop_per_s_per_gpu'] / 1e12:.1f} TFLOP/s per GPU)",
    ]
    if "ok" in r:
        step, gpu, cpu, _ = max(r["curve_windows"], key=lambda w: w[3])
        lines += [
            f"loss vs the CPU float32 run of the first {len(r['cpu_losses'])} steps ({r['cpu_seconds']} s): "
            f"windows of {r['window']} steps differ by at most {100 * r['curve_worst']:.1f} % (steps {step}-"
            f"{step + r['window'] - 1}: {gpu:.3f} vs {cpu:.3f}; tolerance {100 * r['rel_tol']:.0f} %): "
            + ("ok" if r["curve_ok"] else "FAILED"),
            f"loss falls: first window {r['loss_first']:.3f} -> last {r['loss_last']:.3f} (must be <= "
            f"{r['fall_ratio']} x first): " + ("ok" if r["loss_falls"] else "FAILED"),
            "gpu-check: " + ("ok" if r["ok"] else "FAILED"),
        ]
    return lines
