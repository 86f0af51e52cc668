"""`recog bench {train,decode}` on tiny inputs, and the analytic FLOP count against torch's counter."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from recog.bench.flops import forward_flops, frontend_lengths, lstm_frame_flops
from recog.cli import main
from recog.model import BiLSTMCTC
from recog.model.config import ModelConfig

from .conftest import tone_config_toml

TINY = """
name = "tiny"
out_dir = "{out}"
[data]
train = ["no_such_manifest.jsonl"]
[text]
alphabet = " ab"
[features]
n_mels = 8
[model]
subsampling = 2
conv_channels = 8
lstm_layers = 1
hidden_size = 8
dropout = 0.0
[train]
max_frames = 400
"""

FAST = ["--steps", "3", "--warmup", "1", "--batches", "2", "--peak-size", "256"]


def _points(path):
    return json.loads(path.read_text())["points"]


def _check_rates(point):
    for key in ("frames_per_s", "utt_per_s", "flop_per_step", "flop_per_s", "peak_flop_per_s", "seconds"):
        assert point[key] > 0, key
    assert 0 < point["ratio"] < 1.5
    assert point["ratio"] == pytest.approx(point["flop_per_s"] / point["peak_flop_per_s"])
    assert point["flop_per_s"] == pytest.approx(point["flop_per_step"] * point["steps"] / point["seconds"])


def test_bench_train_synthetic_without_manifests(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.format(out=tmp_path / "exp"))
    out = tmp_path / "train.json"
    code = main(["bench", "train", str(config), *FAST, "--threads", "1", "--synthetic-frames", "100",
                 "--json", str(out)])
    assert code == 0
    [point] = _points(out)
    _check_rates(point)
    assert point["threads"] == 1 and point["subsampling"] == 2 and point["max_frames"] == 400
    assert json.loads(out.read_text())["info"]["data"].startswith("synthetic")
    table = capsys.readouterr().out
    assert "| LSTM | max_frames | subsampling | threads |" in table and "| unpacked | 400 | 2 | 1 |" in table


def test_bench_train_compare_packed_adds_the_peer_row(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.format(out=tmp_path / "exp"))
    out = tmp_path / "train.json"
    code = main(["bench", "train", str(config), *FAST, "--threads", "1", "--synthetic-frames", "100",
                 "--compare-packed", "--json", str(out)])
    assert code == 0
    points = _points(out)
    assert [p["lstm"] for p in points] == ["unpacked", "packed"]
    for p in points:
        _check_rates(p)
    assert points[0]["flop_per_step"] == pytest.approx(points[1]["flop_per_step"])
    assert "Unpacked / packed frames/s at the same setting:" in capsys.readouterr().out


def test_bench_train_real_manifest_sweep(tmp_path, tone_corpus, capsys):
    config = tmp_path / "tones.toml"
    config.write_text(tone_config_toml(tone_corpus, tmp_path / "exp", epochs=1))
    out = tmp_path / "sweep.json"
    code = main(["bench", "train", str(config), *FAST, "--set", "model.hidden_size=16",
                 "--sweep-max-frames", "150,300", "--sweep-subsampling", "1,2", "--sweep-threads", "1",
                 "--json", str(out)])
    assert code == 0
    points = _points(out)
    assert sorted((p["subsampling"], p["max_frames"]) for p in points) == [(1, 150), (1, 300), (2, 150), (2, 300)]
    for p in points:
        _check_rates(p)
    # Same data, half the LSTM frames: subsampling 2 does less work per input frame.
    per_frame = {p["subsampling"]: p["flop_per_step"] / (p["frames_per_s"] * p["seconds"] / p["steps"])
                 for p in points if p["max_frames"] == 300}
    assert per_frame[2] < per_frame[1]
    assert "train.jsonl" in json.loads(out.read_text())["info"]["data"]
    assert "Highest ratio" in capsys.readouterr().out


def test_bench_train_missing_config_is_a_clear_error(tmp_path, capsys):
    assert main(["bench", "train", str(tmp_path / "nope.toml"), *FAST]) == 2
    assert "nope.toml: config file not found" in capsys.readouterr().err


@pytest.mark.parametrize("subsampling,conv", [(4, 16), (1, 16), (1, 0)])
def test_flops_match_torch_counter_for_conv_and_output(subsampling, conv):
    """torch counts matrix products (2 per multiply-add) of the conv and output layers (not the fused
    LSTM); ours adds bias and ReLU, which we take back out here."""
    from torch.utils.flop_counter import FlopCounterMode

    mc = ModelConfig(input_dim=12, vocab_size=9, subsampling=subsampling, conv_channels=conv, conv_kernel=5,
                     lstm_layers=2, hidden_size=24, dropout=0.0)
    model = BiLSTMCTC(mc).eval()
    T = 97
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        log_probs, _ = model(torch.randn(1, T, 12), torch.tensor([T]))
    ours = forward_flops(mc, [T])
    conv_frames = sum(frontend_lengths(mc, T))
    frames = log_probs.shape[1]
    assert ours.conv - 2 * conv * conv_frames + ours.output - mc.vocab_size * frames == counter.get_total_flops()


def test_lstm_flops_match_torch_counter_of_a_cell():
    """One LSTM direction per frame: the products of LSTMCell (8·H·(I+H)) plus 21·H of sums and gates."""
    from torch.utils.flop_counter import FlopCounterMode

    inputs, hidden = 20, 12
    cell = torch.nn.LSTMCell(inputs, hidden)
    h = c = torch.zeros(1, hidden)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        cell(torch.randn(1, inputs), (h, c))
    assert lstm_frame_flops(inputs, hidden) == counter.get_total_flops() + 21 * hidden


def test_bench_decode_on_saved_logprobs(tmp_path, capsys):
    from recog.bench.decode_data import synthetic_dataset

    ds = synthetic_dataset(6, T=80)
    npz = tmp_path / "lp.npz"
    log_probs = np.empty(len(ds.log_probs), dtype=object)
    log_probs[:] = ds.log_probs
    np.savez(npz, log_probs=log_probs, references=np.array(ds.references), alphabet="".join(ds.alphabet.tokens[1:]))
    lm_text = tmp_path / "lm.txt"
    lm_text.write_text("\n".join(ds.references) + "\n")
    out = tmp_path / "decode.json"
    code = main(["bench", "decode", "--logprobs", str(npz), "--lm-text", str(lm_text), "--beams", "4",
                 "--lms", "none,char", "--threads", "1", "--decoders", "recog (numba)", "--repeat", "1",
                 "--no-jit-cost", "--out", str(out), "--markdown"])
    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["lm"], r["utterances"]) for r in rows] == [("none", 6), ("char", 6)]
    assert all(r["utt_per_s"] > 0 for r in rows)
    assert rows[1]["wer"] <= rows[0]["wer"]  # an LM of the very references cannot hurt
    assert "| recog (numba) | 4 | char | 1 |" in capsys.readouterr().out


def test_bench_decode_unknown_decoder(capsys):
    code = main(["bench", "decode", "--synthetic", "--utterances", "2", "--frames", "40", "--lms", "none",
                 "--decoders", "nope", "--no-jit-cost"])
    assert code == 2
    assert "unknown decoder 'nope'" in capsys.readouterr().err
