"""CLI smoke tests on tiny data: prepare, train, evaluate --json, transcribe with bad inputs."""

import json

import numpy as np
import soundfile as sf

from recog.cli import main

from .conftest import tone_config_toml


def test_prepare_fsdd_layout(tmp_path, capsys):
    data = tmp_path / "fsdd"
    (data / "recordings").mkdir(parents=True)
    lines = ["file\tdigit\ttext\tspeaker\ttake"]
    words = ["zero", "one", "two"]
    for spk in ("ann", "bob"):
        for d, w in enumerate(words):
            for take in range(3):
                f = f"recordings/{d}_{spk}_{take}.wav"
                sf.write(data / f, np.random.default_rng(take).normal(0, 0.1, 2000).astype(np.float32), 8000)
                lines.append(f"{f}\t{d}\t{w}\t{spk}\t{take}")
    (data / "transcripts.tsv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["prepare", "fsdd-digits", "--data", str(data), "--out", str(out), "--dev-speaker", "bob"]) == 0
    iso = [json.loads(x) for x in (out / "isolated.jsonl").read_text().splitlines()]
    strings = [json.loads(x) for x in (out / "strings.jsonl").read_text().splitlines()]
    assert len(iso) == 18
    used = sum(len(r["text"].split()) for r in strings)
    assert used == 2 * 18  # every clip, twice (--passes 2)
    assert all(1 <= len(r["text"].split()) <= 7 for r in strings)
    for r in strings[:3]:
        info = sf.info(str(out / r["audio_filepath"]))
        assert info.samplerate == 8000 and abs(info.frames / 8000 - r["duration"]) < 1e-3
    dev = [json.loads(x) for x in (out / "dev_strings.jsonl").read_text().splitlines()]
    assert dev and {r["speaker"] for r in dev} == {"bob"}
    again = tmp_path / "again"
    main(["prepare", "fsdd-digits", "--data", str(data), "--out", str(again), "--dev-speaker", "bob"])
    assert (again / "strings.jsonl").read_text() == (out / "strings.jsonl").read_text()  # deterministic


def test_prepare_yesno(tmp_path):
    data = tmp_path / "yesno"
    (data / "wav").mkdir(parents=True)
    rows = ["file\ttext"]
    for i in range(10):
        bits = [(i >> k) & 1 for k in range(8)]
        name = "_".join(map(str, bits)) + ".wav"
        sf.write(data / "wav" / name, np.zeros(800, dtype=np.float32), 8000)
        rows.append(f"wav/{name}\t" + " ".join("YES" if b else "NO" for b in bits))
    (data / "transcripts.tsv").write_text("\n".join(rows) + "\n")
    assert main(["prepare", "yesno", "--data", str(data), "--out", str(tmp_path / "o")]) == 0
    assert len((tmp_path / "o" / "test.jsonl").read_text().splitlines()) == 2
    assert len((tmp_path / "o" / "train.jsonl").read_text().splitlines()) == 8


def test_train_evaluate_transcribe(tmp_path, tone_corpus, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(tone_config_toml(tone_corpus, tmp_path / "exp", epochs=60))
    assert main(["train", str(cfg), "--set", "train.epochs=60"]) == 0
    capsys.readouterr()
    model = str(tmp_path / "exp" / "best.pt")
    assert main(["evaluate", "--model", model, str(tone_corpus), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"wer", "cer", "utterances", "seconds"} <= set(result)
    assert result["utterances"] == 8 and result["wer"] == 0.0

    wavs = sorted((tone_corpus.parent / "wav").glob("*.wav"))
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....garbage")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 8000)
    out = tmp_path / "out.jsonl"
    code = main(["transcribe", "--model", model, str(wavs[0]), str(bad), str(empty), str(wavs[1]), "-o", str(out)])
    assert code == 1  # some inputs failed
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["path"] for r in rows] == [str(wavs[0]), str(bad), str(empty), str(wavs[1])]
    assert "broken.wav" in rows[1]["error"] and "empty" in rows[2]["error"]
    assert rows[0]["text"] == "ab" and rows[3]["text"] == "cd"
    assert [w["word"] for w in rows[0]["words"]] == ["ab"] and rows[0]["words"][0]["end"] > rows[0]["words"][0]["start"]
    # resume: a second run only redoes the failed inputs
    bad.unlink()
    empty.unlink()
    main(["transcribe", "--model", model, str(wavs[0]), str(wavs[1]), "-o", str(out)])
    assert len(out.read_text().splitlines()) == 4


def test_word_units_train_export_transcribe(tmp_path, tone_corpus, capsys):
    """A whole-word-token model trains, evaluates, exports and transcribes with word times."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(tone_config_toml(tone_corpus, tmp_path / "exp", epochs=60).replace('alphabet = " abcd"', 'units = "word"'))
    assert main(["train", str(cfg)]) == 0
    tokens = (tmp_path / "exp" / "tokens.txt").read_text().split()
    assert tokens == ["<blank>", "a", "ab", "b", "bad", "bc", "c", "cab", "cd", "d", "da", "dcba"]
    capsys.readouterr()
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(tmp_path / "exp" / "best.pt"), "-o", str(onnx_path)]) == 0
    for model in (tmp_path / "exp" / "best.pt", onnx_path):
        capsys.readouterr()
        assert main(["evaluate", "--model", str(model), str(tone_corpus), "--json"]) == 0
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert result["wer"] == 0.0, model
    wav = sorted((tone_corpus.parent / "wav").glob("*.wav"))[5]  # "cab d"
    out = tmp_path / "out.jsonl"
    assert main(["transcribe", "--model", str(onnx_path), str(wav), "-o", str(out)]) == 0
    row = json.loads(out.read_text())
    assert row["text"] == "cab d" and [w["word"] for w in row["words"]] == ["cab", "d"]
    assert row["words"][0]["start"] < row["words"][1]["start"]
    assert main(["evaluate", "--model", str(onnx_path), str(tone_corpus), "--decoder", "beam", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["wer"] == 0.0
