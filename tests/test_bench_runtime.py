"""`recog bench runtime` on the hand-weighted oracle model (tiny files, one repeat)."""

from __future__ import annotations

import json

from recog.cli import main

from . import runtime_support

oracle_ckpt = runtime_support.oracle_ckpt
oracle_onnx = runtime_support.oracle_onnx
oracle_corpus = runtime_support.oracle_corpus


def test_bench_runtime_from_checkpoint(tmp_path, oracle_ckpt, oracle_corpus, capsys):
    out = tmp_path / "runtime.json"
    code = main(["bench", "runtime", "--checkpoint", str(oracle_ckpt), "--manifest", str(oracle_corpus),
                 "--threads", "1", "--repeats", "1", "--minutes", "0.1", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    # No training transcripts in the oracle's recipe: greedy rows only.
    assert sorted(report["speed"]) == ["onnx-fp32/greedy", "onnx-int8/greedy", "torch/greedy"]
    for row in report["speed"].values():
        assert row["rtf"] > 0 and row["failed"] == 0
    assert report["speed"]["onnx-fp32/greedy"]["wer"] == report["speed"]["torch/greedy"]["wer"] == 0.0
    memory = report["memory"]["onnx-fp32/0.1min"]
    assert memory["peak_rss_mb"] >= memory["baseline_rss_mb"] > 0 and not memory["torch_loaded"]
    assert "| onnx-int8 | greedy |" in capsys.readouterr().out


def test_bench_runtime_from_onnx(tmp_path, oracle_onnx, oracle_corpus, capsys):
    code = main(["bench", "runtime", "--model", str(oracle_onnx), "--manifest", str(oracle_corpus),
                 "--threads", "1", "--repeats", "1", "--minutes", "0"])
    assert code == 0
    text = capsys.readouterr().out
    assert "x onnx-fp32" in text and "| onnx-int8 | greedy |" in text and "| torch |" not in text
    assert "Peak memory" not in text


def test_bench_runtime_missing_model(tmp_path, oracle_corpus, capsys):
    code = main(["bench", "runtime", "--model", str(tmp_path / "none.onnx"), "--manifest", str(oracle_corpus)])
    assert code == 2
    assert "none.onnx: not found" in capsys.readouterr().err
