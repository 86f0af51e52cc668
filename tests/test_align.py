"""CTC forced alignment (recog.decode.align) and `recog align`."""

import itertools
import json

import numpy as np
import pytest

from recog.cli import main
from recog.decode.align import AlignmentError, align_text, ctc_viterbi
from recog.text import Alphabet

from .conftest import ROOT

DIGITS = ROOT / "models" / "digits-en" / "model.int8.onnx"
SAMPLES = sorted((ROOT / "models" / "digits-en" / "samples").glob("*.wav"))
DEV = ROOT / "pipelines" / "digits" / "data" / "fsdd" / "dev_strings.jsonl"


def _collapse(path):
    out, prev = [], None
    for k in path:
        if k != prev and k != 0:
            out.append(k)
        prev = k
    return out


def test_viterbi_finds_the_best_path_of_the_transcript():
    """Against every path of a few short random problems (repeats included)."""
    rng = np.random.default_rng(0)
    for _ in range(150):
        T, V = int(rng.integers(1, 7)), 3
        log_probs = np.log(rng.dirichlet(np.ones(V), size=T))
        tokens = [int(k) for k in rng.integers(1, V, size=int(rng.integers(1, 4)))]
        best, best_path = -np.inf, None
        for path in itertools.product(range(V), repeat=T):
            if _collapse(path) == tokens and log_probs[np.arange(T), path].sum() > best:
                best, best_path = log_probs[np.arange(T), path].sum(), path
        if best_path is None:
            with pytest.raises(AlignmentError, match="output frames"):
                ctc_viterbi(log_probs, tokens)
            continue
        firsts, lasts, score = ctc_viterbi(log_probs, tokens)
        assert score == pytest.approx(best, abs=1e-9)
        assert all(a <= b for a, b in zip(firsts, lasts, strict=True))
        assert all(b < a for b, a in zip(lasts, firsts[1:], strict=False))


def test_word_times_in_seconds():
    alphabet = Alphabet.from_string(" ab")
    #        blank  " "    a     b
    frames = [[0.90, 0.02, 0.05, 0.03],  # blank
              [0.10, 0.05, 0.80, 0.05],  # a
              [0.10, 0.05, 0.80, 0.05],  # a
              [0.10, 0.70, 0.10, 0.10],  # space
              [0.10, 0.05, 0.05, 0.80],  # b
              [0.90, 0.02, 0.03, 0.05]]  # blank
    log_probs = np.log(np.asarray(frames))
    result = align_text(log_probs, "a b", alphabet, frame_rate=10.0)
    assert [(w.word, w.start, w.end) for w in result.words] == [("a", 0.1, 0.3), ("b", 0.4, 0.5)]
    assert result.token_times()[0] == (2, 0.1, 0.3)


def test_unknown_characters_are_named():
    with pytest.raises(AlignmentError, match=r"characters the model cannot write: '1', 'é'"):
        align_text(np.zeros((20, 4)), "a é1", Alphabet.from_string(" ab"), 10.0)
    with pytest.raises(AlignmentError, match=r"words the model cannot write: 'ten'"):
        align_text(np.zeros((20, 3)), "one ten", Alphabet(["one", "two"], "word"), 10.0)


def _digits_inputs():
    """(audio path, transcript) pairs: up to 50 digits dev strings when prepared, else the shipped samples."""
    if DEV.is_file():
        rows = [json.loads(line) for line in DEV.read_text().splitlines()[:50]]
        pairs = [(DEV.parent / r["audio_filepath"], r["text"]) for r in rows]
        if all(p.is_file() for p, _ in pairs):
            return pairs
    return [(p, p.stem.replace("_", " ")) for p in SAMPLES]


def test_decoder_word_times_agree_with_forced_alignment():
    """Greedy decoding's word times within two output frames of the forced alignment's for >= 95 %
    of the words of the correctly recognized inputs."""
    pairs = _digits_inputs()
    if not DIGITS.is_file() or not pairs:
        pytest.skip("the digits model or its data is not in this checkout")
    from recog.runtime import Recognizer

    rec = Recognizer.from_onnx(DIGITS, threads=1, keep_log_probs=True)
    frame = 1.0 / rec.info.frame_rate
    agree = total = recognized = 0
    for (_, text), result in zip(pairs, rec.transcribe([str(p) for p, _ in pairs]), strict=True):
        text = rec.info.normalizer(text)
        if result.text != text:
            continue
        recognized += 1
        alignment = align_text(result.log_probs, text, rec.info.alphabet, rec.info.frame_rate)
        assert [w.word for w in alignment.words] == text.split()
        for decoded, aligned in zip(result.words, alignment.words, strict=True):
            total += 1
            agree += (abs(decoded.start - aligned.start) <= 2 * frame + 1e-9
                      and abs(decoded.end - aligned.end) <= 2 * frame + 1e-9)
    assert recognized >= 0.9 * len(pairs)
    assert agree >= 0.95 * total


def test_align_cli_writes_words_tokens_and_ctm(tmp_path, capsys):
    if not DIGITS.is_file() or not SAMPLES:
        pytest.skip("the shipped digits model is not in this checkout")
    sample = SAMPLES[0]
    text = sample.stem.replace("_", " ").upper()  # normalized like the training transcripts
    ctm = tmp_path / "out.ctm"
    assert main(["align", "--model", str(DIGITS), str(sample), text, "--ctm", str(ctm), "--threads", "1"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert [w["word"] for w in row["words"]] == text.lower().split()
    assert [t["token"] for t in row["tokens"]] == text.lower().split()  # word units: one token per word
    starts = [w["start"] for w in row["words"]]
    assert starts == sorted(starts) and all(w["end"] > w["start"] for w in row["words"])
    assert row["words"][-1]["end"] <= row["duration"] + 0.05
    assert len(ctm.read_text().splitlines()) == len(row["words"])

    with pytest.raises(SystemExit, match=r"words the model cannot write: 'ten'"):
        main(["align", "--model", str(DIGITS), str(sample), "one ten", "--threads", "1"])
