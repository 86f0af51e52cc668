"""This machine's measured matrix-multiply peak: the yardstick of the training benchmark's ratio."""

from __future__ import annotations

import time

import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (no-op on CPU), so that wall-clock timing is honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(n: int = 2048, repeats: int = 3, device: torch.device | None = None,
                dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of `torch.matmul` on two [n, n] matrices: 2·n³ FLOPs, best of `repeats` after a warm-up.

    Runs with the current `torch.get_num_threads()`; set the thread count first.
    """
    if n < 1 or repeats < 1:
        raise ValueError(f"matmul_peak needs n >= 1 and repeats >= 1, got n={n}, repeats={repeats}")
    device = device or torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device, dtype)
    b = torch.randn(n, n, generator=gen).to(device, dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    torch.matmul(a, b, out=out)
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b, out=out)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best
