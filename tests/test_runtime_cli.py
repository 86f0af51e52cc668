"""`recog transcribe` on an ONNX model: inputs, error rows, resume, CTM/SRT, shards and torchrun."""

import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from recog.cli import main
from recog.data.manifest import read_manifest
from recog.runtime.batch_job import expand_inputs, shard_paths

from . import runtime_support
from .conftest import ROOT
from .runtime_support import ORACLE_TEXTS

oracle_ckpt = runtime_support.oracle_ckpt
oracle_corpus = runtime_support.oracle_corpus
oracle_onnx = runtime_support.oracle_onnx


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_inputs_from_folders_globs_manifests_lists_and_stdin(oracle_corpus, tmp_path, monkeypatch):
    root = oracle_corpus.parent
    wavs = [str(u.path) for u in read_manifest(oracle_corpus)]
    found = expand_inputs([str(root / "wav")])
    assert sorted(found) == sorted(wavs) and len(found) == 4  # recursive, only audio extensions
    assert expand_inputs([str(root / "wav" / "*.wav")]) == sorted(w for w in wavs if "/sub/" not in w)
    assert expand_inputs([str(root / "wav" / "**" / "*.wav")]) == sorted(wavs)
    assert expand_inputs([str(oracle_corpus)]) == wavs
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(wavs[:2]) + "\n\n")
    assert expand_inputs([str(listing), wavs[0]]) == wavs[:2]  # duplicates dropped, order kept
    monkeypatch.setattr(sys, "stdin", io.StringIO(wavs[3] + "\n" + wavs[1] + "\n"))
    assert expand_inputs(["-"]) == [wavs[3], wavs[1]]
    assert expand_inputs([str(tmp_path / "nothing" / "*.wav")]) == [str(tmp_path / "nothing" / "*.wav")]


def test_bad_inputs_give_error_rows_and_resume_skips_done(oracle_onnx, oracle_corpus, tmp_path, capsys):
    wavs = [str(u.path) for u in read_manifest(oracle_corpus)]
    broken, empty, short = tmp_path / "broken.wav", tmp_path / "empty.wav", tmp_path / "short.wav"
    broken.write_bytes(b"RIFF....garbage")
    sf.write(empty, np.zeros(0, np.float32), 8000)
    sf.write(short, np.zeros(40, np.float32), 8000)  # 5 ms
    missing = str(tmp_path / "missing.wav")
    inputs = [wavs[0], str(broken), str(empty), str(short), missing, wavs[1]]
    out = tmp_path / "out.jsonl"
    code = main(["transcribe", "--model", str(oracle_onnx), *inputs, "-o", str(out), "--batch-size", "4"])
    assert code == 1
    err = capsys.readouterr().err
    assert "transcribed 2, failed 4" in err
    rows = _rows(out)
    assert [r["path"] for r in rows] == inputs  # one row per input, in order
    assert rows[0]["text"] == ORACLE_TEXTS[0] and rows[5]["text"] == ORACLE_TEXTS[1]
    assert "broken.wav" in rows[1]["error"] and "empty" in rows[2]["error"]
    assert "too short" in rows[3]["error"] and "not found" in rows[4]["error"]
    assert {"path", "text", "score", "duration", "words"} == set(rows[0])
    # rerun: only the failed inputs are tried again; fix two of them first
    shutil.copy(wavs[2], short)
    broken.unlink()
    code = main(["transcribe", "--model", str(oracle_onnx), *inputs, "-o", str(out)])
    assert "resuming: 2 input(s) already" in capsys.readouterr().err
    rows = _rows(out)
    assert len(rows) == 10 and rows[6]["path"] == str(broken) and rows[8]["text"] == ORACLE_TEXTS[2]
    assert code == 1


def test_ctm_and_srt_on_request(oracle_onnx, oracle_corpus, tmp_path, capsys):
    root = oracle_corpus.parent
    ctm, srt, vtt, txt = tmp_path / "out.ctm", tmp_path / "srt", tmp_path / "vtt", tmp_path / "txt"
    code = main(["transcribe", "--model", str(oracle_onnx), str(root / "wav"), "-o", str(tmp_path / "o.jsonl"),
                 "--ctm", str(ctm), "--srt", str(srt), "--vtt", str(vtt), "--txt", str(txt)])
    assert code == 0
    lines = ctm.read_text().splitlines()
    assert len(lines) == sum(len(t.split()) for t in ORACLE_TEXTS)
    rec, chan, start, dur, word, confidence = lines[0].split()
    assert rec.endswith("wav/o0") and chan == "1" and float(dur) > 0 and word == "ab" and 0 < float(confidence) <= 1
    assert (srt / "o0.srt").read_text().startswith("1\n00:00:00,")
    assert "cab a bc" in (srt / "sub" / "o1.srt").read_text()  # the folder structure is mirrored
    assert (vtt / "o0.vtt").read_text().startswith("WEBVTT\n\n00:00:00.")
    assert (txt / "sub" / "o1.txt").read_text() == ORACLE_TEXTS[1] + "\n"


def test_shards_partition_the_inputs_and_resume_sees_every_shard(oracle_onnx, oracle_corpus, tmp_path, capsys):
    wavs = [str(u.path) for u in read_manifest(oracle_corpus)]
    assert sorted(shard_paths(wavs, 0, 3) + shard_paths(wavs, 1, 3) + shard_paths(wavs, 2, 3)) == sorted(wavs)
    out = tmp_path / "out.jsonl"
    for i in range(2):
        assert main(["transcribe", "--model", str(oracle_onnx), str(oracle_corpus), "-o", str(out),
                     "--shard", f"{i}/2"]) == 0
    a, b = _rows(tmp_path / "out.shard0-of-2.jsonl"), _rows(tmp_path / "out.shard1-of-2.jsonl")
    assert not {r["path"] for r in a} & {r["path"] for r in b}
    assert sorted(r["path"] for r in a + b) == sorted(wavs)
    capsys.readouterr()
    assert main(["transcribe", "--model", str(oracle_onnx), str(oracle_corpus), "-o", str(out)]) == 0
    assert "already done 4" in capsys.readouterr().err and out.read_text() == ""
    with pytest.raises(SystemExit, match="expected i/N"):
        main(["transcribe", "--model", str(oracle_onnx), wavs[0], "--shard", "2"])


def test_torchrun_splits_the_job(oracle_onnx, oracle_corpus, tmp_path):
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    if not os.path.exists(torchrun):
        pytest.skip("torchrun not installed")
    out = tmp_path / "out.jsonl"
    cmd = [torchrun, "--nproc-per-node", "2", "-m", "recog", "transcribe", "--model", str(oracle_onnx),
           str(oracle_corpus), "-o", str(out), "--quiet-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=180,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [r for i in range(2) for r in _rows(tmp_path / f"out.shard{i}-of-2.jsonl")]
    assert sorted(r["text"] for r in rows) == sorted(ORACLE_TEXTS)


def test_evaluate_saves_logprobs_that_bench_decode_reads(tmp_path, oracle_onnx, oracle_corpus, capsys):
    npz = tmp_path / "dev_logprobs.npz"
    assert main(["evaluate", "--model", str(oracle_onnx), str(oracle_corpus), "--json",
                 "--save-logprobs", str(npz)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    data = np.load(npz, allow_pickle=True)
    assert len(data["log_probs"]) == summary["utterances"] == len(ORACLE_TEXTS)
    assert list(data["references"]) == list(ORACLE_TEXTS) and str(data["alphabet"]) == " abc"
    assert all(lp.ndim == 2 and lp.shape[1] == 5 for lp in data["log_probs"])
    assert main(["bench", "decode", "--logprobs", str(npz), "--beams", "4", "--decoders", "recog (numba)",
                 "--lms", "none", "--threads", "1", "--repeat", "1", "--no-jit-cost",
                 "--out", str(tmp_path / "b.json")]) == 0
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert len(rows) == 1 and rows[0]["utterances"] == len(ORACLE_TEXTS)
    assert rows[0]["wer"] == pytest.approx(summary["wer"], abs=0.01)  # the oracle is exact: beam = greedy
