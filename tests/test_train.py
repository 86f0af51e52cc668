"""Training end to end on a generated tone corpus: overfit, checkpoints, resume."""

import json

import torch

from recog.config import load_config
from recog.model.checkpoint import load_model, load_state
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


def test_log_records_throughput_and_tensorboard_is_optional(tmp_path, tone_corpus, monkeypatch):
    import sys
    import types

    from recog.train.progress import MetricsLog

    Trainer(_config(tmp_path, tone_corpus, epochs=2, name="plain")).run()
    logs = [json.loads(line) for line in (tmp_path / "plain" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in logs] == [1, 2]
    assert all(r["frames_per_s"] > 0 and r["epoch_s"] > 0 and r["time"].endswith("+00:00") for r in logs)
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        assert not (tmp_path / "plain" / "tensorboard").exists()

    written = []

    class FakeWriter:  # stands in for tensorboard's SummaryWriter
        def __init__(self, log_dir):
            written.append(("dir", log_dir))

        def add_scalar(self, tag, value, step):
            written.append((tag, value, step))

        def flush(self):
            pass

        def close(self):
            written.append(("closed",))

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=FakeWriter))
    (tmp_path / "tb").mkdir()
    log = MetricsLog(tmp_path / "tb")
    log.step(3, {"train/loss": 1.5})
    log.epoch({"epoch": 1, "step": 3, "loss": 1.5, "best_wer": None, "time": "x"})
    log.close()
    assert written == [("dir", str(tmp_path / "tb" / "tensorboard")), ("train/loss", 1.5, 3),
                       ("epoch/epoch", 1, 3), ("epoch/loss", 1.5, 3), ("closed",)]
    assert MetricsLog(tmp_path / "quiet", enabled=False).writer is None  # ranks other than 0


def test_device_helpers_are_no_ops_on_cpu_and_tune_cuda():
    import contextlib
    import os

    from recog.train.device import autocast, loader_workers, pin_memory

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert loader_workers(cpu, -1) == 0 and loader_workers(cpu, 3) == 3
    assert not pin_memory(cpu) and pin_memory(cuda)
    assert isinstance(autocast(cpu, "auto"), contextlib.nullcontext)
    cpus = len(os.sched_getaffinity(0))
    assert loader_workers(cuda, -1, ranks_on_node=1) == max(0, min(4, cpus - 1))
    assert loader_workers(cuda, -1, ranks_on_node=cpus) == 0
