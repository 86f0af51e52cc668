"""recog evaluate --output: one JSON line per utterance, written as scored; S/I/D in the summary."""

from __future__ import annotations

import json
import os

import pytest

from recog.cli import main
from recog.runtime import Recognizer
from recog.runtime.evaluation import evaluate

from .conftest import ROOT

DIGITS = ROOT / "models" / "digits-en" / "model.int8.onnx"
SAMPLES = sorted((ROOT / "models" / "digits-en" / "samples").glob("*.wav"))[:3]
TEXTS = [p.stem.replace("_", " ") for p in SAMPLES]


def manifest_with_errors(tmp_path):
    """The samples, each with a reference that differs from its truth in a known way, and one broken file."""
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF" + os.urandom(200))
    refs = [TEXTS[0], TEXTS[1] + " nine nine", " ".join(TEXTS[2].split()[1:])]  # as is, 2 deletions, 1 insertion
    rows = [{"audio_filepath": str(p), "text": t, "id": f"utt{i}"} for i, (p, t) in enumerate(zip(SAMPLES, refs, strict=True))]
    rows.insert(1, {"audio_filepath": str(broken), "text": "one"})
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_output_rows_and_summary_agree(tmp_path, capsys):
    manifest = manifest_with_errors(tmp_path)
    out = tmp_path / "hyps.jsonl"
    assert main(["evaluate", "--model", str(DIGITS), str(manifest), "--json", "--output", str(out)]) == 1  # a row failed
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and rows[1]["path"].endswith("broken.wav") and "error" in rows[1]
    scored = [r for r in rows if "error" not in r]
    assert [r["id"] for r in scored] == ["utt0", "utt1", "utt2"]
    for r in scored:
        assert r["errors"] == r["substitutions"] + r["insertions"] + r["deletions"]
        assert r["words"] == len(r["reference"].split()) and r["chars"] == len(r["reference"])
    if all(r["hypothesis"] == t for r, t in zip(scored, TEXTS, strict=True)):  # the model reads its samples right
        assert [(r["substitutions"], r["insertions"], r["deletions"]) for r in scored] == [(0, 0, 0), (0, 0, 2), (0, 1, 0)]
    for key in ("substitutions", "insertions", "deletions"):
        assert summary[key] == sum(r[key] for r in scored)
    errors, words = sum(r["errors"] for r in scored), sum(r["words"] for r in scored)
    assert summary["wer"] == pytest.approx(round(100 * errors / words, 3))
    chars = sum(r["char_errors"] for r in scored), sum(r["chars"] for r in scored)
    assert summary["cer"] == pytest.approx(round(100 * chars[0] / chars[1], 3))


def test_rows_are_on_disk_as_soon_as_scored(tmp_path):
    manifest = manifest_with_errors(tmp_path)
    out = tmp_path / "hyps.jsonl"
    rec = Recognizer.from_onnx(DIGITS, threads=1)
    seen: list[int] = []
    produce = rec.iter_transcribe

    def watched(paths, batch_size=16):
        for k, t in enumerate(produce(paths, batch_size)):
            if k:  # before each next utterance, the previous ones are already in the file
                seen.append(len(out.read_text().splitlines()))
            yield t

    rec.iter_transcribe = watched
    result = evaluate(rec, manifest, batch_size=1, progress=False, output=out)
    assert seen == [1, 2, 3]
    assert result.substitutions + result.insertions + result.deletions == sum(
        json.loads(line).get("errors", 0) for line in out.read_text().splitlines())
