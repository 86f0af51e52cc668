"""Property-style checks: random bytes and mutated valid audio, ink, manifests and ARPA files
thrown at `recog transcribe` and `recog evaluate`. Whatever the input: no traceback, one row
per input, exit status 1 when any input failed, and memory under a stated bound."""

from __future__ import annotations

import io
import json
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from recog.cli import main

from .conftest import ROOT
from .fuzz_support import mutations
from .ink_support import synth_ink

DIGITS = ROOT / "models" / "digits-en" / "model.int8.onnx"
INK = ROOT / "models" / "iam-ondb-en" / "model.int8.onnx"
SAMPLE = sorted((ROOT / "models" / "digits-en" / "samples").glob("*.wav"))[2]
MEMORY_BOUND_MB = 400  # traced Python/numpy allocations of one whole run


def _run(argv: list[str], capsys) -> tuple[int, str, float]:
    """Run the CLI in-process: (exit status, stderr, traced peak MB). A traceback fails the test."""
    tracemalloc.start()
    try:
        code = main(argv)
    except SystemExit as err:  # a clean refusal with a message, never a traceback
        code = err.code if isinstance(err.code, int) else 2
        assert isinstance(err.code, int) or str(err.code).startswith("error:"), err.code
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return code, capsys.readouterr().err, peak


def test_mutated_audio_gives_one_row_each_and_no_traceback(tmp_path, capsys):
    rng = np.random.default_rng(1)
    files = []
    for i, data in enumerate(mutations(SAMPLE.read_bytes(), rng, 30)):
        path = tmp_path / f"m{i:02d}.wav"
        path.write_bytes(data)
        files.append(str(path))
    out = tmp_path / "out.jsonl"
    code, err, peak = _run(["transcribe", "--model", str(DIGITS), *files, str(SAMPLE), "-o", str(out),
                            "--quiet-progress"], capsys)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in rows] == [*files, str(SAMPLE)]  # one row per input, in order
    assert rows[-1]["text"] == "nine four three"
    failed = sum("error" in r for r in rows)
    assert code == (1 if failed else 0) and "Traceback" not in err
    assert all(r["error"].startswith(r["path"]) for r in rows if "error" in r)  # each names its file
    assert peak < MEMORY_BOUND_MB, peak


def test_mutated_ink_gives_one_row_each_and_no_traceback(tmp_path, capsys):
    rng = np.random.default_rng(2)
    buf = io.StringIO()
    ink = synth_ink("lol cix", seed=3, with_time=True)
    json.dump({"strokes": [s.tolist() for s in ink.strokes]}, buf)
    files = []
    for i, data in enumerate(mutations(buf.getvalue().encode(), rng, 30)):
        path = tmp_path / f"m{i:02d}.json"
        path.write_bytes(data)
        files.append(str(path))
    out = tmp_path / "out.jsonl"
    code, err, peak = _run(["transcribe", "--model", str(INK), *files, "-o", str(out), "--quiet-progress"], capsys)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in rows] == files and "Traceback" not in err
    assert code == (1 if any("error" in r for r in rows) else 0)
    assert peak < MEMORY_BOUND_MB, peak


def test_mutated_manifests_and_arpa_files_are_refused_cleanly(tmp_path, capsys):
    rng = np.random.default_rng(3)
    manifest = (json.dumps({"audio_filepath": str(SAMPLE), "text": "nine four three"}) + "\n") * 3
    for i, data in enumerate(mutations(manifest.encode(), rng, 15)):
        path = tmp_path / f"m{i:02d}.jsonl"
        path.write_bytes(data)
        code, err, _ = _run(["evaluate", "--model", str(DIGITS), str(path), "--json"], capsys)
        assert code in (0, 1, 2) and "Traceback" not in err
    arpa = ("\\data\\\nngram 1=12\n\n\\1-grams:\n-99\t<s>\t-0.5\n-1\t</s>\n"
            + "".join(f"-1.1\t{w}\t-0.3\n" for w in "zero one two three four five six seven eight nine".split())
            + "\n\\end\\\n")
    words = tmp_path / "digits.arpa"
    words.write_text(arpa)
    for i, data in enumerate(mutations(arpa.encode(), rng, 15)):
        path = tmp_path / f"lm{i:02d}.arpa"
        path.write_bytes(data)
        code, err, _ = _run(["transcribe", "--model", str(INK), str(tmp_path / "missing.json"), "--decoder", "beam",
                             "--lm", str(path), "--quiet-progress"], capsys)
        assert code in (1, 2) and "Traceback" not in err


@pytest.mark.parametrize("seconds", [0.0, 0.01, 2.0])
def test_silence_and_tiny_inputs_are_rows_not_crashes(tmp_path, capsys, seconds):
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(int(8000 * seconds), np.float32), 8000)
    out = tmp_path / "out.jsonl"
    code, err, _ = _run(["transcribe", "--model", str(DIGITS), str(path), "-o", str(out), "--quiet-progress"], capsys)
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["path"] == str(path) and code == (1 if "error" in row else 0)
