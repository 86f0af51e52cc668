"""LM shallow fusion (char and word), OOV handling, lexicon, hotwords and alpha/beta tuning."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from recog.decode import BeamDecoder, NgramLM, build_lm, greedy_decode, tune_alpha_beta
from recog.text import Alphabet

ALPHABET = Alphabet.from_string(" abcdefghijklmnopqrstuvwxyz")


def frames(spec: list[str | dict[str, float]], floor: float = 1e-4) -> np.ndarray:
    """Log-probs from a frame list: "_" = blank, a character = that character with p 0.99,
    or a {char: p} dict (blank "_", leftover mass spread over all tokens)."""
    V = len(ALPHABET)
    out = np.full((len(spec), V), floor, np.float64)
    for t, f in enumerate(spec):
        probs = {f: 0.99} if isinstance(f, str) else f
        for ch, p in probs.items():
            out[t, 0 if ch == "_" else ALPHABET.encode(ch)[0]] = p
        out[t] /= out[t].sum()
    return np.log(out).astype(np.float32)


def spell(text: str) -> list[str | dict[str, float]]:
    out: list[str | dict[str, float]] = ["_"]
    for ch in text:
        out += [ch, "_"]
    return out


def lm_from(tmp_path: Path, lines: list[str], order: int, unit: str) -> NgramLM:
    text = tmp_path / f"{unit}.txt"
    text.write_text("\n".join(lines) + "\n")
    arpa = tmp_path / f"{unit}{order}.arpa"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_lm(text, arpa, order, unit)
    return NgramLM.from_arpa(arpa)


CORPUS = ["the cat sat on the mat", "a cat sat", "the cat ran", "like to visit that place", "i would like to visit"] * 5


def test_char_lm_fixes_an_ambiguous_letter(tmp_path):
    lm = lm_from(tmp_path, CORPUS, 4, "char")
    lp = frames(spell("the ") + [{"k": 0.55, "c": 0.44}, "_"] + spell("at"))
    assert ALPHABET.decode(greedy_decode(lp)) == "the kat"
    plain = BeamDecoder(ALPHABET, beam_width=8).decode(lp)[0]
    fused = BeamDecoder(ALPHABET, beam_width=8, lm_path=lm, alpha=0.8, beta=0.5).decode(lp)[0]
    assert plain.text == "the kat"
    assert fused.text == "the cat"
    assert fused.lm_score == pytest.approx(lm.score(["t", "h", "e", "<space>", "c", "a", "t"]), abs=1e-4)
    assert fused.score == pytest.approx(fused.am_score + 0.8 * fused.lm_score + 0.5 * 2, abs=1e-4)


def test_word_lm_scores_completed_words_and_end_of_sentence(tmp_path):
    lm = lm_from(tmp_path, CORPUS, 3, "word")
    dec = BeamDecoder(ALPHABET, beam_width=8, lm_path=lm, alpha=0.7, beta=1.5)
    assert dec.unit == "word"
    best = dec.decode(frames(spell("the cat sat")))[0]
    assert best.text == "the cat sat"
    assert best.lm_score == pytest.approx(lm.score("the cat sat"), abs=1e-4)
    assert best.score == pytest.approx(best.am_score + 0.7 * best.lm_score + 1.5 * 3, abs=1e-4)


def test_word_lm_does_not_glue_words(tmp_path):
    lm = lm_from(tmp_path, CORPUS, 3, "word")
    weak_space = {"_": 0.7, " ": 0.3}  # acoustics slightly prefer no space
    lp = frames(spell("like") + [weak_space] + spell("to") + [weak_space] + spell("visit") + [weak_space] + spell("that"))
    assert ALPHABET.decode(greedy_decode(lp)) == "liketovisitthat"
    best = BeamDecoder(ALPHABET, beam_width=16, lm_path=lm, alpha=0.5, beta=1.0).decode(lp)[0]
    assert best.text == "like to visit that"


def test_unknown_words_are_not_glued_together(tmp_path):
    lm = lm_from(tmp_path, CORPUS, 3, "word")
    clear_space = {"_": 0.1, " ": 0.9}
    lp = frames(spell("zorb") + [clear_space] + spell("quix") + [clear_space] + spell("cat"))
    best = BeamDecoder(ALPHABET, beam_width=16, lm_path=lm, alpha=0.5, beta=1.0).decode(lp)[0]
    assert best.text == "zorb quix cat"


def test_lexicon_restricts_words(tmp_path):
    lp = frames(spell("c") + [{"u": 0.6, "a": 0.3, "o": 0.1}, "_"] + spell("t")[1:])
    assert BeamDecoder(ALPHABET, beam_width=8).decode(lp)[0].text == "cut"
    assert BeamDecoder(ALPHABET, beam_width=8, lexicon=["cat", "cot", "sat"]).decode(lp)[0].text == "cat"
    words = tmp_path / "words.txt"
    words.write_text("cot\ncat\n")
    assert BeamDecoder(ALPHABET, beam_width=8, lexicon=words).decode(lp)[0].text == "cat"
    # every hypothesis that survives ends on a lexicon word
    nbest = BeamDecoder(ALPHABET, beam_width=8, lexicon=["cat", "cot"], num_results=5).decode(lp)
    assert nbest and all(h.text.strip() in ("cat", "cot") for h in nbest)


def test_hotwords_boost_a_phrase():
    lp = frames(spell("a ") + [{"k": 0.6, "c": 0.4}, "_"] + spell("at"))
    assert BeamDecoder(ALPHABET, beam_width=8).decode(lp)[0].text == "a kat"
    boosted = BeamDecoder(ALPHABET, beam_width=8, hotwords=["cat"], hotword_weight=1.0).decode(lp)[0]
    assert boosted.text == "a cat"
    assert boosted.score == pytest.approx(boosted.am_score + 3.0, abs=1e-6)
    # a hotword inside a longer word earns nothing in the end
    lp2 = frames(spell("cats"))
    h = BeamDecoder(ALPHABET, beam_width=8, hotwords=["cat"], hotword_weight=1.0).decode(lp2)[0]
    assert h.text == "cats" and h.score == pytest.approx(h.am_score, abs=1e-6)
    with pytest.raises(ValueError, match="outside the alphabet"):
        BeamDecoder(ALPHABET, hotwords=["Cat"])


def test_tune_alpha_beta_picks_the_lm_when_it_helps(tmp_path):
    lm = lm_from(tmp_path, CORPUS, 4, "char")
    utts = [
        (frames(spell("the ") + [{"k": 0.55, "c": 0.44}, "_"] + spell("at")), "the cat"),
        (frames(spell("a ") + [{"k": 0.55, "c": 0.44}, "_"] + spell("at sat")), "a cat sat"),
        (frames(spell("the cat ran")), "the cat ran"),
    ]
    result = tune_alpha_beta([u[0] for u in utts], [u[1] for u in utts], ALPHABET, lm, alphas=[0.0, 0.8], betas=[0.0, 0.5], beam_width=8)
    assert len(result.grid) == 4
    assert result.alpha == 0.8 and result.wer == 0.0
    no_lm = [g for g in result.grid if g[0] == 0.0]
    assert all(g[2] > 0 for g in no_lm)


def test_hotword_file_soft_lexicon_through_the_cli_decoder(tmp_path):
    from recog.decode import DecoderConfig
    from recog.decode.lexicon import read_hotwords

    path = tmp_path / "words.txt"
    path.write_text("cat\n\ndog house\t0.5\n")
    assert read_hotwords(path) == ["cat", ("dog house", 0.5)]
    lp = frames(spell("a ") + [{"k": 0.6, "c": 0.4}, "_"] + spell("at"))
    assert DecoderConfig(kind="beam", beam_width=8).build(ALPHABET, 25.0)(lp).text == "a kat"
    hot = DecoderConfig(kind="beam", beam_width=8, hotwords=str(path), hotword_weight=1.0)
    assert hot.build(ALPHABET, 25.0)(lp).text == "a cat"
    with pytest.raises(ValueError, match="needs --decoder beam"):
        DecoderConfig(kind="greedy", hotwords=str(path))
    bad = tmp_path / "bad.txt"
    bad.write_text("cat\ndog\theavy\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: weight 'heavy'"):
        read_hotwords(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(ValueError, match="no phrases"):
        read_hotwords(empty)
