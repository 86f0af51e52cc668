"""`train.ensemble = K`: K runs of one recipe with seeds seed, seed+1, ..., each its own run.

Member k trains into OUT_DIR/seed<seed+k>/ exactly as `recog train` would with that seed
(checkpoints, logs, resume), in a child process whose output goes to
OUT_DIR/logs/seed<seed+k>.log. `train.ensemble_jobs` members run side by side, the machine's
cores split between them (unless `train.threads` says otherwise); the rest wait their turn.
A member that finished is recorded in OUT_DIR/ensemble.json and not run again (a folder that
already holds a whole run of that seed is adopted as it is); one that was interrupted resumes
from its last checkpoint. A member that fails is reported with the tail
of its log, and the others still run. `recog export` of the members' checkpoints then writes
one ensemble graph (`recog.model.ensemble`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recog.config import RecipeConfig

MANIFEST = "ensemble.json"


@dataclass
class Member:
    """One run of the ensemble.

    Attributes:
        seed: its random seed.
        out_dir: its run folder (OUT_DIR/seed<seed>).
        log: the file its output goes to.
    """

    seed: int
    out_dir: Path
    log: Path

    def checkpoint(self) -> Path:
        """The weights to export: the averaged last epochs when the recipe averages, else the best epoch."""
        averaged = self.out_dir / "averaged.pt"
        return averaged if averaged.is_file() else self.out_dir / "best.pt"


def members(config: RecipeConfig) -> list[Member]:
    """The K members of `config` (K = train.ensemble), seeds config.seed .. config.seed + K - 1."""
    root = Path(config.out_dir)
    return [Member(s, root / f"seed{s}", root / "logs" / f"seed{s}.log")
            for s in range(config.seed, config.seed + config.train.ensemble)]


def read_manifest(root: Path) -> dict[str, Any]:
    """OUT_DIR/ensemble.json ({"members": {seed: record}}), empty when absent or unreadable."""
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        return data if isinstance(data.get("members"), dict) else {"members": {}}
    except (OSError, ValueError, AttributeError):
        return {"members": {}}


def write_manifest(root: Path, data: dict[str, Any]) -> None:
    """Write OUT_DIR/ensemble.json atomically."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{MANIFEST}.tmp{os.getpid()}"
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, root / MANIFEST)


def finished_run(member: Member, config: RecipeConfig) -> bool:
    """Whether the member's folder already holds a whole run of the recipe with its seed (trained
    before, or by hand with the same seed and out_dir): its log reached `train.epochs`, when the
    recipe averages `averaged.pt` was written, and the checkpoint names the member's seed. Such
    a run is adopted without training it again."""
    log = member.out_dir / "log.jsonl"
    try:
        lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
        last_epoch = json.loads(lines[-1]).get("epoch", 0) if lines else 0
    except (OSError, ValueError, AttributeError):
        return False
    averaged = config.train.average_last == 0 or (member.out_dir / "averaged.pt").is_file()
    if last_epoch < config.train.epochs or not averaged:
        return False
    from recog.model.checkpoint import CheckpointError, load_state

    try:  # a run of another seed in that folder is not this member
        return load_state(member.checkpoint()).get("config", {}).get("seed") == member.seed
    except CheckpointError:
        return False


def member_command(config_path: str | Path, overrides: list[str], member: Member, threads: int) -> list[str]:
    """The `recog train` command line of one member (resuming when it has a checkpoint)."""
    cmd = [sys.executable, "-m", "recog", "train", str(config_path)]
    for text in overrides:
        cmd += ["--set", text]
    cmd += ["--set", "train.ensemble=1", "--set", f"seed={member.seed}", "--set", f"out_dir={member.out_dir}"]
    if threads > 0:
        cmd += ["--set", f"train.threads={threads}"]
    if (member.out_dir / "last.pt").exists() or any((member.out_dir / "checkpoints").glob("*.pt")):
        cmd.append("--resume")
    return cmd


def log_tail(path: Path, lines: int = 15) -> str:
    """The last `lines` lines of a log (progress-bar carriage returns folded), for error reports."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").replace("\r", "\n")
    except OSError:
        return "(no log)"
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def threads_per_member(config: RecipeConfig, jobs: int) -> int:
    """train.threads when set, else the cores split evenly between the members running at once."""
    if config.train.threads > 0:
        return config.train.threads
    return max(1, (os.cpu_count() or 1) // jobs)


def run_ensemble(config_path: str | Path, overrides: list[str], config: RecipeConfig,
                 echo=print) -> dict[str, Any]:
    """Train every member not yet finished; returns the manifest ({"members": {...}, "failed": [...]}).

    `echo` receives one line per member started, finished or failed (to stderr by default
    in the CLI). Raises nothing for a failing member: it is listed under "failed" with its log.
    """
    root = Path(config.out_dir)
    todo = members(config)
    manifest = read_manifest(root)
    done = manifest["members"]
    jobs = max(1, min(config.train.ensemble_jobs, len(todo)))
    threads = threads_per_member(config, jobs)
    for m in todo:
        if done.get(str(m.seed), {}).get("status") != "done" and finished_run(m, config):
            done[str(m.seed)] = {"status": "done", "out_dir": str(m.out_dir), "checkpoint": str(m.checkpoint()),
                                 "adopted": True}
            write_manifest(root, manifest)
    queue = [m for m in todo if done.get(str(m.seed), {}).get("status") != "done"]
    for m in todo:
        if m not in queue:
            echo(f"member seed {m.seed}: already trained ({m.checkpoint()})")
    running: list[tuple[Member, subprocess.Popen, float, Any]] = []
    failed: list[dict[str, Any]] = []
    wall = time.monotonic()
    while queue or running:
        while queue and len(running) < jobs:
            member = queue.pop(0)
            member.log.parent.mkdir(parents=True, exist_ok=True)
            handle = member.log.open("a", encoding="utf-8")
            cmd = member_command(config_path, overrides, member, threads)
            echo(f"member seed {member.seed}: training into {member.out_dir} ({threads} threads; log {member.log})"
                 + (" [resuming]" if "--resume" in cmd else ""))
            proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
            running.append((member, proc, time.monotonic(), handle))
        time.sleep(0.5)
        for item in list(running):
            member, proc, started, handle = item
            code = proc.poll()
            if code is None:
                continue
            running.remove(item)
            handle.close()
            minutes = round((time.monotonic() - started) / 60, 2)
            if code == 0:
                done[str(member.seed)] = {"status": "done", "out_dir": str(member.out_dir),
                                          "checkpoint": str(member.checkpoint()), "minutes": minutes}
                write_manifest(root, manifest)
                echo(f"member seed {member.seed}: done in {minutes} min")
            else:
                failed.append({"seed": member.seed, "exit_code": code, "log": str(member.log)})
                echo(f"member seed {member.seed}: FAILED (exit code {code}); its log {member.log} ends:\n"
                     + log_tail(member.log))
    manifest["failed"] = failed
    manifest["last_call_minutes"] = round((time.monotonic() - wall) / 60, 2)
    write_manifest(root, manifest)
    return manifest


def export_command(config: RecipeConfig, manifest: dict[str, Any]) -> str:
    """The `recog export` line that writes the trained members as one ensemble graph."""
    paths = [manifest["members"][str(m.seed)]["checkpoint"] for m in members(config)
             if str(m.seed) in manifest["members"]]
    return "recog export " + " ".join(paths) + f" -o {Path(config.out_dir) / 'model.onnx'}"
