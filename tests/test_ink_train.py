"""Ink end to end: a tiny model overfits generated lines, exports to ONNX, and the runtime reads ink."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recog.config import load_config
from recog.model.checkpoint import load_model
from recog.train.trainer import Trainer

from . import ink_support
from .conftest import ROOT
from .ink_support import INK_ALPHABET, write_ink_corpus

iam_dir = ink_support.iam_dir  # fixture: the shared IAM-OnDB folder, or skip

TEXTS = ["lox", "ci lo", "xoc", "il x", "cool", "oxi", "lc io", "xl"]


def ink_config_toml(manifest: Path, out_dir: Path, epochs: int, extra: str = "") -> str:
    """A tiny ink recipe that overfits the generated lines in seconds on CPU."""
    return f"""
name = "ink-tiny"
out_dir = "{out_dir}"
seed = 0
[data]
modality = "ink"
train = ["{manifest}"]
dev = ["{manifest}"]
[text]
alphabet = "{INK_ALPHABET}"
[ink_features]
spacing = 0.2
[model]
subsampling = 2
conv_channels = 32
lstm_layers = 1
hidden_size = 48
dropout = 0.0
[train]
epochs = {epochs}
max_frames = 160
lr = 1e-2
warmup_steps = 5
threads = 1
{extra}
"""


@pytest.fixture(scope="module")
def ink_run(tmp_path_factory) -> Path:
    """Train the tiny ink recipe once; returns its output folder (best.pt, ...)."""
    root = tmp_path_factory.mktemp("ink")
    manifest = write_ink_corpus(root, TEXTS)
    cfg = root / "ink.toml"
    cfg.write_text(ink_config_toml(manifest, root / "exp", epochs=120))
    record = Trainer(load_config(cfg)).run()
    assert record["train_cer"] == 0.0 and record["train_wer"] == 0.0, record
    return root


def test_tiny_model_overfits_generated_ink(ink_run):
    model, config, alphabet, _ = load_model(ink_run / "exp" / "best.pt")
    assert config.data.modality == "ink"
    assert model.config.input_dim == config.ink_features.dim == 8
    logs = [json.loads(line) for line in (ink_run / "exp" / "log.jsonl").read_text().splitlines()]
    assert logs[0]["loss"] > 5 * logs[-1]["loss"]


@pytest.fixture(scope="module")
def ink_onnx(ink_run) -> Path:
    """The tiny ink model exported to ONNX (parity-checked by the exporter)."""
    from recog.export import export_onnx

    report = export_onnx(ink_run / "exp" / "best.pt", ink_run / "model.onnx", parity_batches=(1, 3))
    assert report.info.modality == "ink" and report.info.features == load_model(ink_run / "exp" / "best.pt")[1].ink_features
    assert report.info.frame_rate == 0.5  # one output frame per two feature vectors
    return report.path


def test_runtime_transcribes_ink_files_without_torch(ink_run, ink_onnx):
    files = [str(ink_run / "ink" / f"train_{i}.json") for i in range(len(TEXTS))]
    code = f"""
import sys
from recog.runtime import Recognizer, read_model_info
from recog.features.ink import InkFeatureConfig, load_ink
info = read_model_info({str(ink_onnx)!r})
assert info.modality == "ink" and isinstance(info.features, InkFeatureConfig), info
rec = Recognizer.from_onnx({str(ink_onnx)!r}, threads=1)
out = rec.transcribe({files!r})
assert [t.text for t in out] == {TEXTS!r}, [t.to_row() for t in out]
inks = rec.transcribe([load_ink(f) for f in {files[:2]!r}])
assert [t.text for t in inks] == {TEXTS[:2]!r}
bad = rec.transcribe([{str(ink_run / "missing.json")!r}])[0]
assert bad.error and "missing.json" in bad.error, bad
assert "torch" not in sys.modules, "torch imported"
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_cli_evaluate_transcribe_and_render_ink(ink_run, ink_onnx, tmp_path, capsys):
    from recog.cli import main

    manifest = str(ink_run / "train.jsonl")
    for model in (str(ink_onnx), str(ink_run / "exp" / "best.pt")):
        assert main(["evaluate", "--model", model, manifest, "--json"]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["cer"] == 0.0 and summary["utterances"] == len(TEXTS), summary
    out = tmp_path / "out.jsonl"
    assert main(["transcribe", "--model", str(ink_onnx), manifest, "-o", str(out), "--quiet-progress"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == TEXTS and all(r["words"] for r in rows)
    assert main(["transcribe", "--model", str(ink_onnx), str(ink_run / "ink"), "--text-only", "--quiet-progress"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(TEXTS)  # a folder: its .json inks
    png = tmp_path / "ink.png"
    assert main(["render", str(ink_run / "ink" / "train_1.json"), "-o", str(png), "--model", str(ink_onnx)]) == 0
    assert capsys.readouterr().out.strip() == TEXTS[1]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000


def test_audio_model_refuses_an_ink_manifest(ink_run):
    from recog.runtime import AUDIO, Recognizer
    from recog.runtime.evaluation import evaluate

    recognizer = Recognizer.load(ink_run / "exp" / "best.pt")
    recognizer.modality = AUDIO
    with pytest.raises(ValueError, match="ink row"):
        evaluate(recognizer, ink_run / "train.jsonl", progress=False)


def test_tiny_model_overfits_four_real_lines(iam_dir, tmp_path):
    from recog.prepare.iam_ondb import prepare_iam_ondb

    prepare_iam_ondb(iam_dir, tmp_path / "data")
    rows = (tmp_path / "data" / "val2.jsonl").read_text().splitlines()[:4]
    (tmp_path / "four.jsonl").write_text(
        "".join(json.dumps({**json.loads(r), "ink_filepath": str(tmp_path / "data" / json.loads(r)["ink_filepath"])}) + "\n"
                for r in rows))
    cfg = tmp_path / "four.toml"
    cfg.write_text(f"""
name = "four"
out_dir = "{tmp_path / 'exp'}"
[data]
modality = "ink"
train = ["{tmp_path / 'four.jsonl'}"]
dev = ["{tmp_path / 'four.jsonl'}"]
[model]
subsampling = 2
conv_channels = 64
lstm_layers = 1
hidden_size = 96
dropout = 0.0
[train]
epochs = 120
max_frames = 900
lr = 1e-2
warmup_steps = 10
threads = 1
""")
    record = Trainer(load_config(cfg)).run()
    assert record["four_cer"] == 0.0 and record["four_wer"] == 0.0, record


def test_bench_runtime_reports_ink_lines_per_second(ink_run, ink_onnx, tmp_path, capsys):
    from recog.cli import main

    out = tmp_path / "runtime.json"
    assert main(["bench", "runtime", "--model", str(ink_onnx), "--manifest", str(ink_run / "train.jsonl"),
                 "--threads", "1", "--repeats", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    # The tiny recipe's train manifest is on this machine, so the beam + word LM rows run too.
    assert sorted(report["speed"]) == ["onnx-fp32/beam+lm", "onnx-fp32/greedy", "onnx-int8/beam+lm", "onnx-int8/greedy"]
    fp32 = report["speed"]["onnx-fp32/greedy"]
    assert fp32["rtf"] is None and fp32["per_second"] > 0 and fp32["failed"] == 0 and fp32["cer"] == 0.0
    assert report["memory"] == {}  # no long-recording test for ink
    text = capsys.readouterr().out
    assert "| engine | decoder | lines/s | x onnx-fp32 |" in text and "Peak memory" not in text
