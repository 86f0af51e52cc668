"""The training loop: CTC loss, AdamW, warm-up + cosine schedule, validation, checkpoints."""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from recog.config import RecipeConfig
from recog.data.collate import collate
from recog.data.dataset import AudioDataset
from recog.data.datasets import build_dataset
from recog.data.ink_dataset import InkDataset
from recog.data.manifest import read_manifest
from recog.data.sampler import BucketSampler
from recog.decode.greedy import greedy_decode
from recog.metrics import ErrorCounts
from recog.model import BiLSTMCTC
from recog.text import Alphabet
from recog.train.checkpoint import load_state, make_state, save_checkpoint
from recog.train.device import autocast, configure_backend, select_device


def build_alphabet(config: RecipeConfig, texts: list[str]) -> Alphabet:
    """The configured alphabet, or every character of the (normalized) training text."""
    if config.text.alphabet:
        return Alphabet.from_string(config.text.alphabet)
    return Alphabet.from_texts(config.text.normalizer(t) for t in texts)


def lr_factor(step: int, warmup: int, total: int, final_ratio: float) -> float:
    """Linear warm-up to 1 over `warmup` steps, then cosine decay to `final_ratio` at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class DevResult:
    """Greedy-decoding error rates on one dev set (percent)."""

    name: str
    wer: float
    cer: float
    utterances: int


def validate(
    model: BiLSTMCTC, dataset: AudioDataset | InkDataset, name: str, device: torch.device, max_frames: int, precision: str
) -> DevResult:
    """Greedy-decode `dataset` and count errors against its (normalized) targets."""
    model.eval()
    counts = ErrorCounts()
    sampler = BucketSampler(dataset.lengths(), max_frames, shuffle=False)
    with torch.inference_mode(), autocast(device, precision):
        for indices in sampler:
            batch = collate([dataset[i] for i in indices]).to(device)
            log_probs, out_lengths = model(batch.features, batch.lengths)
            log_probs = log_probs.float().cpu().numpy()
            for row, i in enumerate(indices):
                hyp = dataset.alphabet.decode(greedy_decode(log_probs[row, : int(out_lengths[row])]))
                counts.add(dataset.alphabet.decode(dataset.targets[i]), hyp)
    model.train()
    return DevResult(name, counts.wer, counts.cer, counts.utterances)


class Trainer:
    """Trains a recipe; `run()` returns the best dev metrics.

    Files in `config.out_dir`: `last.pt` (every epoch, with optimizer state for
    `--resume`), `best.pt` (lowest WER on the first dev set), `log.jsonl`
    (one JSON object per epoch) and `tokens.txt`.
    """

    def __init__(self, config: RecipeConfig, resume: bool = False):
        self.config = config
        self.out_dir = Path(config.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        tc = config.train
        self.device = select_device(tc.device)
        configure_backend(self.device, tc.threads)

        train_utts = [u for m in config.data.train for u in read_manifest(config.resolve(m))]
        if not train_utts:
            raise ValueError("data.train lists no utterances")
        self.alphabet = build_alphabet(config, [u.text for u in train_utts])
        self.alphabet.save(self.out_dir / "tokens.txt")
        self.train_set = build_dataset(config, train_utts, self.alphabet, train=True)
        self.dev_sets = {
            Path(m).stem: build_dataset(config, read_manifest(config.resolve(m)), self.alphabet) for m in config.data.dev
        }
        config.model.input_dim = config.input_dim
        config.model.vocab_size = len(self.alphabet)
        self.model = BiLSTMCTC(config.model).to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.sampler = BucketSampler(self.train_set.lengths(), tc.max_frames, shuffle=True, seed=config.seed,
                                     sortagrad=tc.sortagrad)
        self.total_steps = tc.epochs * len(self.sampler)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, tc.warmup_steps, self.total_steps, tc.final_lr_ratio)
        )
        self.epoch, self.step, self.best_wer, self.elapsed = 0, 0, float("inf"), 0.0
        self.skipped_steps = 0
        if resume:
            self._resume()

    def _resume(self) -> None:
        path = self.out_dir / "last.pt"
        if not path.exists():
            print(f"no checkpoint at {path}; starting fresh", file=sys.stderr)
            return
        state = load_state(path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.best_wer, self.elapsed = state["best_wer"], state["elapsed"]
        torch.set_rng_state(state["rng"])
        self.train_set.rng.set_state(state["augment_rng"])
        print(f"resumed from {path} at epoch {self.epoch}, step {self.step}", file=sys.stderr)

    def _state(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return make_state(
            self.model, self.config, self.alphabet,
            optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
            epoch=self.epoch, step=self.step, best_wer=self.best_wer, elapsed=self.elapsed,
            rng=torch.get_rng_state(), augment_rng=self.train_set.rng.get_state(), metrics=metrics,
        )

    def train_epoch(self) -> float:
        """One pass over the training data; returns the mean loss."""
        tc = self.config.train
        self.model.train()
        self.sampler.set_epoch(self.epoch)
        batches = self.sampler.batches()
        total, count = 0.0, 0
        bar = tqdm(batches, desc=f"epoch {self.epoch + 1}/{tc.epochs}", file=sys.stderr, dynamic_ncols=True, mininterval=2)
        for indices in bar:
            batch = collate([self.train_set[i] for i in indices]).to(self.device)
            with autocast(self.device, tc.precision):
                log_probs, out_lengths = self.model(batch.features, batch.lengths)
            loss = torch.nn.functional.ctc_loss(
                log_probs.float().transpose(0, 1), batch.targets, out_lengths, batch.target_lengths,
                blank=0, reduction="mean", zero_infinity=True,
            )
            self.optimizer.zero_grad(set_to_none=True)
            if not torch.isfinite(loss):
                self.skipped_steps += 1
                continue
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
            if torch.isfinite(norm):
                self.optimizer.step()
            else:
                self.skipped_steps += 1
            self.scheduler.step()
            self.step += 1
            total += loss.item()
            count += 1
            bar.set_postfix(loss=f"{total / count:.3f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
        return total / max(count, 1)

    def run(self) -> dict[str, Any]:
        """Train until `epochs` (or `max_minutes`); returns the last epoch's log record."""
        tc = self.config.train
        print(f"model: {self.model.num_parameters():,} parameters; train: {len(self.train_set)} utterances, "
              f"{len(self.sampler)} batches/epoch; device {self.device}", file=sys.stderr)
        record: dict[str, Any] = {}
        while self.epoch < tc.epochs:
            start = time.time()
            loss = self.train_epoch()
            dev = [validate(self.model, ds, name, self.device, tc.max_frames, tc.precision) for name, ds in self.dev_sets.items()]
            self.epoch += 1
            self.elapsed += time.time() - start
            record = {"epoch": self.epoch, "step": self.step, "loss": round(loss, 4), "minutes": round(self.elapsed / 60, 2),
                      "lr": self.scheduler.get_last_lr()[0], "skipped_steps": self.skipped_steps}
            for d in dev:
                record[f"{d.name}_wer"], record[f"{d.name}_cer"] = round(d.wer, 2), round(d.cer, 2)
            improved = bool(dev) and dev[0].wer < self.best_wer
            if improved:
                self.best_wer = dev[0].wer
            record["best_wer"] = self.best_wer if dev else None
            with open(self.out_dir / "log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            print(json.dumps(record), file=sys.stderr)
            state = self._state(record)
            save_checkpoint(self.out_dir / "last.pt", state)
            if improved or not dev:
                save_checkpoint(self.out_dir / "best.pt", state)
            if tc.max_minutes and self.elapsed / 60 >= tc.max_minutes:
                print(f"stopping: {self.elapsed / 60:.1f} min >= train.max_minutes", file=sys.stderr)
                break
        return record
