"""`train.ensemble = K`: K networks of one recipe trained side by side, used together as a `CTCEnsemble`.

Member k is the recipe with `seed = seed + k` and `out_dir = OUT_DIR/member-k`, run by its own
`recog train` process (its output in `OUT_DIR/member-k/train.log`), all K at once: on a CPU
each gets `cores / K` threads (unless `train.threads` says otherwise), on a GPU they share it.
When all have finished, the ensemble of their models (`averaged.pt`, else `best.pt`) is
evaluated on the recipe's dev sets and recorded in `OUT_DIR/ensemble.json`. `--resume` resumes
every member. A seed is what changes between members; their errors on an unseen speaker differ
and the mean of their posteriors cancels part of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from recog.config import RecipeConfig


class EnsembleTrainingError(RuntimeError):
    """A member's training process failed; the message names its log."""


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def member_dir(config: RecipeConfig, k: int) -> Path:
    """OUT_DIR/member-k."""
    return Path(config.out_dir) / f"member-{k}"


def member_model(folder: Path) -> Path:
    """A finished member's model: `averaged.pt` (train.average_last), else `best.pt`."""
    averaged = folder / "averaged.pt"
    return averaged if averaged.is_file() else folder / "best.pt"


def member_command(config_path: str, overrides: list[str], config: RecipeConfig, k: int,
                   threads: int, resume: bool) -> list[str]:
    """The `recog train` command line of member k: the recipe and its overrides, then its own seed,
    folder and thread count (later overrides win)."""
    own = ["train.ensemble=1", f"seed={config.seed + k}", f"out_dir={member_dir(config, k)}",
           f"train.threads={threads}"]
    sets = [arg for o in [*overrides, *own] for arg in ("--set", o)]
    return [sys.executable, "-m", "recog", "train", config_path, *sets, *(["--resume"] if resume else [])]


def epochs_done(folder: Path) -> int:
    """Epoch records in a member's `log.jsonl` so far."""
    log = folder / "log.jsonl"
    if not log.is_file():
        return 0
    return sum(1 for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.startswith("{"))


def log_tail(path: Path, lines: int = 8) -> str:
    """The last lines of a training log, progress-bar redraws removed."""
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r", "\n") if path.is_file() else ""
    return "\n".join([x for x in text.splitlines() if x.strip() and "it/s" not in x][-lines:])


def train_members(config_path: str, overrides: list[str], config: RecipeConfig, resume: bool,
                  poll_s: float = 5.0) -> list[Path]:
    """Run the K member trainings at once; returns their model files (see `member_model`).

    Raises `EnsembleTrainingError` naming the member and the end of its log when one fails
    (the others are stopped; `--resume` continues all of them).
    """
    from tqdm import tqdm

    k_members = config.train.ensemble
    threads = config.train.threads or max(1, available_cores() // k_members)
    procs = []
    for k in range(k_members):
        folder = member_dir(config, k)
        folder.mkdir(parents=True, exist_ok=True)
        log = (folder / "train.log").open("a" if resume else "w", encoding="utf-8")
        procs.append((k, folder, subprocess.Popen(
            member_command(config_path, overrides, config, k, threads, resume),
            stdout=log, stderr=subprocess.STDOUT)))
        log.close()
    print(f"ensemble: {k_members} members (seeds {config.seed}..{config.seed + k_members - 1}) side by side, "
          f"{threads} thread(s) each; logs in {config.out_dir}/member-*/train.log", file=sys.stderr)
    total = k_members * config.train.epochs
    bar = tqdm(total=total, desc="ensemble epochs", unit="epoch", file=sys.stderr, disable=not sys.stderr.isatty())
    try:
        while True:
            bar.n = min(total, sum(epochs_done(folder) for _, folder, _ in procs))
            bar.refresh()
            failed = [(k, folder, p.returncode) for k, folder, p in procs if p.poll() not in (None, 0)]
            if failed:
                k, folder, code = failed[0]
                raise EnsembleTrainingError(f"ensemble member {k} failed (exit {code}); end of "
                                            f"{folder / 'train.log'}:\n{log_tail(folder / 'train.log')}")
            if all(p.poll() == 0 for *_, p in procs):
                break
            time.sleep(poll_s)
    finally:
        bar.close()
        for *_, p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
    return [member_model(folder) for _, folder, _ in procs]


def evaluate_ensemble(config: RecipeConfig, models: list[Path]) -> dict[str, float]:
    """Greedy WER/CER (percent) of the members' ensemble on each dev set: `{NAME_wer, NAME_cer}`."""
    from recog.evaluate import evaluate
    from recog.inference import load_acoustic_model
    from recog.inference.decoding import greedy_decoder

    model = load_acoustic_model(models)
    record: dict[str, float] = {}
    for manifest in config.data.dev:
        result = evaluate(model, config.resolve(manifest), greedy_decoder(model.alphabet, model.frame_rate),
                          progress=False)
        name = Path(manifest).stem
        record[f"{name}_wer"], record[f"{name}_cer"] = round(result.wer, 2), round(result.cer, 2)
    return record


def train_ensemble(config_path: str, overrides: list[str], config: RecipeConfig, resume: bool) -> dict[str, Any]:
    """Train the members, evaluate their ensemble, write `OUT_DIR/ensemble.json`; returns its record."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise EnsembleTrainingError("train.ensemble > 1 runs its members as separate processes; "
                                    "do not start it under torchrun (or set train.ensemble=1)")
    start = time.time()
    models = train_members(config_path, overrides, config, resume)
    record: dict[str, Any] = {"members": [str(m) for m in models],
                              "seeds": [config.seed + k for k in range(len(models))],
                              "minutes": round((time.time() - start) / 60, 2)}
    record.update(evaluate_ensemble(config, models))
    out = Path(config.out_dir) / "ensemble.json"
    out.write_text(json.dumps(record) + "\n")
    print(f"ensemble of {len(models)}: {record}; written to {out}", file=sys.stderr)
    return record
