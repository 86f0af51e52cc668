"""`recog bench gpu` (make gpu-check) where no GPU is needed: the loss checks, the arguments,
the no-GPU exit, and the check's own training loop run on the CPU (one process, and two
DDP ranks over gloo, which must train exactly like one process taking both batches)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from recog.bench.gpu_check import (
    NO_GPU_EXIT,
    GpuCheckOptions,
    compare_curves,
    loss_falls,
    summary_lines,
    window_means,
)
from recog.cli import main

from .conftest import ROOT

CONFIG = str(ROOT / "pipelines" / "digits" / "config.toml")
# A model small enough for seconds on a CPU; dropout 0 makes the run and its reference the same computation.
TINY = ["model.conv_channels=16", "model.lstm_layers=1", "model.hidden_size=24", "model.dropout=0.0",
        "train.max_frames=1500", "train.warmup_steps=2", "train.lr=1e-2", "train.threads=1"]


def test_window_means_drop_the_partial_window() -> None:
    assert window_means([1, 2, 3, 4, 5, 6, 7], 3) == [2.0, 5.0]
    with pytest.raises(ValueError, match="window must be >= 1"):
        window_means([1.0], 0)


def test_compare_curves_by_window_with_a_relative_tolerance() -> None:
    cpu = [4.0 - 0.1 * k for k in range(20)]
    same = compare_curves(cpu, cpu, window=5, rel_tol=0.01)
    assert same.ok and same.worst == 0.0 and [w[0] for w in same.windows] == [0, 5, 10, 15]
    off = compare_curves([1.1 * x for x in cpu], cpu, window=5, rel_tol=0.05)
    assert not off.ok and off.worst == pytest.approx(0.1, rel=1e-9)
    assert compare_curves([1.1 * x for x in cpu], cpu, window=5, rel_tol=0.15).ok
    # a GPU run longer than the reference is compared over the reference's steps only
    longer = compare_curves(cpu + [100.0] * 30, cpu, window=5, rel_tol=0.01)
    assert longer.ok and len(longer.windows) == 4
    # noise on single steps averages out within a window
    noisy = [x + (0.3 if k % 2 else -0.3) for k, x in enumerate(cpu)]
    assert compare_curves(noisy, cpu, window=10, rel_tol=0.05).ok
    bad = compare_curves([math.nan] + cpu[1:], cpu, window=5, rel_tol=1.0)
    assert not bad.ok and bad.worst == math.inf
    assert not compare_curves(cpu[:3], cpu, window=5, rel_tol=1.0).ok  # no full window: nothing shown equal


def test_loss_falls() -> None:
    ok, first, last = loss_falls([5.0] * 10 + [3.0] * 10 + [2.0] * 10, window=10, ratio=0.5)
    assert ok and (first, last) == (5.0, 2.0)
    assert not loss_falls([5.0] * 20, window=10, ratio=0.9)[0]
    assert not loss_falls([5.0] * 10 + [math.inf] * 10, window=10, ratio=0.9)[0]
    with pytest.raises(ValueError, match="two windows"):
        loss_falls([1.0] * 15, window=10, ratio=0.5)


@pytest.mark.parametrize(("args", "message"), [
    (["--steps", "15"], "--steps must be at least twice --window"),
    (["--cpu-steps", "300"], "--cpu-steps must be between --window and --steps"),
    (["--rel-tol", "0"], "--rel-tol must be > 0"),
    (["--fall-ratio", "1.5"], "--fall-ratio in"),
    (["--batches", "0"], "--batches and --peak-size must be >= 1"),
])
def test_bad_arguments_are_refused_before_anything_runs(args: list[str], message: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "gpu", *args]) == 2
    assert message in capsys.readouterr().err


def test_no_gpu_is_a_clear_nonzero_exit(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["bench", "gpu"]) == NO_GPU_EXIT
    err = capsys.readouterr().err
    assert err.startswith("no GPU: torch.cuda.is_available() is False") and "nothing was trained" in err


def test_parsing_the_command_line_does_not_import_torch() -> None:
    code = ("import sys; from recog.cli import build_parser; build_parser().parse_args(['bench', 'gpu']); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_check_runs_on_cpu_and_matches_its_reference(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole check on the CPU, one process: with dropout 0 the run and its CPU reference are
    the same computation, so their curves agree to rounding, and the loss falls."""
    out = tmp_path / "report.json"
    args = ["bench", "gpu", CONFIG, "--device", "cpu", "--synthetic", "--steps", "16", "--cpu-steps", "8", "--window", "4",
            "--batches", "4", "--fall-ratio", "0.95", "--peak-size", "64", "--json", str(out)]
    assert main(args + [a for o in TINY for a in ("--set", o)]) == 0
    report = json.loads(out.read_text())
    assert report["ok"] and report["curve_worst"] < 1e-5
    assert report["ranks"] == 1 and report["ddp"] == "off" and report["device"] == "cpu"
    assert len(report["losses"]) == 16 and len(report["cpu_losses"]) == 8
    assert report["losses"][:8] == pytest.approx(report["cpu_losses"], rel=1e-5)
    assert report["timed_steps"] == 12 and report["frames_per_s"] > 0 and 0 < report["peak_fraction"]
    text = capsys.readouterr().out
    assert "gpu-check: ok" in text and "loss falls" in text
    assert summary_lines(report)[-1] == "gpu-check: ok"


def test_two_ddp_ranks_train_like_one_process_with_both_batches(tmp_path) -> None:
    """torchrun, 2 ranks over gloo on the CPU: each rank takes one batch per step; rank 0's
    reference takes both in one process. Same gradients, so the same curve."""
    out = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "recog",
           "bench", "gpu", CONFIG, "--device", "cpu", "--synthetic", "--steps", "8", "--cpu-steps", "8", "--window", "4",
           "--batches", "3", "--fall-ratio", "1.0", "--peak-size", "64", "--json", str(out)]
    proc = subprocess.run(cmd + [a for o in TINY for a in ("--set", o)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["ranks"] == 2 and report["ddp"] == "gloo"
    assert report["losses"] == pytest.approx(report["cpu_losses"], rel=1e-5)


def test_options_defaults_are_the_documented_check() -> None:
    d = GpuCheckOptions()
    assert (d.steps, d.config.as_posix()) == (200, "pipelines/digits/config.toml")
    d.validate()
