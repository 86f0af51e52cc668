"""The LibriSpeech recipe end to end on a generated miniature in the corpus's layout.

`make prepare-librispeech-mini` (English sentences spoken by espeak-ng / flite voices, then
`recog prepare librispeech`), `make train-librispeech` with a tiny model (`--set`: the recipe's
config keeps its real sizes), `make lm-librispeech`, `make eval-librispeech` (greedy and beam
search with that LM), `recog export` and `recog transcribe`. A few training steps give a high
WER: what is checked is that each stage produces what it should and that the loss falls.
Each stage's wall time is printed (`pytest -s`); pipelines/librispeech/README.md lists them.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from recog.cli import main

from .conftest import ROOT

if not (shutil.which("espeak-ng") or shutil.which("flite")):
    pytest.skip("neither espeak-ng nor flite is installed (make sysdeps installs them): "
                "the miniature LibriSpeech cannot be spoken", allow_module_level=True)
if not shutil.which("make"):
    pytest.skip("make is not installed: the recipe's Makefile targets cannot run", allow_module_level=True)

from pipelines.librispeech.miniature import SPLITS  # noqa: E402

UTTERANCES = 100  # 70 / 15 / 15 over train-clean-100 / dev-clean / test-clean
SPLIT_SIZES = {"train-clean-100": 70, "dev-clean": 15, "test-clean": 15}
# A tiny network and a few epochs; the rest (features, augmentation, alphabet, normalizer) is the recipe's.
TINY = ("model.conv_channels=32", "model.lstm_layers=1", "model.hidden_size=64", "train.epochs=3",
        "train.max_frames=6000", "train.lr=3e-3", "train.warmup_steps=5", "train.num_workers=0")
ID = re.compile(r"^(\d+)-(\d+)-(\d{4})$")


def make(target: str, timeout: int = 600, **variables: str | Path) -> subprocess.CompletedProcess:
    """`make TARGET VAR=value ...` in the checkout with this interpreter, the set-up targets taken as done."""
    cmd = ["make", "--no-print-directory", "-o", "setup", "-o", "sysdeps", target, f"PY={sys.executable}",
           f"RECOG={sys.executable} -m recog", *(f"{k}={v}" for k, v in variables.items())]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def _rows(manifest: Path) -> list[dict]:
    return [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]


def _check_layout(corpus: Path) -> dict[str, set[str]]:
    """The miniature is in LibriSpeech's layout; returns the speakers of each split."""
    speakers: dict[str, set[str]] = {}
    for split, _, n_speakers in SPLITS:
        flacs = sorted((corpus / split).glob("*/*/*.flac"))
        assert len(flacs) == SPLIT_SIZES[split]
        speakers[split] = {f.parent.parent.name for f in flacs}
        assert len(speakers[split]) == n_speakers
        for trans in (corpus / split).glob("*/*/*.trans.txt"):
            spk, chapter = trans.parent.parent.name, trans.parent.name
            assert trans.name == f"{spk}-{chapter}.trans.txt"
            lines = trans.read_text(encoding="utf-8").splitlines()
            assert lines == sorted(lines) and lines
            for line in lines:
                utt, text = line.split(" ", 1)
                assert ID.match(utt) and utt.startswith(f"{spk}-{chapter}-")
                assert re.fullmatch(r"[A-Z']+( [A-Z']+)*", text), text  # LibriSpeech's conventions
                info = sf.info(trans.parent / f"{utt}.flac")
                assert (info.format, info.samplerate, info.channels, info.subtype) == ("FLAC", 16000, 1, "PCM_16")
    train, dev, test = (speakers[s] for s, _, _ in SPLITS)
    assert not (train & dev or train & test or dev & test), "speakers must be disjoint across splits"
    return speakers


def test_librispeech_recipe_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mini, run = tmp_path / "mini", tmp_path / "run"
    corpus = mini / "LibriSpeech"
    lm = run / "word3.arpa"
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(now - clock, 1)
        clock = now

    # 1. the miniature and its manifests
    make("prepare-librispeech-mini", LS_MINI=mini, LS_MINI_UTTERANCES=UTTERANCES)
    lap("prepare-librispeech-mini")
    _check_layout(corpus)
    for split, n in SPLIT_SIZES.items():
        rows = _rows(mini / f"{split}.jsonl")
        assert len(rows) == n
        assert {"audio_filepath", "duration", "text", "speaker", "chapter", "id"} <= set(rows[0])
        assert all((mini / r["audio_filepath"]).is_file() and r["text"] == r["text"].upper() for r in rows)

    # 2. training: the recipe's config, a tiny model
    args = " ".join(f"--set {o}" for o in TINY)
    make("train-librispeech", LS_DATA=mini, LS_RUN=run, ARGS=args)
    lap("train-librispeech")
    log = _rows(run / "log.jsonl")
    assert [r["epoch"] for r in log] == [1, 2, 3]
    assert log[-1]["loss"] < log[0]["loss"], [r["loss"] for r in log]
    assert "dev-clean_wer" in log[-1]
    assert (run / "best.pt").is_file() and (run / "last.pt").is_file()
    report = json.loads((run / "data_report.json").read_text())
    assert report  # the data report of every split is written

    # 3. a word 3-gram from the training transcripts, lower-cased as the recipe's normalizer does
    make("lm-librispeech", LS_DATA=mini, LS_LM=lm)
    lap("lm-librispeech")
    from recog.decode.lm import NgramLM

    arpa = NgramLM.from_arpa(lm)
    assert arpa.order == 3 and arpa.unit == "word" and all(c > 0 for c in arpa.counts)
    train_text = [r["text"].lower() for r in _rows(mini / "train-clean-100.jsonl")]
    assert set(arpa.vocab) - {"<s>", "</s>", "<unk>"} == {w for t in train_text for w in t.split()}
    words = train_text[0].split()
    shuffled = random.Random(0).sample(words, len(words))
    if shuffled != words:
        assert arpa.score(words) > arpa.score(shuffled)

    # 4. evaluation: greedy, then beam search with the LM (one JSON summary each)
    proc = make("eval-librispeech", LS_DATA=mini, LS_MODEL=run / "best.pt", LS_LM=lm, LS_TEST_SPLITS="test-clean")
    lap("eval-librispeech")
    summaries = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [s["decoder"] for s in summaries] == ["greedy", "beam"]
    for s in summaries:
        assert s["utterances"] == SPLIT_SIZES["test-clean"] and s["failed"] == 0
        assert 0.0 <= s["wer"] and 0.0 <= s["cer"] <= 100.0

    # 5. export: the parity-checked ONNX file
    onnx = run / "model.onnx"
    capsys.readouterr()
    assert main(["export", str(run / "best.pt"), "-o", str(onnx)]) == 0
    exported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert onnx.is_file() and exported["max_abs_diff"] <= 1e-4
    lap("export")

    # 6. transcription of the test split's folder: one row per flac
    out = run / "test-clean.jsonl"
    assert main(["transcribe", "--model", str(onnx), str(corpus / "test-clean"), "-o", str(out)]) == 0
    lap("transcribe")
    rows = _rows(out)
    flacs = {str(p) for p in (corpus / "test-clean").glob("*/*/*.flac")}
    assert len(rows) == len(flacs) and {r["path"] for r in rows} == flacs
    assert all("error" not in r and isinstance(r["text"], str) and r["duration"] > 0 for r in rows)

    with capsys.disabled():
        print(f"\nLibriSpeech miniature ({UTTERANCES} utterances), stage wall times in seconds: {seconds}; "
              f"train loss by epoch {[r['loss'] for r in log]}; test-clean WER greedy {summaries[0]['wer']} %, "
              f"beam+LM {summaries[1]['wer']} %")
