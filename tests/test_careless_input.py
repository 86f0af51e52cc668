"""Careless and hostile use of the inference path: resume after a kill, odd API inputs,
bad options and files, each an error that names the problem, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from recog.cli import main
from recog.decode import DecoderConfig
from recog.features.ink import Ink
from recog.runtime import Recognizer

from .conftest import ROOT, SHARED

DIGITS = ROOT / "models" / "digits-en" / "model.int8.onnx"
SAMPLES = sorted((ROOT / "models" / "digits-en" / "samples").glob("*.wav"))
TEXTS = [p.stem.replace("_", " ") for p in SAMPLES]


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.from_onnx(DIGITS, threads=1)


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_resume_repairs_a_row_cut_by_a_kill(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert main(["transcribe", "--model", str(DIGITS), *map(str, SAMPLES[:3]), "-o", str(out), "--quiet-progress"]) == 0
    whole = out.read_text()
    out.write_text(whole[: whole.rindex("\n", 0, len(whole) - 1) + 1 + 25])  # the last row torn after 25 bytes
    capsys.readouterr()
    assert main(["transcribe", "--model", str(DIGITS), *map(str, SAMPLES[:3]), "-o", str(out), "--quiet-progress"]) == 0
    assert "cut short" in capsys.readouterr().err
    rows = _rows(out)  # every line is a whole JSON row again
    assert [r["text"] for r in rows] == TEXTS[:3]


def test_text_only_output_resumes_and_paths_are_keyed_by_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out.txt"
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(SAMPLES[0], work / "a.wav")
    monkeypatch.chdir(tmp_path)
    args = ["transcribe", "--model", str(DIGITS), "--text-only", "-o", str(out), "--quiet-progress"]
    assert main([*args, "work/a.wav", str(work / "a.wav"), "./work/a.wav"]) == 0  # one file, three names
    assert out.read_text().count("\n") == 1
    capsys.readouterr()
    assert main([*args, str((work / "a.wav").resolve()), str(SAMPLES[1])]) == 0
    assert "already done 1" in capsys.readouterr().err
    lines = out.read_text().splitlines()
    assert [line.split("\t")[1] for line in lines] == [TEXTS[0], TEXTS[1]]


def test_ctm_lines_of_an_unfinished_input_are_dropped_on_resume(tmp_path):
    out, ctm = tmp_path / "out.jsonl", tmp_path / "out.ctm"
    args = ["transcribe", "--model", str(DIGITS), *map(str, SAMPLES[:2]), "-o", str(out), "--ctm", str(ctm),
            "--quiet-progress"]
    assert main(args) == 0
    rows = out.read_text().splitlines(keepends=True)
    out.write_text(rows[0])  # killed after the second input's CTM lines, before its row
    assert main(args) == 0
    words = [line.split()[4] for line in ctm.read_text().splitlines()]
    assert words == " ".join(TEXTS[:2]).split()  # no word twice


@pytest.mark.parametrize("option", ["--alpha=nan", "--beta=inf", "--hotword-weight=-inf", "--beam-width=0"])
def test_non_finite_decoder_settings_are_refused(option):
    name = option.split("=")[0].lstrip("-").replace("-", "_")
    with pytest.raises(SystemExit, match=f"error: {name} must be"):
        main(["transcribe", "--model", str(DIGITS), str(SAMPLES[0]), "--decoder", "beam", option])


def test_non_finite_hotword_weights_and_arpa_values_are_refused(tmp_path):
    from recog.decode.lexicon import read_hotwords
    from recog.decode.lm import ArpaFormatError, load_lm

    hot = tmp_path / "hot.txt"
    hot.write_text("one two\tnan\n")
    with pytest.raises(ValueError, match="hot.txt:1: weight 'nan' is not a finite number"):
        read_hotwords(hot)
    arpa = tmp_path / "lm.arpa"
    arpa.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-99\t<s>\nnan\t</s>\n-1\tone\n\n\\end\\\n")
    with pytest.raises(ArpaFormatError, match="lm.arpa:6: log10 probability 'nan' is not a finite number"):
        load_lm(arpa)
    arpa.write_bytes(b"\\data\\\nngram 1=1\n\xff\xfe\n")
    with pytest.raises(ArpaFormatError, match="lm.arpa: not UTF-8"):
        load_lm(arpa)
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        DecoderConfig(kind="beam", alpha=float("nan"))


def test_api_takes_one_input_or_many_and_never_raises_for_a_bad_one(recognizer):
    [one] = recognizer.transcribe(str(SAMPLES[2]))  # a path string is one input, not its characters
    assert one.text == TEXTS[2]
    wave, rate = sf.read(SAMPLES[2], dtype="float32")
    assert rate == 8000
    results = recognizer.transcribe([wave, np.stack([wave, wave]), np.stack([wave, wave], axis=1),
                                     np.array(1.0, np.float32), np.full(8000, np.nan, np.float32),
                                     np.zeros((3, 4, 5)), str(SAMPLES[0]), Ink([np.zeros((3, 2))])])
    assert [r.text for r in results[:3]] == [TEXTS[2]] * 3  # mono, [2, N] and [N, 2] stereo
    assert "shape ()" in results[3].error and "NaN" in results[4].error and "(3, 4, 5)" in results[5].error
    assert results[6].text == TEXTS[0]
    assert "audio model; it cannot read ink" in results[7].error and results[7].path == "<ink 7>"


def test_bad_files_and_options_are_messages_not_tracebacks(tmp_path, capsys):
    with pytest.raises(SystemExit, match="is a directory; give a file name"):
        main(["transcribe", "--model", str(DIGITS), str(SAMPLES[0]), "-o", str(tmp_path)])
    with pytest.raises(SystemExit, match="is a directory; give a model file"):
        main(["transcribe", "--model", str(tmp_path), str(SAMPLES[0])])
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)  # reading it would block forever
    out = tmp_path / "out.jsonl"
    code = main(["transcribe", "--model", str(DIGITS), str(fifo), str(SAMPLES[0]), "-o", str(out),
                 "--threads", "100000", "--quiet-progress"])
    rows = _rows(out)
    assert code == 1 and "not a regular file" in rows[0]["error"] and rows[1]["text"] == TEXTS[0]


def test_bad_manifests_are_reported_with_their_name(tmp_path):
    bad_path = tmp_path / "bad.jsonl"
    bad_path.write_text(json.dumps({"audio_filepath": 17, "text": "one"}) + "\n")
    with pytest.raises(SystemExit, match="bad.jsonl:1: the file path must be a non-empty string"):
        main(["evaluate", "--model", str(DIGITS), str(bad_path)])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(SystemExit, match="empty.jsonl: the manifest has no rows"):
        main(["evaluate", "--model", str(DIGITS), str(empty)])
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"audio_filepath": "a.wav", "text": "caf\xe9"}\n')
    with pytest.raises(SystemExit, match="latin.jsonl: not UTF-8"):
        main(["evaluate", "--model", str(DIGITS), str(latin)])


def test_evaluate_reports_bad_rows_and_still_scores(tmp_path, capsys):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF" + os.urandom(200))
    rows = [{"audio_filepath": str(SAMPLES[0]), "text": TEXTS[0]}, {"audio_filepath": str(broken), "text": "one"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["evaluate", "--model", str(DIGITS), str(manifest), "--json"]) == 1
    out = capsys.readouterr()
    summary = json.loads(out.out.strip().splitlines()[-1])
    assert summary["utterances"] == 1 and summary["failed"] == 1 and summary["wer"] == 0.0
    assert "broken.wav" in out.err


def test_lm_builder_refuses_sentence_marks_in_its_text(tmp_path):
    from recog.decode import build_lm

    text = tmp_path / "t.txt"
    text.write_text("one two\n<s> three </s>\n")
    with pytest.raises(ValueError, match="sentence 2 holds </s> and <s>"):
        build_lm(text, tmp_path / "lm.arpa", order=2, unit="word")


def test_prepare_folder_skips_an_unreadable_transcript(tmp_path, monkeypatch):
    from pathlib import Path

    from recog.prepare.folder import prepare_folder

    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        shutil.copy(SAMPLES[i], data / f"clip{i}.wav")
    (data / "clip0.txt").write_text(TEXTS[0])
    (data / "clip1.txt").write_text(TEXTS[1])
    read_text = Path.read_text

    def denied(self, *args, **kwargs):  # root reads any file: simulate a permission error
        if self.name == "clip1.txt":
            raise PermissionError(13, "Permission denied")
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", denied)
    report = prepare_folder(data, tmp_path / "out")
    assert any("unreadable" in s.reason for s in report.skipped)


@pytest.mark.skipif(not (SHARED / "iam_ondb").is_dir(), reason="needs ../shared/data/iam_ondb")
def test_int8_text_does_not_depend_on_batch_neighbours(tmp_path):
    from recog.prepare.iam_ondb import prepare_iam_ondb

    prepare_iam_ondb(SHARED / "iam_ondb", tmp_path / "data")
    lines = [json.loads(x) for x in (tmp_path / "data" / "val1.jsonl").read_text().splitlines()[:96]]
    paths = [str(tmp_path / "data" / row["ink_filepath"]) for row in lines]
    rec = Recognizer.from_onnx(ROOT / "models" / "iam-ondb-en" / "model.int8.onnx", threads=2)
    texts = {bs: [t.text for t in rec.iter_transcribe(paths, batch_size=bs)] for bs in (1, 16, 64)}
    assert texts[1] == texts[16] == texts[64]


def test_checkpoint_of_another_architecture_is_a_message(tmp_path):
    import torch

    from recog.model.checkpoint import load_state
    from recog.runtime import ModelFormatError
    from recog.train.checkpoint import save_checkpoint

    from .runtime_support import make_oracle_checkpoint

    good = make_oracle_checkpoint(tmp_path / "oracle.pt")
    state = load_state(good)
    state["model"] = {k: v for k, v in state["model"].items() if "lstm" not in k}  # weights missing
    save_checkpoint(tmp_path / "partial.pt", state)
    state["model"] = {k: torch.zeros(3) for k in load_state(good)["model"]}  # wrong shapes
    save_checkpoint(tmp_path / "shapes.pt", state)
    for name in ("partial.pt", "shapes.pt"):
        with pytest.raises(ModelFormatError, match=f"{name}: the weights do not fit the recipe"):
            Recognizer.load(tmp_path / name)


def test_rows_carry_word_confidences_and_the_nbest_list_on_request(tmp_path):
    out = tmp_path / "out.jsonl"
    assert main(["transcribe", "--model", str(DIGITS), str(SAMPLES[2]), "-o", str(out), "--decoder", "beam",
                 "--nbest", "3", "--quiet-progress"]) == 0
    [row] = _rows(out)
    assert row["text"] == TEXTS[2] and all(0.0 <= w["confidence"] <= 1.0 for w in row["words"])
    nbest = row["nbest"]
    assert len(nbest) == 3 and nbest[0]["text"] == row["text"]
    assert [a["score"] for a in nbest] == sorted((a["score"] for a in nbest), reverse=True)
    assert len({a["text"] for a in nbest}) == 3 and {"am_score", "lm_score"} <= set(nbest[0])
    with pytest.raises(SystemExit, match="--nbest above 1 needs --decoder beam"):
        main(["transcribe", "--model", str(DIGITS), str(SAMPLES[2]), "--nbest", "2"])
    plain = Recognizer.from_onnx(DIGITS, threads=1).transcribe(str(SAMPLES[2]))[0]
    assert plain.nbest == [] and "nbest" not in plain.to_row()


def test_a_doubtful_word_has_a_low_confidence():
    from recog.decode.greedy import greedy_decoder
    from recog.text import Alphabet

    alphabet = Alphabet.from_string(" ab")
    lp = np.full((6, 4), np.log(1e-4), np.float32)
    # tokens: 1 = " ", 2 = "a", 3 = "b"; frames a, blank, b (doubtful), space, a, blank
    for t, (k, p) in enumerate([(2, 0.99), (0, 0.99), (3, 0.55), (1, 0.99), (2, 0.98), (0, 0.99)]):
        lp[t, k] = np.log(p)
    result = greedy_decoder(alphabet, 25.0)(lp)
    assert result.text == "ab a"
    first, second = result.words
    assert first.confidence == pytest.approx(0.55, rel=1e-4)  # its doubtful "b" decides
    assert second.confidence == pytest.approx(0.98, rel=1e-4)
