"""Checkpoint averaging: the library, the trainer's `train.average_last`, and `recog average`."""

import json

import pytest
import torch

from recog.cli import main as cli
from recog.config import load_config
from recog.model.checkpoint import CheckpointError, load_model, load_state
from recog.train.average import average_states, epoch_checkpoints
from recog.train.checkpoint import save_checkpoint
from recog.train.trainer import Trainer

from .conftest import tone_config_toml


def _run(tmp_path, manifest, name, epochs, extra=""):
    path = tmp_path / f"{name}.toml"
    path.write_text(tone_config_toml(manifest, tmp_path / name, epochs, extra))
    return Trainer(load_config(path)).run()


def test_trainer_keeps_last_epochs_and_writes_their_validated_mean(tmp_path, tone_corpus):
    _run(tmp_path, tone_corpus, "avg", epochs=4, extra="average_last = 3")
    out = tmp_path / "avg"
    kept = epoch_checkpoints(out)
    assert [e for e, _ in kept] == [2, 3, 4]
    weights = [load_state(p)["model"] for _, p in kept]
    averaged = load_state(out / "averaged.pt")
    for key, value in averaged["model"].items():
        if value.is_floating_point():
            expected = sum(w[key].double() for w in weights) / 3
            assert torch.allclose(value.double(), expected, atol=1e-7), key
    assert "optimizer" not in averaged
    record = json.loads((out / "averaged.json").read_text())
    assert record["averaged_epochs"] == [2, 3, 4] and 0.0 <= record["train_cer"] <= 100.0
    assert averaged["metrics"] == record
    model, config, alphabet, _ = load_model(out / "averaged.pt")  # loads like any checkpoint
    assert config.train.average_last == 3 and alphabet.to_string() == " abcd"


def test_fresh_run_removes_an_earlier_runs_epoch_weights(tmp_path, tone_corpus):
    _run(tmp_path, tone_corpus, "again", epochs=3, extra="average_last = 2")
    assert [e for e, _ in epoch_checkpoints(tmp_path / "again")] == [2, 3]
    _run(tmp_path, tone_corpus, "again", epochs=2, extra="average_last = 1")
    assert [e for e, _ in epoch_checkpoints(tmp_path / "again")] == [2]
    # one epoch is nothing to average: no averaged.pt, and the earlier one is gone
    assert not (tmp_path / "again" / "averaged.pt").exists()


def test_average_rejects_mismatched_checkpoints_naming_the_file(tmp_path):
    base = {"format": "recog-checkpoint-1", "config": {}, "alphabet": " ab"}
    save_checkpoint(tmp_path / "a.pt", {**base, "model": {"w": torch.ones(2, 3)}})
    save_checkpoint(tmp_path / "b.pt", {**base, "model": {"w": torch.zeros(3, 3)}})
    save_checkpoint(tmp_path / "c.pt", {**base, "model": {"v": torch.zeros(2, 3)}})
    with pytest.raises(CheckpointError, match=r"b\.pt: w has shape \(3, 3\)"):
        average_states([tmp_path / "a.pt", tmp_path / "b.pt"])
    with pytest.raises(CheckpointError, match=r"c\.pt: its weights have other names"):
        average_states([tmp_path / "a.pt", tmp_path / "c.pt"])
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert cli(["average", str(tmp_path / "a.pt"), str(tmp_path / "bad.pt"), "-o", str(tmp_path / "o.pt")]) == 1
    assert not (tmp_path / "o.pt").exists()


def test_cli_average_of_two_checkpoints(tmp_path):
    base = {"format": "recog-checkpoint-1", "config": {}, "alphabet": " ab", "epoch": 7}
    save_checkpoint(tmp_path / "a.pt", {**base, "model": {"w": torch.ones(2), "n": torch.tensor(3)},
                                        "optimizer": {}})
    save_checkpoint(tmp_path / "b.pt", {**base, "model": {"w": torch.full((2,), 3.0), "n": torch.tensor(5)}})
    assert cli(["average", str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "-o", str(tmp_path / "m.pt")]) == 0
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    assert torch.equal(state["model"]["w"], torch.full((2,), 2.0)) and int(state["model"]["n"]) == 5
    assert state["epoch"] == 7 and "optimizer" not in state
