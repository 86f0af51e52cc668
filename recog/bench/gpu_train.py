"""The training half of `recog bench gpu`: the GPU run, the CPU reference, the peak (see `recog.bench.gpu_check`)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

from recog.bench.flops import forward_flops
from recog.bench.gpu_check import GpuCheckOptions, compare_curves, loss_falls
from recog.bench.peak import matmul_peak, synchronize
from recog.bench.train_data import make_batches, real_pool, recipe_alphabet, synthetic_pool
from recog.config import RecipeConfig, load_config
from recog.data.collate import Batch
from recog.model import BiLSTMCTC
from recog.model.config import ModelConfig
from recog.train.device import autocast, configure_backend
from recog.train.distributed import env_context
from recog.train.trainer import ctc_loss_sum, lr_factor


@dataclass
class _Run:
    """Per-step losses of one training run and what its timed steps covered."""

    losses: list[float]
    seconds: float = 0.0
    timed_steps: int = 0
    frames: float = 0.0
    flops: float = 0.0


class _Data:
    """The global batches: step k on rank r takes `global_batches[(k % per_rank) * world + r]`."""

    def __init__(self, config: RecipeConfig, opts: GpuCheckOptions, world: int):
        count = opts.batches * world
        found = None if opts.synthetic else real_pool(config, max_items=count * 512, seed=config.seed)
        if found is not None:
            pool, self.alphabet = found
        else:
            self.alphabet = recipe_alphabet(config, [])
            pool = synthetic_pool(config.input_dim, len(self.alphabet), count * 16, 600, seed=config.seed)
        self.source = pool.source
        batches = make_batches(pool, config.train.max_frames, count, seed=config.seed)
        self.per_rank = len(batches) // world
        if self.per_rank < 1:
            raise ValueError(f"{pool.source}: {len(batches)} batch(es) of {config.train.max_frames} frames, "
                             f"fewer than the {world} rank(s)")
        self.batches = batches[: self.per_rank * world]
        self.world = world

    def step(self, k: int) -> list[Batch]:
        """The N batches of step k, rank order."""
        i = (k % self.per_rank) * self.world
        return self.batches[i:i + self.world]


def model_config(config: RecipeConfig, vocab_size: int) -> ModelConfig:
    """The recipe's model config with its input and output sizes filled in."""
    return dataclasses.replace(config.model, input_dim=config.input_dim, vocab_size=vocab_size)


def _train(model: BiLSTMCTC, net: torch.nn.Module, data: _Data, steps: int, device: torch.device,
           precision: str, config: RecipeConfig, rank: int | None, timed_from: int,
           schedule_steps: int = 0) -> _Run:
    """`steps` optimizer steps; `rank` None takes all N batches of a step (the CPU reference),
    else this rank's batch under DDP (`net`). The learning rate follows the recipe's warm-up and
    cosine over `schedule_steps` (default `steps`), so that a shorter reference run keeps the
    GPU run's rates. Returns per-step global mean losses per utterance and the timed steps' totals."""
    tc = config.train
    ddp = isinstance(net, torch.nn.parallel.DistributedDataParallel)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, tc.warmup_steps, schedule_steps or steps, tc.final_lr_ratio))
    mc = model.config
    run = _Run([])
    net.train()
    start = 0.0
    for k in range(steps):
        if k == timed_from:
            synchronize(device)
            start = time.perf_counter()
        group = data.step(k)
        mine = group if rank is None else [group[rank]]
        utterances = sum(len(b.lengths) for b in group)
        scale = (1 if rank is None else data.world) / utterances  # DDP averages the gradients over N ranks
        torch.manual_seed(config.seed * 1_000_003 + k)  # dropout
        optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), dtype=torch.float64, device=device)
        for j, batch in enumerate(mine):
            batch = batch.to(device)
            sync = not ddp or j == len(mine) - 1
            with contextlib.nullcontext() if sync else net.no_sync():
                with autocast(device, precision):
                    log_probs, out_lengths = net(batch.features, batch.lengths)
                loss = ctc_loss_sum(log_probs, out_lengths, batch)
                (loss * scale).backward()
            total += loss.detach().double()
        if ddp:
            torch_dist.all_reduce(total)
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
        scheduler.step()
        run.losses.append(float(total) / utterances)
        if k >= timed_from:
            run.frames += sum(int(b.lengths.sum()) for b in group)
            run.flops += sum(forward_flops(mc, b.lengths.tolist()).train_step for b in group)
    synchronize(device)
    run.seconds = time.perf_counter() - start
    run.timed_steps = steps - timed_from
    return run


def _launched_by_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def no_gpu_reason() -> str | None:
    """Why CUDA training cannot run here ("no GPU: ..."), or None when a CUDA device is visible."""
    if not torch.cuda.is_available():
        built = f"torch {torch.__version__} built with CUDA {torch.version.cuda}" if torch.version.cuda \
            else f"torch {torch.__version__} is a CPU-only build"
        return (f"no GPU: torch.cuda.is_available() is False ({built}; CUDA_VISIBLE_DEVICES="
                f"{os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}); nothing was trained")
    return None


def run_check(opts: GpuCheckOptions, device_type: str = "cuda") -> dict:
    """Train on `device_type` (CUDA; "cpu" runs the same code on the CPU, for tests), then the CPU
    reference on rank 0; returns the report (every rank; only rank 0's has the loss checks).
    Under torchrun the process group is created here and destroyed before returning."""
    opts.validate()
    config = load_config(opts.config, opts.overrides)
    ctx = env_context()
    ddp = _launched_by_torchrun()
    if device_type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    configure_backend(device, config.train.threads)
    if ddp:
        torch_dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        data = _Data(config, opts, ctx.world_size)
        mc = model_config(config, len(data.alphabet))
        torch.manual_seed(config.seed)
        model = BiLSTMCTC(mc).to(device)
        net: torch.nn.Module = model
        if ddp:
            ids = [device.index] if device.type == "cuda" else None
            net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        precision = "bf16" if device.type == "cuda" else config.train.precision
        timed_from = min(data.per_rank, opts.steps // 2)
        run = _train(model, net, data, opts.steps, device, precision, config, ctx.rank, timed_from)
        peak = matmul_peak(opts.peak_size, repeats=10, device=device,
                           dtype=torch.bfloat16 if device.type == "cuda" else torch.float32)
        peaks = torch.tensor([peak], dtype=torch.float64, device=device)
        if ddp:
            torch_dist.all_reduce(peaks)
    finally:
        if ddp and torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "ranks": ctx.world_size, "ddp": ("nccl" if device.type == "cuda" else "gloo") if ddp else "off",
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "precision": precision, "recipe": config.name, "config": str(opts.config), "overrides": opts.overrides,
        "data": data.source, "parameters": model.num_parameters(), "max_frames": config.train.max_frames,
        "steps": opts.steps, "timed_steps": run.timed_steps, "seconds": round(run.seconds, 3),
        "frames_per_s": run.frames / run.seconds, "frames_per_s_per_gpu": run.frames / run.seconds / ctx.world_size,
        "model_flop_per_s": run.flops / run.seconds, "peak_flop_per_s_per_gpu": peak,
        "peak_dtype": "bf16" if device.type == "cuda" else "fp32",
        "peak_fraction": run.flops / run.seconds / float(peaks[0]), "losses": run.losses,
    }
    if ctx.rank != 0:
        return report
    report.update(_reference_check(opts, config, data, mc, run.losses))
    return report


def _reference_check(opts: GpuCheckOptions, config: RecipeConfig, data: _Data, mc: ModelConfig,
                     losses: list[float]) -> dict:
    """The CPU float32 run of the first `cpu_steps` steps and both loss checks (rank 0), on
    `train.threads` threads, else on every core (the other ranks have finished by then)."""
    cpu = torch.device("cpu")
    threads = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(config.train.threads or cores)
    try:
        torch.manual_seed(config.seed)
        reference = BiLSTMCTC(mc)
        start = time.perf_counter()
        ref = _train(reference, reference, data, opts.cpu_steps, cpu, "fp32", config, None, 0,
                     schedule_steps=opts.steps)
    finally:
        torch.set_num_threads(threads)
    curves = compare_curves(losses, ref.losses, opts.window, opts.rel_tol)
    falls, first, last = loss_falls(losses, opts.window, opts.fall_ratio)
    return {"cpu_losses": ref.losses, "cpu_seconds": round(time.perf_counter() - start, 1), "window": opts.window,
            "curve_windows": curves.windows, "curve_worst": curves.worst, "rel_tol": opts.rel_tol,
            "curve_ok": curves.ok, "loss_first": first, "loss_last": last, "fall_ratio": opts.fall_ratio,
            "loss_falls": falls, "ok": curves.ok and falls}
