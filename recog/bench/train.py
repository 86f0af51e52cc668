"""Training benchmark: throughput of a recipe's model, and its FLOP/s against the matmul peak.

Each point builds the recipe's `BiLSTMCTC` (optionally with another
subsampling), draws length-bucketed batches of `max_frames` padded frames
(`recog.bench.train_data`), runs `warmup` untimed steps and then `steps` timed
training steps exactly as the trainer does them: forward, CTC loss (per-token,
averaged over utterances), backward, gradient clipping and an AdamW update.
Reported: input frames/s and utterances/s (true lengths), the achieved FLOP/s
(`recog.bench.flops`: counted analytically, 3x forward per step) and its ratio
to `torch.matmul`'s FLOP/s on [n, n] float32 matrices measured in the same
process with the same thread count (`recog.bench.peak`).

The sweep varies the batch size (max_frames), the thread count and the
subsampling. Subsampling changes the model (fewer LSTM frames, fewer FLOPs per
second of input): compare its rows on frames/s as well as on the ratio.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from recog.bench.flops import forward_flops
from recog.bench.peak import matmul_peak, synchronize
from recog.bench.train_data import (
    ItemPool,
    make_batches,
    real_pool,
    recipe_alphabet,
    synthetic_pool,
)
from recog.config import RecipeConfig, load_config
from recog.model import BiLSTMCTC
from recog.model.config import ModelConfig


@dataclass
class TrainBenchOptions:
    """What `recog bench train` measures.

    Attributes:
        config: the recipe's TOML file.
        overrides: `key=value` overrides, as for `recog train --set`.
        steps: timed optimizer steps per point.
        warmup: untimed steps before them (allocator, caches, one-time setup).
        threads: torch intra-op threads (0 = the recipe's train.threads, else torch's default).
        batches: distinct batches per point (cycled through the steps).
        synthetic: random features and targets even when the train manifests exist.
        synthetic_frames: longest synthetic utterance, in input frames.
        peak_size: n of the [n, n] matmul that measures the peak.
        device: "cpu", "cuda" or "" for the recipe's train.device.
        sweep: measure a grid instead of the recipe's own settings (also on when a
            sweep_* list is given).
        sweep_max_frames, sweep_threads, sweep_subsampling: the grid; an empty one takes
            `default_sweep` (threads: `threads` when given).
        compare_packed: on CPU, also measure every point with PyTorch's packed-sequence
            LSTM (the usual way, and ours before `recog.model.unpacked_lstm`), as the peer row.
    """

    config: Path
    overrides: list[str] = field(default_factory=list)
    steps: int = 20
    warmup: int = 2
    threads: int = 0
    batches: int = 8
    synthetic: bool = False
    synthetic_frames: int = 600
    peak_size: int = 2048
    device: str = ""
    sweep: bool = False
    sweep_max_frames: tuple[int, ...] = ()
    sweep_threads: tuple[int, ...] = ()
    sweep_subsampling: tuple[int, ...] = ()
    compare_packed: bool = False


@dataclass
class TrainPoint:
    """One measured setting. Rates are per second of wall time over the timed steps.

    Attributes:
        seconds: wall time of the timed steps.
        utterances_per_batch: mean utterances per step.
        padding_pct: padded frames that are not input frames, percent of the padded batch.
        frames_per_s, utt_per_s: input frames (true lengths) and utterances per second.
        flop_per_step: model FLOPs of one training step (3x forward, `recog.bench.flops`).
        flop_per_s: achieved model FLOP/s; peak_flop_per_s: torch.matmul FLOP/s, same threads.
        ratio: flop_per_s / peak_flop_per_s.
        lstm: how the LSTM ran: "unpacked" (CPU training path), "packed" (PyTorch's packed
            sequences on CPU) or "cudnn-packed".
    """

    max_frames: int
    threads: int
    subsampling: int
    steps: int
    seconds: float
    utterances_per_batch: float
    padding_pct: float
    frames_per_s: float
    utt_per_s: float
    flop_per_step: float
    flop_per_s: float
    peak_flop_per_s: float
    ratio: float
    lstm: str = "unpacked"


@dataclass
class TrainReport:
    """The points measured and what they were measured on."""

    info: dict
    points: list[TrainPoint]

    def best(self) -> TrainPoint:
        return max(self.points, key=lambda p: p.ratio)


def default_sweep(config: RecipeConfig) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(max_frames, threads, subsampling) of `--sweep` without explicit lists.

    max_frames: half, once and twice the recipe's; threads: 1 and all cores;
    subsampling: 1, 2 and 4 (only 1 without a conv front end).
    """
    mf = config.train.max_frames
    cores = os.cpu_count() or 1
    subs = (1, 2, 4) if config.model.conv_channels else (1,)
    return (mf // 2, mf, 2 * mf), tuple(sorted({1, cores})), subs


class _Setup:
    """Everything points share: config, device, data pool, alphabet, and the peak per thread count."""

    def __init__(self, opts: TrainBenchOptions, largest_max_frames: int):
        from recog.model.device import select_device
        from recog.train.device import configure_backend

        self.config = load_config(opts.config, opts.overrides)
        self.device = select_device(opts.device or self.config.train.device)
        configure_backend(self.device)
        self.opts = opts
        found = None if opts.synthetic else real_pool(self.config, max_items=opts.batches * 256, seed=self.config.seed)
        if found is not None:
            self.pool, self.alphabet = found
        else:
            self.alphabet = recipe_alphabet(self.config, [])
            per_batch = largest_max_frames // max(1, opts.synthetic_frames // 2) + 1
            self.pool = synthetic_pool(self.config.input_dim, len(self.alphabet), opts.batches * per_batch,
                                       opts.synthetic_frames, seed=self.config.seed)
        self.peaks: dict[int, float] = {}

    def model_config(self, subsampling: int) -> ModelConfig:
        return dataclasses.replace(self.config.model, input_dim=self.config.input_dim,
                                   vocab_size=len(self.alphabet), subsampling=subsampling)

    def peak(self, threads: int) -> float:
        if threads not in self.peaks:
            dtype = torch.bfloat16 if self._bf16() else torch.float32
            self.peaks[threads] = matmul_peak(self.opts.peak_size, device=self.device, dtype=dtype)
        return self.peaks[threads]

    def _bf16(self) -> bool:
        precision = self.config.train.precision
        return precision == "bf16" or (precision == "auto" and self.device.type == "cuda")


def measure_point(setup: _Setup, pool: ItemPool, max_frames: int, threads: int, subsampling: int,
                  packed: bool = False) -> TrainPoint:
    """Time `setup.opts.steps` training steps at one setting (see the module docstring);
    `packed` runs the LSTM on packed sequences on CPU too."""
    from recog.train.device import autocast
    from recog.train.trainer import ctc_loss_sum

    opts, config, device = setup.opts, setup.config, setup.device
    torch.set_num_threads(threads)
    peak = setup.peak(threads)
    mc = setup.model_config(subsampling)
    torch.manual_seed(config.seed)
    model = BiLSTMCTC(mc).to(device).train()
    model.cpu_unpacked = not packed
    lstm = "cudnn-packed" if device.type == "cuda" else ("packed" if packed else "unpacked")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay)
    batches = [b.to(device) for b in make_batches(pool, max_frames, opts.batches, seed=config.seed)]
    if not batches:
        raise ValueError("no batches: the data pool is empty")

    def step(k: int) -> None:
        batch = batches[k % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, config.train.precision):
            log_probs, out_lengths = model(batch.features, batch.lengths)
        loss = ctc_loss_sum(log_probs, out_lengths, batch) / len(batch.lengths)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        optimizer.step()

    for k in range(opts.warmup):
        step(k)
    synchronize(device)
    start = time.perf_counter()
    for k in range(opts.steps):
        step(opts.warmup + k)
    synchronize(device)
    seconds = time.perf_counter() - start

    timed = [batches[(opts.warmup + k) % len(batches)] for k in range(opts.steps)]
    frames = sum(int(b.lengths.sum()) for b in timed)
    padded = sum(b.features.shape[0] * b.features.shape[1] for b in timed)
    utts = sum(len(b.lengths) for b in timed)
    flops = sum(forward_flops(mc, b.lengths.tolist()).train_step for b in timed)
    return TrainPoint(
        max_frames=max_frames, threads=threads, subsampling=subsampling, steps=opts.steps, seconds=seconds,
        utterances_per_batch=utts / opts.steps, padding_pct=100 * (1 - frames / max(padded, 1)),
        frames_per_s=frames / seconds, utt_per_s=utts / seconds, flop_per_step=flops / opts.steps,
        flop_per_s=flops / seconds, peak_flop_per_s=peak, ratio=flops / seconds / peak, lstm=lstm,
    )


def run_train_bench(opts: TrainBenchOptions) -> TrainReport:
    """One point (the recipe's settings) or the sweep's grid; progress lines go to stderr."""
    if opts.steps < 1 or opts.warmup < 0 or opts.batches < 1:
        raise ValueError("--steps and --batches must be >= 1 and --warmup >= 0")
    preview = load_config(opts.config, opts.overrides)
    default_threads = opts.threads or preview.train.threads or torch.get_num_threads()
    if opts.sweep or opts.sweep_max_frames or opts.sweep_threads or opts.sweep_subsampling:
        grid_mf, grid_th, grid_sub = default_sweep(preview)
        grid_mf = opts.sweep_max_frames or grid_mf
        grid_th = opts.sweep_threads or ((opts.threads,) if opts.threads else grid_th)
        grid_sub = opts.sweep_subsampling or grid_sub
    else:
        grid_mf, grid_th, grid_sub = (preview.train.max_frames,), (default_threads,), (preview.model.subsampling,)
    setup = _Setup(opts, max(grid_mf))
    points = []
    for subsampling in grid_sub:
        if subsampling != 1 and not setup.config.model.conv_channels:
            print(f"skipping subsampling {subsampling}: the model has no conv front end", file=sys.stderr)
            continue
        for max_frames in grid_mf:
            for threads in grid_th:
                variants = (False, True) if opts.compare_packed and setup.device.type == "cpu" else (False,)
                for packed in variants:
                    point = measure_point(setup, setup.pool, max_frames, threads, subsampling, packed)
                    points.append(point)
                    print(json.dumps(asdict(point)), file=sys.stderr, flush=True)
    if not points:
        raise ValueError("no point to measure (see the notes above)")
    cfg = setup.config
    params = BiLSTMCTC(setup.model_config(cfg.model.subsampling)).num_parameters()
    info = {"recipe": cfg.name, "config": str(opts.config), "overrides": opts.overrides, "data": setup.pool.source,
            "model": f"{cfg.model.lstm_layers} x BiLSTM {cfg.model.hidden_size}, conv {cfg.model.conv_channels} "
                     f"(kernel {cfg.model.conv_kernel}), F={cfg.input_dim}, V={len(setup.alphabet)}, "
                     f"{params:,} parameters",
            "device": str(setup.device), "precision": cfg.train.precision, "peak_matmul_n": opts.peak_size,
            "torch": torch.__version__, "cpu_count": os.cpu_count()}
    return TrainReport(info, points)


def markdown(report: TrainReport) -> str:
    """The BENCHMARKS.md section: a line on what ran, the table, and the best point of a sweep."""
    i = report.info
    lines = [
        f"Recipe `{i['config']}`{' ' + ' '.join('--set ' + o for o in i['overrides']) if i['overrides'] else ''}: "
        f"{i['model']}; data: {i['data']}; device {i['device']} ({i['precision']}), torch {i['torch']}. "
        f"Ratio = achieved model FLOP/s (3x analytic forward FLOPs, true lengths) / torch.matmul "
        f"[{i['peak_matmul_n']}, {i['peak_matmul_n']}] FLOP/s at the same thread count.",
        "",
        "| LSTM | max_frames | subsampling | threads | utt/batch | padding % | frames/s | utt/s | GFLOP/step "
        "| GFLOP/s | matmul peak GFLOP/s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in report.points:
        lines.append(f"| {p.lstm} | {p.max_frames} | {p.subsampling} | {p.threads} | {p.utterances_per_batch:.1f} "
                     f"| {p.padding_pct:.1f} | {p.frames_per_s:.0f} | {p.utt_per_s:.1f} | {p.flop_per_step / 1e9:.3g} "
                     f"| {p.flop_per_s / 1e9:.3g} | {p.peak_flop_per_s / 1e9:.1f} | {p.ratio:.3g} |")
    speedups = _unpacked_speedups(report.points)
    if speedups:
        lines += ["", "Unpacked / packed frames/s at the same setting: " + ", ".join(f"{x:.2f}x" for x in speedups) + "."]
    if len(report.points) > 1:
        b = report.best()
        lines += ["", f"Highest ratio: {b.ratio:.3g} at max_frames {b.max_frames}, subsampling {b.subsampling}, "
                      f"threads {b.threads} ({b.frames_per_s:.0f} frames/s)."]
    return "\n".join(lines)


def _unpacked_speedups(points: list[TrainPoint]) -> list[float]:
    """frames/s of each unpacked point over the packed point of the same setting (compare_packed)."""
    key = lambda p: (p.max_frames, p.threads, p.subsampling)  # noqa: E731
    packed = {key(p): p for p in points if p.lstm == "packed"}
    return [p.frames_per_s / packed[key(p)].frames_per_s for p in points if p.lstm == "unpacked" and key(p) in packed]


def write_json(report: TrainReport, path: str | Path) -> None:
    """Info and points as one JSON file."""
    Path(path).write_text(json.dumps({"info": report.info, "points": [asdict(p) for p in report.points]}, indent=1))
