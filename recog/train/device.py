"""Device and precision selection: CUDA (bf16 autocast, cuDNN, TF32, pinned memory) when present, else CPU."""

from __future__ import annotations

import contextlib
import os

import torch


def configure_backend(device: torch.device, threads: int = 0) -> None:
    """cuDNN autotuning and TF32 matmuls on CUDA; intra-op thread count on CPU."""
    if device.type == "cuda":
        torch.backends.cudnn.enabled = True
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
    elif threads > 0:
        torch.set_num_threads(threads)


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA for "auto"/"bf16"; no-op for fp32 and on CPU with "auto"."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return contextlib.nullcontext()
    if precision not in ("auto", "bf16"):
        raise ValueError(f"train.precision must be auto, fp32 or bf16, got {precision!r}")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def loader_workers(device: torch.device, num_workers: int, ranks_on_node: int = 1) -> int:
    """Data-loader worker processes: `num_workers` when >= 0; for -1 ("auto") up to 4 per
    rank on CUDA (the CPUs shared among the node's ranks, one left for the trainer), 0 on CPU."""
    if num_workers >= 0:
        return num_workers
    if device.type != "cuda":
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(4, cpus // max(1, ranks_on_node) - 1))


def pin_memory(device: torch.device) -> bool:
    """Page-locked host batches (faster, asynchronous copies) when training on CUDA."""
    return device.type == "cuda"
