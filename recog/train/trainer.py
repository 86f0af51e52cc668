"""The training loop: CTC loss, AdamW, warm-up + cosine schedule, validation, checkpoints.

One `Trainer` runs in each process: alone for `recog train`, or one per device
under `torchrun --nproc-per-node N -m recog train` (DistributedDataParallel,
see `recog.train.distributed`). Rank 0 alone writes files, logs and the
progress bar; every rank computes the same decisions (skip a step, stop, the
best checkpoint) from all-reduced numbers, so they stay in lockstep.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from recog.config import RecipeConfig
from recog.data.collate import Batch
from recog.data.datasets import build_dataset
from recog.data.manifest import read_manifest
from recog.data.sampler import Slot
from recog.model import BiLSTMCTC
from recog.model.device import select_device
from recog.text import Alphabet
from recog.train import distributed as dist
from recog.train import rng
from recog.train.average import average_states, epoch_checkpoints, epoch_path
from recog.train.checkpoint import (
    load_latest,
    make_state,
    remove_step_checkpoints,
    remove_temporary_files,
    save_checkpoint,
    save_training_checkpoint,
)
from recog.train.data_report import (
    FoundProblems,
    Problem,
    TooManySkipsError,
    check_fraction,
    load_split,
    write_report,
)
from recog.train.device import autocast, configure_backend, loader_workers, pin_memory
from recog.train.loader import slot_loader
from recog.train.progress import MetricsLog, progress_bar
from recog.train.train_data import is_sharded, load_train_data, read_train_rows
from recog.train.validate import DevResult, validate

__all__ = ["DevResult", "Trainer", "build_alphabet", "lr_factor", "validate"]

# Mid-epoch, the skipped-step fraction is only judged once this many steps ran (at epoch ends always).
MIN_STEPS_FOR_SKIP_CHECK = 100


def build_alphabet(config: RecipeConfig, texts: list[str]) -> Alphabet:
    """The configured alphabet, or every character (word units: word) of the normalized training text."""
    if config.text.alphabet:
        return Alphabet.from_string(config.text.alphabet, config.text.units)
    return Alphabet.from_texts((config.text.normalizer(t) for t in texts), config.text.units)


def lr_factor(step: int, warmup: int, total: int, final_ratio: float) -> float:
    """Linear warm-up to 1 over `warmup` steps, then cosine decay to `final_ratio` at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def ctc_loss_sum(log_probs: torch.Tensor, out_lengths: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Sum over the batch of CTC loss / target tokens (nats per token), a scalar.

    log_probs: [B, T', V] natural-log probabilities; out_lengths: [B] frames.
    An impossible alignment (infinite loss) counts 0 (`zero_infinity`).
    """
    per_utt = torch.nn.functional.ctc_loss(
        log_probs.float().transpose(0, 1), batch.targets, out_lengths, batch.target_lengths,
        blank=0, reduction="none", zero_infinity=True,
    )
    return (per_utt / batch.target_lengths.clamp(min=1)).sum()


class Trainer:
    """Trains a recipe; `run()` returns the last epoch's log record.

    Files in `config.out_dir` (written by rank 0):
    `last.pt` (the newest resumable checkpoint: model, optimizer, scheduler,
    position in the epoch, RNG states), `checkpoints/step-N.pt` (the newest
    `train.keep_checkpoints` of them, written at every epoch end and every
    `train.checkpoint_every_steps` steps), `best.pt` (lowest WER on the first
    dev set), with `train.average_last = N` also `epochs/epoch-NNN.pt` (weights of
    the last N epochs) and `averaged.pt` + `averaged.json` (their mean and its dev
    error rates), `log.jsonl` (one JSON object per epoch), `data_report.json`
    (unusable utterances, see `recog.train.data_report`), `tokens.txt`, and
    `tensorboard/` when TensorBoard is installed.
    """

    def __init__(self, config: RecipeConfig, resume: bool = False):
        self.config = config
        tc = config.train
        self.dist, self.device = dist.setup(select_device(tc.device))
        self.is_main = self.dist.is_main
        self.out_dir = Path(config.out_dir)
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        configure_backend(self.device, tc.threads)

        sharded = is_sharded(config)
        if sharded and not config.text.alphabet:
            raise ValueError("training from shards needs text.alphabet (the shards' texts are read only "
                             "when their utterances are)")
        train_utts = [] if sharded else read_train_rows(config)
        if not sharded and not train_utts:
            raise ValueError("data.train lists no utterances")
        self.alphabet = build_alphabet(config, [u.text for u in train_utts])
        if self.is_main:
            self.alphabet.save(self.out_dir / "tokens.txt")
        config.model.input_dim = config.input_dim
        config.model.vocab_size = len(self.alphabet)
        torch.manual_seed(config.seed)
        self.model = BiLSTMCTC(config.model).to(self.device)
        self.found = FoundProblems()  # unusable utterances found when read
        self._load_data(train_utts)
        del train_utts

        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.workers = loader_workers(self.device, tc.num_workers, self.dist.local_world_size)
        self.steps_per_epoch = self.sampler.steps_per_epoch(tc.accum_grad)
        self.total_steps = tc.epochs * self.steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, tc.warmup_steps, self.total_steps, tc.final_lr_ratio)
        )
        self.epoch, self.step, self.best_wer, self.elapsed = 0, 0, float("inf"), 0.0
        self.batch_in_epoch = 0  # global batches of the current epoch already trained on
        self.skipped_steps = 0
        self.progress = self._fresh_progress()
        self.log = MetricsLog(self.out_dir, enabled=self.is_main)
        if resume:
            self._resume()
        elif self.is_main and (removed := remove_step_checkpoints(self.out_dir)
                               + self._remove_epoch_weights()):
            print(f"removed {removed} checkpoint(s) of an earlier run in {self.out_dir}", file=sys.stderr)
        self.net = dist.wrap_model(self.model, self.dist, self.device)
        self._clock = time.time()

    # ---- data --------------------------------------------------------------------
    def _load_data(self, train_utts: list) -> None:
        """Datasets of every split, the usable indices of each, and the data report."""
        config = self.config
        norm = config.text.normalizer
        self.train = load_train_data(config, train_utts, self.alphabet, self.model.output_lengths,
                                     self.dist.world_size, self.dist.rank)
        self.train_set, self.train_indices, self.sampler = self.train.dataset, self.train.indices, self.train.sampler
        self.reports = {"train": self.train.report}
        self.dev_sets, self.dev_indices = {}, {}
        for m in config.data.dev:
            name = Path(m).stem
            ds, idx, report = load_split(f"dev/{name}", [m], read_manifest(config.resolve(m)),
                                         lambda u: build_dataset(config, u, self.alphabet),
                                         self.alphabet, norm, self.model.output_lengths)
            self.dev_sets[name], self.dev_indices[name] = ds, idx
            self.reports[report.name] = report
        self.report_path = self.out_dir / "data_report.json"
        reports = list(self.reports.values())
        if self.is_main:
            write_report(self.report_path, reports)
            if any(r.problems for r in reports):
                print(f"data report ({self.report_path}):\n" + "\n".join(r.summary() for r in reports),
                      file=sys.stderr)
        check_fraction(self.train.report, config.train.max_skip_fraction, self.report_path)
        if not self.train_indices:
            raise ValueError(f"no usable training utterances; see {self.report_path}")

    def _sync_problems(self) -> None:
        """Merge the utterances every rank found unusable since the last call (collective: every
        rank calls it at the same point); report the new ones and stop when too many are bad."""
        new = self.found.sync(self.dist)
        if not new:
            return
        for split, problem in new:
            self.reports[split].problems.append(problem)
        if self.is_main:
            for _, problem in new:
                print(f"warning: skipping {problem.path}: {problem.detail}", file=sys.stderr)
            write_report(self.report_path, list(self.reports.values()))
        check_fraction(self.reports["train"], self.config.train.max_skip_fraction, self.report_path)

    # ---- checkpoints -------------------------------------------------------------
    @staticmethod
    def _fresh_progress() -> dict[str, float]:
        """Running sums of the current epoch: loss of the counted steps, steps, input frames, seconds."""
        return {"loss_sum": 0.0, "loss_steps": 0, "frames": 0.0, "seconds": 0.0}

    def _tick(self) -> None:
        """Add the wall time since the last tick to `elapsed`."""
        now = time.time()
        self.elapsed += now - self._clock
        self._clock = now

    def _resume(self) -> None:
        found: Any = None
        if self.is_main:
            remove_temporary_files(self.out_dir)
            try:
                found = load_latest(self.out_dir)
            except Exception as err:  # handed to every rank, then raised there
                found = err
        found = dist.broadcast_object(found, self.dist)
        if isinstance(found, Exception):
            raise found
        if found is None:
            if self.is_main:
                print(f"no checkpoint in {self.out_dir}; starting fresh", file=sys.stderr)
            return
        path, state = found
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.best_wer, self.elapsed = state["best_wer"], state["elapsed"]
        self.batch_in_epoch = state.get("batch_in_epoch", 0)
        self.skipped_steps = state.get("skipped_steps", 0)
        self.progress = dict(state.get("epoch_progress", self._fresh_progress()))
        self.found = FoundProblems(state.get("found_problems", []))
        for split, path_, reason, detail in self.found.found:
            if split in self.reports:
                self.reports[split].problems.append(Problem(path_, reason, detail))
        if self.found.found and self.is_main:
            write_report(self.report_path, list(self.reports.values()))
        if "rng_states" in state:
            rng.restore(state["rng_states"])
        else:  # checkpoints from before exact resume
            torch.set_rng_state(state["rng"])
        self.train_set.rng.set_state(state["augment_rng"])
        per_step = self.dist.world_size * self.config.train.accum_grad
        if self.batch_in_epoch and state.get("batches_per_step", per_step) != per_step and self.is_main:
            print(f"warning: {path} was written with {state['batches_per_step']} batches per step, this run takes "
                  f"{per_step} (ranks x accum_grad): the learning-rate schedule will differ", file=sys.stderr)
        self.log.truncate_after(self.step)
        if self.is_main:
            print(f"resumed from {path} at epoch {self.epoch}, batch {self.batch_in_epoch}, step {self.step}",
                  file=sys.stderr)

    def _state(self, metrics: dict[str, Any]) -> dict[str, Any]:
        return make_state(
            self.model, self.config, self.alphabet,
            optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
            epoch=self.epoch, step=self.step, batch_in_epoch=self.batch_in_epoch,
            batches_per_step=self.dist.world_size * self.config.train.accum_grad,
            best_wer=self.best_wer, elapsed=self.elapsed, skipped_steps=self.skipped_steps,
            epoch_progress=dict(self.progress), rng=torch.get_rng_state(), rng_states=rng.capture(),
            augment_rng=self.train_set.rng.get_state(), metrics=metrics,
            found_problems=[list(f) for f in self.found.found],
        )

    def _save(self, metrics: dict[str, Any], best: bool = False) -> None:
        """Rank 0: a step checkpoint (+ last.pt), and best.pt when `best` (every rank calls it)."""
        self._sync_problems()
        self._tick()
        if not self.is_main:
            return
        state = self._state(metrics)
        save_training_checkpoint(self.out_dir, state, self.config.train.keep_checkpoints)
        if best:
            save_checkpoint(self.out_dir / "best.pt", state)

    def _dev_metrics(self, model: BiLSTMCTC) -> tuple[list[DevResult], dict[str, float]]:
        """Greedy WER/CER of `model` on every dev set: the results and `{NAME_wer, NAME_cer}` (percent, 2 decimals)."""
        tc = self.config.train
        dev = [validate(model, ds, name, self.device, tc.max_frames, tc.precision, self.dev_indices[name], self.dist,
                        self.workers)
               for name, ds in self.dev_sets.items()]
        for d in dev:
            self.found.add(f"dev/{d.name}", d.problems)
        self._sync_problems()
        record: dict[str, float] = {}
        for d in dev:
            record[f"{d.name}_wer"], record[f"{d.name}_cer"] = round(d.wer, 2), round(d.cer, 2)
        return dev, record

    # ---- checkpoint averaging ----------------------------------------------------
    def _remove_epoch_weights(self) -> int:
        """Delete an earlier run's per-epoch weights and average; returns how many files."""
        old = [p for _, p in epoch_checkpoints(self.out_dir)]
        old += [p for p in (self.out_dir / "averaged.pt", self.out_dir / "averaged.json") if p.exists()]
        for p in old:
            p.unlink()
        return len(old)

    def _keep_epoch_weights(self, record: dict[str, Any]) -> None:
        """Rank 0: the weights of this epoch, when it is one of the last `train.average_last`."""
        n = self.config.train.average_last
        if self.is_main and n and self.epoch > self.config.train.epochs - n:
            save_checkpoint(epoch_path(self.out_dir, self.epoch),
                            make_state(self.model, self.config, self.alphabet, epoch=self.epoch,
                                       step=self.step, elapsed=self.elapsed, metrics=record))

    def _write_average(self) -> dict[str, Any] | None:
        """Average the kept weights of the last `train.average_last` epochs (at least two), validate
        the mean on every dev set, write `averaged.pt` and `averaged.json`; returns the record."""
        tc = self.config.train
        if not tc.average_last:
            return None
        kept = [(e, p) for e, p in epoch_checkpoints(self.out_dir) if self.epoch - tc.average_last < e <= self.epoch]
        if len(kept) < 2:  # every rank sees the same files
            if self.is_main:
                print(f"not averaging: {len(kept)} of the last {tc.average_last} epochs kept "
                      f"(the run stopped at epoch {self.epoch} of {tc.epochs})", file=sys.stderr)
            return None
        state = dist.broadcast_object(average_states([p for _, p in kept]) if self.is_main else None, self.dist)
        model = BiLSTMCTC(self.config.model).to(self.device)
        model.load_state_dict(state["model"])
        record: dict[str, Any] = {"averaged_epochs": [e for e, _ in kept], **self._dev_metrics(model)[1]}
        if self.is_main:
            save_checkpoint(self.out_dir / "averaged.pt", {**state, "metrics": record})
            (self.out_dir / "averaged.json").write_text(json.dumps(record) + "\n")
            print(json.dumps(record), file=sys.stderr)
        return record

    # ---- training ----------------------------------------------------------------
    def _train_step(self, slots: list[Slot], batches: list[Batch]) -> tuple[float | None, float]:
        """One optimizer step over this rank's micro-batches; returns (mean loss per utterance or
        None when the step was skipped, input frames of all ranks)."""
        tc = self.config.train
        # DDP averages gradients over N ranks: N / (utterances in the global batch) makes the
        # result the gradient of the mean loss per utterance of the global batch.
        scale = self.dist.world_size / max(slots[0].group_size, 1)
        self.optimizer.zero_grad(set_to_none=True)
        stats = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss sum, frames, utterances
        for j, (slot, batch) in enumerate(zip(slots, batches, strict=True)):
            batch = batch.to(self.device)
            last = j == len(slots) - 1
            no_sync = self.net.no_sync() if self.dist.enabled and not last else contextlib.nullcontext()
            with no_sync:
                torch.manual_seed(rng.batch_seed(self.config.seed, self.epoch, slot.index, rng.DROPOUT))
                with autocast(self.device, tc.precision):
                    log_probs, out_lengths = self.net(batch.features, batch.lengths)
                total = ctc_loss_sum(log_probs, out_lengths, batch)
                # A non-finite loss is caught after the all-reduce below; nan_to_num keeps the
                # backward pass (which every rank must run for DDP) from spreading it.
                real = slot.real and batch.real
                weight = scale if real else 0.0
                (torch.nan_to_num(total, nan=0.0, posinf=0.0, neginf=0.0) * weight).backward()
            if real:
                stats += torch.stack([total.detach().double(), batch.lengths.sum().double(),
                                      torch.tensor(float(len(batch.lengths)), dtype=torch.float64, device=self.device)])
        loss_sum, frames, utterances = dist.all_reduce_sum(stats, self.dist).tolist()
        ok = math.isfinite(loss_sum)
        if ok:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
            ok = bool(torch.isfinite(norm))
        if ok:
            self.optimizer.step()
            self.scheduler.step()
        else:  # a skipped step still advances the schedule (steps and batches stay aligned)
            self.skipped_steps += 1
            self.optimizer.zero_grad(set_to_none=True)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
                self.scheduler.step()
        self.step += 1
        return (loss_sum / max(utterances, 1) if ok else None), frames

    def _check_skips(self, epoch_end: bool) -> None:
        """Fail when more than train.max_skip_fraction of the steps so far were skipped."""
        limit = self.config.train.max_skip_fraction
        if not self.step or not (epoch_end or self.step >= MIN_STEPS_FOR_SKIP_CHECK):
            return
        if self.skipped_steps / self.step > limit:
            raise TooManySkipsError(
                f"{self.skipped_steps} of {self.step} optimizer steps ({100 * self.skipped_steps / self.step:.1f}%) "
                f"were skipped for a NaN or infinite loss or gradient, more than train.max_skip_fraction = {limit}; "
                "try a lower train.lr or train.grad_clip, or check the data"
            )

    def train_epoch(self) -> float:
        """The rest of the current epoch (all of it, unless resumed mid-epoch); returns the mean loss."""
        tc = self.config.train
        self.net.train()
        self.sampler.set_epoch(self.epoch)
        num_batches = len(self.sampler.batches())
        per_step = self.dist.world_size * tc.accum_grad
        plan = self.sampler.plan(tc.accum_grad, start=self.batch_in_epoch)
        slots = self.train.slots([s for step in plan for s in step], self.epoch)
        loader = iter(slot_loader(slots, self.workers, pin_memory(self.device)))
        total_steps = self.sampler.steps_per_epoch(tc.accum_grad)
        bar = progress_bar(total_steps, self.epoch, tc.epochs, self.is_main, done=total_steps - len(plan))
        p = self.progress
        for step_slots in plan:
            start = time.time()
            batches = [next(loader) for _ in step_slots]
            for b in batches:
                self.found.add("train", b.problems)
            loss, frames = self._train_step(step_slots, batches)
            self.batch_in_epoch = min(num_batches, self.batch_in_epoch + per_step)
            p["seconds"] += time.time() - start
            p["frames"] += frames
            if loss is not None:
                p["loss_sum"] += loss
                p["loss_steps"] += 1
            lr = self.scheduler.get_last_lr()[0]
            bar.update(1)
            bar.set_postfix(loss=f"{p['loss_sum'] / max(p['loss_steps'], 1):.3f}", lr=f"{lr:.2e}",
                            fps=f"{p['frames'] / max(p['seconds'], 1e-9):.0f}")
            if loss is not None:
                self.log.step(self.step, {"train/loss": loss, "train/lr": lr})
            self._check_skips(epoch_end=False)
            every = tc.checkpoint_every_steps
            if every and self.step % every == 0 and self.batch_in_epoch < num_batches:
                self._save({})
        bar.close()
        return p["loss_sum"] / max(p["loss_steps"], 1)

    def run(self) -> dict[str, Any]:
        """Train until `epochs` (or `max_minutes`); returns the last epoch's log record."""
        tc = self.config.train
        if self.is_main:
            print(f"model: {self.model.num_parameters():,} parameters; train: {len(self.train_indices)} utterances, "
                  f"{self.steps_per_epoch} steps/epoch; device {self.device}"
                  + (f"; {self.dist.world_size} ranks" if self.dist.enabled else ""), file=sys.stderr)
        record: dict[str, Any] = {}
        ok = False
        try:
            while self.epoch < tc.epochs:
                epoch_start = time.time()
                loss = self.train_epoch()
                dev, dev_record = self._dev_metrics(self.model)
                self.epoch += 1
                self.batch_in_epoch = 0
                self._tick()
                p = self.progress
                record = {"epoch": self.epoch, "step": self.step, "loss": round(loss, 4),
                          "minutes": round(self.elapsed / 60, 2), "lr": self.scheduler.get_last_lr()[0],
                          "skipped_steps": self.skipped_steps,
                          "frames_per_s": round(p["frames"] / max(p["seconds"], 1e-9), 1),
                          "epoch_s": round(time.time() - epoch_start, 2),
                          "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
                record.update(dev_record)
                improved = bool(dev) and dev[0].wer < self.best_wer
                if improved:
                    self.best_wer = dev[0].wer
                record["best_wer"] = self.best_wer if dev else None
                self.log.epoch(record)
                if self.is_main:
                    print(json.dumps(record), file=sys.stderr)
                self.progress = self._fresh_progress()
                self._save(record, best=improved or not dev)
                self._keep_epoch_weights(record)
                self._check_skips(epoch_end=True)
                over = bool(tc.max_minutes) and self.elapsed / 60 >= tc.max_minutes
                if dist.any_rank(over, self.dist, self.device):
                    if self.is_main:
                        print(f"stopping: {self.elapsed / 60:.1f} min >= train.max_minutes", file=sys.stderr)
                    break
            self._write_average()
            ok = True
        finally:
            self.log.close()
            dist.teardown(self.dist, clean=ok)
        return record
