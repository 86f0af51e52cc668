"""pipelines/iam_ondb/english.py: English LM text and soft lexicon from word frequencies."""

from __future__ import annotations

import json
import sys
import types

import numpy as np

from pipelines.iam_ondb.english import lexicon_variants, main, sample_lines, usable_words


def test_usable_words_keep_what_the_alphabet_spells():
    alphabet = set("abcdefghijklmnopqrstuvwxyz'.")
    assert usable_words(["the", "don't", "café", "1990", "new york", "", "..."], alphabet) == ["the", "don't"]


def test_sampled_lines_follow_the_frequencies():
    lines = sample_lines(["the", "of", "zebra"], [0.6, 0.3, 0.1], 2000, np.random.default_rng(0))
    words = " ".join(lines).split()
    assert len(lines) == 2000 and len(words) == 16000
    shares = [words.count(w) / len(words) for w in ("the", "of", "zebra")]
    assert np.allclose(shares, [0.6, 0.3, 0.1], atol=0.02)


def test_lexicon_variants_capitalize_and_attach_punctuation():
    assert lexicon_variants(["tired"]) == {"tired", "tired.", "tired,", "Tired", "Tired.", "Tired,"}


def test_main_writes_lm_text_and_lexicon_and_skips_a_rerun(tmp_path, monkeypatch, capsys):
    freqs = {"the": 0.05, "of": 0.03, "whiteboard": 1e-6, "naïve": 1e-6}
    fake = types.SimpleNamespace(top_n_list=lambda lang, n: list(freqs)[:n], word_frequency=lambda w, lang: freqs[w],
                                 __version__="test")
    monkeypatch.setitem(sys.modules, "wordfreq", fake)
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps({"ink_filepath": f"train.npz#{i}", "text": t}) + "\n"
                                for i, t in enumerate(["A MOVE to stop Mr . Gaitskell", "of the whiteboards ."])))
    out = tmp_path / "english"
    assert main(["--train", str(manifest), "--out", str(out), "--lines", "10", "--top-words", "3"]) == 0
    text = (out / "lm_text.txt").read_text().splitlines()
    assert text[:2] == ["A MOVE to stop Mr . Gaitskell", "of the whiteboards ."] and len(text) == 12
    assert set(" ".join(text[2:]).split()) <= {"the", "of", "whiteboard"}  # "naïve": "ï" is not in the transcripts
    words = set((out / "words.txt").read_text().split())
    assert {"Gaitskell", "whiteboards", "The.", "whiteboard,"} <= words and "naïve" not in words
    capsys.readouterr()
    assert main(["--train", str(manifest), "--out", str(out), "--lines", "10", "--top-words", "3"]) == 0
    assert "up to date" in capsys.readouterr().out
