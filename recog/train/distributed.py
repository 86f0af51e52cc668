"""Data parallelism over torch.distributed: one process per device, started by `torchrun`.

`torchrun --nproc-per-node N -m recog train CONFIG` sets RANK, WORLD_SIZE,
LOCAL_RANK (and the rendezvous address) in each process's environment;
`setup()` reads them and joins the process group: NCCL when training on CUDA,
gloo on CPU. Without those variables (a plain `recog train`) everything here
is a no-op for a world of one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the data-parallel world.

    Attributes:
        rank: global rank 0..world_size-1 (rank 0 writes files and logs).
        world_size: number of processes N.
        local_rank: rank on this node (selects the CUDA device).
        local_world_size: processes on this node (they share its CPUs).
        owns_group: True when `setup` created the process group (and `teardown` ends it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """True on rank 0."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1


def env_context() -> DistContext:
    """The rank layout from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
    LOCAL_WORLD_SIZE); a world of one without them."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    except ValueError as err:
        raise RuntimeError(f"bad torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK): {err}") from None
    if world < 1 or not 0 <= rank < world:
        raise RuntimeError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return DistContext(rank, world, local, local_world)


def setup(device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the process group when launched by torchrun; returns (context, this rank's device).

    On CUDA each process takes `cuda:LOCAL_RANK` and the NCCL backend; on CPU
    the gloo backend. An already initialized group (a caller that set it up
    itself) is used as it is.
    """
    ctx = env_context()
    if not ctx.enabled:
        return ctx, device
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    if dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), ctx.local_rank, ctx.local_world_size), device
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, init_method="env://")
    return DistContext(ctx.rank, ctx.world_size, ctx.local_rank, ctx.local_world_size, owns_group=True), device


def teardown(ctx: DistContext, clean: bool = True) -> None:
    """Leave the process group if `setup` created it.

    `clean` (the run ended normally on every rank) waits for all ranks first;
    after an error it leaves at once, and torchrun stops the other ranks.
    """
    if ctx.owns_group and dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def wrap_model(model: nn.Module, ctx: DistContext, device: torch.device) -> nn.Module:
    """`DistributedDataParallel(model)` when N > 1 (gradients averaged over ranks), else the model itself."""
    if not ctx.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, output_device=ids[0] if ids else None)


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum `tensor` over ranks in place (no-op for a world of one); returns it."""
    if ctx.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_rank(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """True on every rank when `flag` is True on at least one (keeps decisions in lockstep)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's `obj` on every rank (pickled; for checkpoints read by rank 0 only)."""
    if not ctx.enabled:
        return obj
    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_object(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank (pickled; `[obj]` for a world of one)."""
    if not ctx.enabled:
        return [obj]
    box: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(box, obj)
    return box
