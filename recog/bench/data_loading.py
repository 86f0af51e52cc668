"""Training data loading, measured: host memory against corpus size, and throughput read on access vs preloaded.

Two measurements (`tools/bench_train_data.py`):

- memory: a generated corpus of N short utterances (tone words at 16 kHz with a
  little noise, written once under a folder in /tmp) is trained on for a fixed
  number of steps in a child process; every 0.1 s the parent samples the memory
  of the child and its data-loader workers (`rank_memory_mb`: the child's RSS
  plus the workers' private pages, and the PSS of them all) and reports the
  peaks (the host memory of one training rank), with the child's own peak RSS.
- throughput: `Trainer`s of one recipe, one preloading every waveform into
  memory and others reading on access with W workers, train the same batches of
  epoch 1 (same seed, same plan) in alternating blocks of K steps; a fresh
  DataLoader per block, so worker start-up counts and no prefetch runs into the
  other's block. Input frames per second of wall time, per mode and their ratio
  to the first, and the time the training loop waited for its batches (preloaded:
  the features computed in the loop; with workers: batches not ready in time).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from tqdm import tqdm

CORPUS_RATE = 16000
LETTER_HZ = {c: 250.0 * (i + 1) for i, c in enumerate("abcdefgh")}


def make_corpus(folder: Path, count: int, seed: int = 0) -> Path:
    """`count` wavs of 1-4 random tone words (0.3-2.5 s, 16 kHz PCM 16) and `train.jsonl`; returns the
    manifest. An existing manifest of the same count is reused."""
    manifest = folder / "train.jsonl"
    if manifest.is_file() and sum(1 for _ in manifest.open()) == count:
        return manifest
    (folder / "wav").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in tqdm(range(count), desc=f"corpus {count}", unit="utt", file=sys.stderr, mininterval=2):
        words = ["".join(rng.choice(list(LETTER_HZ), size=rng.integers(1, 4))) for _ in range(rng.integers(1, 5))]
        pieces = [np.zeros(int(0.05 * CORPUS_RATE))]
        for word in words:
            for ch in word:
                t = np.arange(int(rng.uniform(0.08, 0.14) * CORPUS_RATE)) / CORPUS_RATE
                pieces.append(0.4 * np.sin(2 * np.pi * LETTER_HZ[ch] * t) * np.hanning(len(t)))
            pieces.append(np.zeros(int(rng.uniform(0.05, 0.12) * CORPUS_RATE)))
        wave = np.concatenate(pieces)
        wave = (wave + 0.003 * rng.standard_normal(len(wave))).astype(np.float32)
        name = f"wav/{i // 1000:03d}/u{i:06d}.wav"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(folder / name, wave, CORPUS_RATE, subtype="PCM_16")
        rows.append({"audio_filepath": name, "duration": round(len(wave) / CORPUS_RATE, 4), "text": " ".join(words)})
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def corpus_config(manifest: Path, out_dir: Path) -> str:
    """A small audio recipe over a generated corpus (TOML): 40 mels, one 128-unit BiLSTM layer, augmentation on."""
    return f"""
name = "bench-data"
out_dir = "{out_dir}"
seed = 0
[data]
train = ["{manifest}"]
[text]
alphabet = " abcdefgh"
[features]
sample_rate = {CORPUS_RATE}
n_mels = 40
[augment]
speed = [0.9, 1.1]
gain_db = [-6.0, 6.0]
noise_prob = 0.5
freq_masks = 2
time_masks = 2
[model]
subsampling = 4
conv_channels = 64
lstm_layers = 1
hidden_size = 128
[train]
max_frames = 6000
threads = 1
"""


@dataclass
class StepsResult:
    """What `train_steps` measured."""

    steps: int
    seconds: float
    frames: int
    frames_per_s: float
    max_rss_mb: float


def train_steps(trainer: Any, cursor: list[int], steps: int, workers: int) -> tuple[int, float, float]:
    """Train `steps` optimizer steps of `trainer` from `cursor` = [epoch, global batch] (advanced in place,
    into the next epoch when one ends), with a fresh DataLoader of `workers` processes per epoch part.

    Returns (input frames, seconds of wall time, seconds the training loop waited for batches).
    """
    from recog.train.loader import slot_loader

    frames, wait, begin = 0, 0.0, time.perf_counter()
    accum = trainer.config.train.accum_grad
    trainer.net.train()
    while steps > 0:
        epoch, start = cursor
        trainer.epoch = epoch
        trainer.sampler.set_epoch(epoch)
        plan = trainer.sampler.plan(accum, start=start)[:steps]
        if not plan:
            cursor[:] = [epoch + 1, 0]
            continue
        loader = iter(slot_loader(trainer.train.slots([s for step in plan for s in step], epoch), workers, False))
        for step_slots in plan:
            asked = time.perf_counter()
            batches = [next(loader) for _ in step_slots]
            wait += time.perf_counter() - asked
            frames += sum(int(b.lengths.sum()) for b in batches if b.real)
            trainer._train_step(step_slots, batches)
        steps -= len(plan)
        cursor[1] = start + len(plan) * trainer.dist.world_size * accum
    return frames, time.perf_counter() - begin, wait


def run_child(config_path: Path, steps: int, workers: int, preload: bool) -> StepsResult:
    """In the measured process: build the trainer, train `steps` steps, report (printed as JSON by the tool)."""
    from recog.config import load_config
    from recog.train.trainer import Trainer

    config = load_config(config_path, [f"train.num_workers={workers}", f"data.preload={str(preload).lower()}"])
    trainer = Trainer(config)
    frames, seconds, _ = train_steps(trainer, [1, 0], steps, workers)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return StepsResult(steps, seconds, frames, frames / seconds, rss)


def _rollup(pid: int) -> dict[str, int]:
    """The kB fields of /proc/PID/smaps_rollup (Rss, Pss, Private_Clean, ...); {} when the process is gone."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        return {}
    return fields


def rank_memory_mb(pid: int) -> tuple[float, float]:
    """Memory of a training process `pid` and its descendants (the data-loader workers), MB:
    (main RSS + the workers' private pages, PSS summed over the tree).

    The first counts every page the main process maps and only what the workers add to
    it (their private pages; what they share with the main process or each other through
    fork is counted once), so it does not depend on other processes on the machine. PSS
    splits shared pages (the torch libraries) among every process that maps them, here
    or elsewhere.
    """
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = [pid], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree += kids
        frontier += kids
    rollups = [_rollup(p) for p in tree]
    main = rollups[0].get("Rss", 0)
    workers = sum(r.get("Private_Clean", 0) + r.get("Private_Dirty", 0) for r in rollups[1:])
    return (main + workers) / 1024, sum(r.get("Pss", 0) for r in rollups) / 1024


@dataclass
class MemoryPoint:
    """One corpus size and mode."""

    utterances: int
    preload: bool
    workers: int
    steps: int
    peak_rank_mb: float
    peak_pss_mb: float
    main_max_rss_mb: float
    frames_per_s: float


def measure_memory(tool: Path, folder: Path, count: int, steps: int, workers: int, preload: bool) -> MemoryPoint:
    """Train `steps` steps on a generated corpus of `count` utterances in a child process; peak PSS of its tree."""
    manifest = make_corpus(folder / f"corpus-{count}", count)
    config = folder / f"bench-{count}.toml"
    config.write_text(corpus_config(manifest, folder / f"out-{count}"))
    cmd = [sys.executable, str(tool), "_child", str(config), "--steps", str(steps), "--workers", str(workers)]
    if preload:
        cmd.append("--preload")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak = [0.0, 0.0]

    def sample() -> None:
        while proc.poll() is None:
            rank, pss = rank_memory_mb(proc.pid)
            peak[0], peak[1] = max(peak[0], rank), max(peak[1], pss)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    child = json.loads(out.strip().splitlines()[-1])
    return MemoryPoint(count, preload, workers, steps, round(peak[0], 1), round(peak[1], 1),
                       round(child["max_rss_mb"], 1), round(child["frames_per_s"], 1))


@dataclass
class ThroughputPoint:
    """One mode of the alternated throughput run (sums over its blocks)."""

    mode: str
    workers: int
    blocks: int
    steps: int
    frames: int
    seconds: float
    frames_per_s: float
    wait_s: float


def measure_throughput(config_path: Path, blocks: int, steps: int, modes: list[tuple[bool, int]], threads: int,
                       out_root: Path) -> list[ThroughputPoint]:
    """Alternate blocks of `steps` steps between trainers of one recipe, one per (preload, workers) mode;
    the first mode is the baseline. Each round runs the modes in turn, every other round in reverse order."""
    from recog.config import load_config
    from recog.train.trainer import Trainer

    names = {mode: f"{'in memory (data.preload)' if mode[0] else 'read on access'}, {mode[1]} workers" for mode in modes}
    trainers, totals, position = {}, {}, {}
    for mode in modes:
        preload, workers = mode
        overrides = [f"data.preload={str(preload).lower()}", f"train.num_workers={workers}", f"train.threads={threads}",
                     f"out_dir={out_root / f'{int(preload)}-{workers}'}", "train.checkpoint_every_steps=0"]
        print(f"building: {names[mode]}", file=sys.stderr)
        trainers[mode] = Trainer(load_config(config_path, overrides))
        totals[mode], position[mode] = [0, 0.0, 0.0], [1, 0]
    for b in range(blocks):
        for mode in (modes if b % 2 == 0 else modes[::-1]):
            trainer = trainers[mode]
            frames, seconds, wait = train_steps(trainer, position[mode], steps, mode[1])
            for k, v in enumerate((frames, seconds, wait)):
                totals[mode][k] += v
            print(f"block {b + 1}/{blocks} {names[mode]}: {frames / seconds:.0f} frames/s, "
                  f"waited {wait:.1f} of {seconds:.1f} s for batches", file=sys.stderr)
    return [ThroughputPoint(names[m], m[1], blocks, blocks * steps, int(totals[m][0]), round(totals[m][1], 2),
                            round(totals[m][0] / totals[m][1], 1), round(totals[m][2], 2)) for m in modes]


def as_json(points: list[Any], info: dict[str, Any]) -> str:
    """The points and the conditions as one JSON document."""
    return json.dumps({"info": info, "points": [asdict(p) for p in points]}, indent=1)
