"""Exact resume: a run killed mid-epoch (SIGKILL) and resumed ends where an uninterrupted run ends."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from recog.cli import main
from recog.config import load_config
from recog.data.manifest import read_manifest
from recog.data.shards import load_index, write_shards
from recog.model.checkpoint import load_state
from recog.train.checkpoint import step_checkpoints
from recog.train.trainer import Trainer

from .conftest import ROOT, tone_config_toml

EPOCHS = 8
# Batches of 1-2 utterances (6 steps per epoch), a checkpoint every 2 steps, and random
# augmentation and dropout, whose random streams the resumed run must reproduce.
EXTRA = """max_frames = 100
checkpoint_every_steps = 2
{keep}
[augment]
speed = [0.9, 1.1]
gain_db = [-6.0, 6.0]
noise_prob = 0.5
freq_masks = 1
time_masks = 1
time_mask_width = 5
"""


def _config_path(tmp_path, manifest, name, keep="", epochs=EPOCHS):
    path = tmp_path / f"{name}.toml"
    text = tone_config_toml(manifest, tmp_path / name, epochs, EXTRA.format(keep=keep))
    path.write_text(text.replace("max_frames = 250\n", "").replace("dropout = 0.0", "dropout = 0.3"))
    return path


def _assert_same_model(a_path, b_path):
    a, b = load_state(a_path), load_state(b_path)
    assert a["step"] == b["step"]
    for key in a["model"]:
        assert torch.allclose(a["model"][key], b["model"][key], atol=1e-6, rtol=0), key


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, tone_corpus):
    full = Trainer(load_config(_config_path(tmp_path, tone_corpus, "full")))
    assert full.steps_per_epoch > 2  # the first step checkpoint (step 2) is mid-epoch
    full.run()
    kept = step_checkpoints(tmp_path / "full")  # keep_checkpoints = 3 by default
    assert [int(p.stem.split("-")[1]) for p in kept] == [full.step, full.step - 2, full.step - 4]
    assert kept[0].read_bytes() == (tmp_path / "full" / "last.pt").read_bytes()

    cfg = _config_path(tmp_path, tone_corpus, "killed")
    _kill_after_first_checkpoint(cfg, tmp_path / "killed", full.step)
    assert main(["train", str(cfg), "--resume"]) == 0
    _assert_same_model(tmp_path / "full" / "last.pt", tmp_path / "killed" / "last.pt")
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, EPOCHS + 1))  # no epoch logged twice


def _kill_after_first_checkpoint(cfg, out_dir, final_step, overrides=()):
    """Run `recog train cfg` in a process and SIGKILL it once it has written its first checkpoint."""
    # last.pt is linked to a step checkpoint just after it is written: wait for the link, so the kill
    # never falls between the two (a run killed there resumes from the step file; tested below)
    first = out_dir / "last.pt"
    log_path = out_dir.with_suffix(".log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "recog", "train", str(cfg), *overrides], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.time() + 120
        while not first.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, log_path.read_text()[-2000:]
    at_kill = load_state(first)
    assert 2 <= at_kill["step"] < final_step  # interrupted before the end
    print("killed at step", at_kill["step"], "batch", at_kill["batch_in_epoch"], "of epoch", at_kill["epoch"])


@pytest.mark.parametrize("source", ["manifest", "shards"])
def test_sigkill_with_loader_workers_then_resume_matches(tmp_path, tone_corpus, source):
    # Batches are built by 2 worker processes (the resumed run: by 1); their augmentation is
    # seeded per batch, and a shard stream restarts at the recorded batch by replaying its plan.
    train = tone_corpus
    if source == "shards":
        train = write_shards(read_manifest(tone_corpus), tmp_path / "shards", shard_mb=0.03, progress=False).index
        assert len(load_index(train).shards) >= 2

    def config(name):
        path = _config_path(tmp_path, train, name, epochs=3)
        path.write_text(path.read_text().replace(f'dev = ["{train}"]', f'dev = ["{tone_corpus}"]'))
        return path

    full = Trainer(load_config(config("full"), ["train.num_workers=2"]))
    assert full.train.sharded == (source == "shards") and full.steps_per_epoch > 2
    full.run()
    cfg = config("killed")
    _kill_after_first_checkpoint(cfg, tmp_path / "killed", full.step, ["--set", "train.num_workers=2"])
    assert main(["train", str(cfg), "--resume", "--set", "train.num_workers=1"]) == 0
    _assert_same_model(tmp_path / "full" / "last.pt", tmp_path / "killed" / "last.pt")


def test_damaged_checkpoints_are_reported_and_an_older_one_resumes_mid_epoch(tmp_path, tone_corpus, capsys):
    full = Trainer(load_config(_config_path(tmp_path, tone_corpus, "full", keep="keep_checkpoints = 0")))
    full.run()
    steps = [int(p.stem.split("-")[1]) for p in step_checkpoints(tmp_path / "full")]
    assert steps == list(range(full.step, 0, -2))  # keep_checkpoints = 0 keeps them all

    # A run that died after step 4 (mid-epoch 1) whose last.pt and step-4 checkpoint are both truncated.
    part = tmp_path / "part"
    (part / "checkpoints").mkdir(parents=True)
    for step in (2, 4):
        data = (tmp_path / "full" / "checkpoints" / f"step-{step:08d}.pt").read_bytes()
        (part / "checkpoints" / f"step-{step:08d}.pt").write_bytes(data if step == 2 else data[: len(data) // 2])
    (part / "last.pt").write_bytes(data[: len(data) // 3])
    capsys.readouterr()
    resumed = Trainer(load_config(_config_path(tmp_path, tone_corpus, "part", keep="keep_checkpoints = 0")), resume=True)
    err = capsys.readouterr().err
    assert f"{part / 'last.pt'}: unreadable checkpoint" in err
    assert f"{part / 'checkpoints' / 'step-00000004.pt'}: unreadable checkpoint" in err
    assert (resumed.epoch, resumed.batch_in_epoch, resumed.step) == (0, 2, 2)  # mid-epoch, from step-2
    resumed.run()
    _assert_same_model(tmp_path / "full" / "last.pt", part / "last.pt")


def test_rng_states_survive_a_checkpoint(tmp_path):
    import random

    import numpy as np

    from recog.train import rng

    torch.save(rng.capture(), tmp_path / "rng.pt")
    expected = (random.random(), np.random.rand(), torch.rand(3))
    rng.restore(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (random.random(), np.random.rand(), torch.rand(3))
    assert expected[:2] == again[:2] and torch.equal(expected[2], again[2])
    assert rng.batch_seed(0, 1, 2, rng.AUGMENT) != rng.batch_seed(0, 1, 3, rng.AUGMENT) != rng.batch_seed(0, 1, 2, rng.DROPOUT)


def test_loader_workers_build_the_same_augmented_batches(tmp_path, tone_corpus):
    # Augmentation is seeded per (epoch, batch): worker processes reproduce the in-process run.
    # (Workers compute features with 1 intra-op thread; so does the main process here, because a
    # different thread count changes float rounding, though not the random draws.)
    runs = {}
    for workers in (0, 2):
        overrides = ["train.epochs=2", f"train.num_workers={workers}", "train.threads=1"]
        cfg = load_config(_config_path(tmp_path, tone_corpus, f"w{workers}"), overrides)
        Trainer(cfg).run()
        runs[workers] = tmp_path / f"w{workers}" / "last.pt"
    _assert_same_model(runs[0], runs[2])
