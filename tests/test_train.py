"""Training end to end on a generated tone corpus: overfit, checkpoints, resume."""

import json

import torch

from recog.config import load_config
from recog.train.checkpoint import load_model, load_state
from recog.train.trainer import Trainer

from .conftest import tone_config_toml


def _config(tmp_path, manifest, epochs, name="run", extra=""):
    path = tmp_path / f"{name}.toml"
    path.write_text(tone_config_toml(manifest, tmp_path / name, epochs, extra))
    return load_config(path)


def test_tiny_model_overfits_to_exact_transcripts(tmp_path, tone_corpus):
    record = Trainer(_config(tmp_path, tone_corpus, epochs=80)).run()
    assert record["train_wer"] == 0.0 and record["train_cer"] == 0.0, record
    model, config, alphabet, state = load_model(tmp_path / "run" / "best.pt")
    assert alphabet.to_string() == " abcd" and config.model.vocab_size == 6
    logs = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert logs[0]["loss"] > logs[-1]["loss"]


def test_checkpoint_loads_weights_only_and_resume_matches(tmp_path, tone_corpus):
    full = Trainer(_config(tmp_path, tone_corpus, epochs=4, name="full"))
    full.run()
    part = Trainer(_config(tmp_path, tone_corpus, epochs=4, name="part", extra="max_minutes = 1e-9"))
    part.run()  # stops after its first epoch
    assert part.epoch == 1
    resumed = Trainer(_config(tmp_path, tone_corpus, epochs=4, name="part"), resume=True)
    assert resumed.epoch == 1 and resumed.step == part.step
    resumed.run()
    a = load_state(tmp_path / "full" / "last.pt")["model"]
    b = load_state(tmp_path / "part" / "last.pt")["model"]
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    # plain torch.load with weights_only=True works on our files
    state = torch.load(tmp_path / "full" / "best.pt", weights_only=True)
    assert state["format"] == "recog-checkpoint-1" and "optimizer" in state
