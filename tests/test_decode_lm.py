"""ARPA reader, modified Kneser-Ney builder (normalization, kenlm agreement), malformed files."""

from __future__ import annotations

import gzip
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from recog.decode import ArpaFormatError, NgramLM, build_lm
from recog.decode.lm import read_arpa

TOY_ARPA = """\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t<unk>
-99\t<s>\t-0.5
-0.5\t</s>
-0.7\ta\t-0.3
-0.6\tb\t-0.2

\\2-grams:
-0.2\t<s> a
-0.4\ta b
-0.1\tb </s>

\\end\\
"""

DIGITS = ["zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def corpus(path: Path, n: int = 200, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    # A skewed, partly predictable corpus: "one two" is frequent.
    lines = []
    for _ in range(n):
        words = list(rng.choice(DIGITS, size=int(rng.integers(1, 7)), p=np.linspace(2, 1, len(DIGITS)) / np.linspace(2, 1, len(DIGITS)).sum()))
        if rng.random() < 0.4:
            words[:0] = ["one", "two"]
        lines.append(" ".join(words))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build(tmp_path: Path, order: int, unit: str) -> Path:
    arpa = tmp_path / f"{unit}{order}.arpa"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny corpus: discount fallback for some orders
        build_lm(corpus(tmp_path / "text.txt"), arpa, order, unit)
    return arpa


def test_reader_backs_off_by_hand(tmp_path):
    path = tmp_path / "toy.arpa"
    path.write_text(TOY_ARPA)
    lm = NgramLM.from_arpa(path)
    assert lm.order == 2 and lm.counts == [5, 3] and lm.unit == "char"  # one-letter words
    assert lm.score("a b", log10=True) == pytest.approx(-0.2 - 0.4 - 0.1, abs=1e-6)
    # b|<s>: bo(<s>) + p(b); a|b: bo(b) + p(a); </s>|a: bo(a) + p(</s>)
    assert lm.score("b a", log10=True) == pytest.approx((-0.5 - 0.6) + (-0.2 - 0.7) + (-0.3 - 0.5), abs=1e-6)
    # an unknown word scores as <unk>
    assert lm.score("zzz", log10=True) == pytest.approx((-0.5 - 1.0) + (-0.5), abs=1e-6)
    assert lm.full_scores(["a"], eos=False) == pytest.approx([-0.2 * math.log(10)], abs=1e-6)


def test_gzip_arpa_reads_like_the_plain_file(tmp_path):
    plain = build(tmp_path, 3, "word")
    packed = tmp_path / "word3.arpa.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = NgramLM.from_arpa(plain), NgramLM.from_arpa(packed)
    assert a.vocab == b.vocab and a.counts == b.counts
    assert all(np.array_equal(x, y) for x, y in zip(a.tables, b.tables, strict=True))
    truncated = tmp_path / "cut.arpa.gz"
    truncated.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    with pytest.raises(ArpaFormatError, match=r"cut\.arpa\.gz: damaged gzip data"):
        NgramLM.from_arpa(truncated)


def test_bulk_blocks_and_chunked_walks_read_like_single_lines(tmp_path, monkeypatch):
    import recog.decode.lm as lm_module
    import recog.text

    arpa = build(tmp_path, 4, "word")
    monkeypatch.setattr(recog.text, "BLOCK_CHARS", 300)  # many small blocks, most inside one section
    taken = []
    bulk = lm_module._read_block
    monkeypatch.setattr(lm_module, "_read_block", lambda *a: taken.append(bulk(*a)) or taken[-1])
    monkeypatch.setattr(lm_module, "_WALK_ROWS", 7)  # states found a few rows at a time
    a = NgramLM.from_arpa(arpa)
    monkeypatch.setattr(lm_module, "_WALK_ROWS", 1 << 20)
    assert any(taken) and not all(taken)
    monkeypatch.setattr(lm_module, "_read_block", lambda *a: False)
    b = NgramLM.from_arpa(arpa)
    assert all(np.array_equal(x, y) for x, y in zip(a.tables, b.tables, strict=True))
    # A bad number deep inside a section is still named with its line.
    monkeypatch.setattr(lm_module, "_read_block", bulk)
    lines = arpa.read_text().splitlines()
    k = max(i for i, line in enumerate(lines) if line.count(" ") == 1 and "\t" in line)  # a 2-gram line
    lines[k] = "nan" + lines[k][lines[k].index("\t"):]
    arpa.write_text("\n".join(lines) + "\n")
    with pytest.raises(ArpaFormatError, match=rf"word4\.arpa:{k + 1}: log10 probability 'nan' is not a finite"):
        NgramLM.from_arpa(arpa)


def test_structure_errors_name_the_ngram(tmp_path):
    path = tmp_path / "toy.arpa"
    path.write_text(TOY_ARPA.replace("-0.1\tb </s>", "-0.1\ta b"))
    with pytest.raises(ArpaFormatError, match=r"toy\.arpa:15: 2-gram 'a b' listed twice"):
        NgramLM.from_arpa(path)
    path.write_text(TOY_ARPA.replace("ngram 2=3", "ngram 2=3\nngram 3=1").replace("\\end\\", "\\3-grams:\n-0.3\tb a b\n\n\\end\\"))
    with pytest.raises(ArpaFormatError, match=r"3-gram 'b a b' is listed but its history is not"):
        NgramLM.from_arpa(path)


def test_missing_unk_gets_kenlm_default(tmp_path):
    path = tmp_path / "nounk.arpa"
    path.write_text(TOY_ARPA.replace("ngram 1=5", "ngram 1=4").replace("-1.0\t<unk>\n", ""))
    lm = NgramLM.from_arpa(path)
    assert lm.score_word(0, "never-seen")[0] == pytest.approx(-100 * math.log(10), rel=1e-6)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.replace("-0.4\ta b\n", "-0.4\ta b c d\n"), r"toy\.arpa:14: expected 'log10p w1 \.\. w2"),
        (lambda s: s.replace("\\end\\\n", ""), r"toy\.arpa:\d+: end of file before \\end\\"),
        (lambda s: s.replace("ngram 2=3", "ngram 2=4"), r"declares 4 2-grams but the section has 3"),
        (lambda s: s.replace("ngram 2=3", "ngram 2=300000000000"), r"declares 300000000000 2-grams but the section has 3"),
        (lambda s: s.replace("-0.1\tb </s>", "-0.1\tb c"), r"toy\.arpa:15: word 'c' is not among the unigrams"),
        (lambda s: s.replace("-0.7\ta\t-0.3", "x.7\ta\t-0.3"), r"toy\.arpa:9: expected a log10 probability, got 'x\.7'"),
        (lambda s: s.replace("\\data\\", "data"), r"end of file before \\data\\"),
    ],
)
def test_malformed_arpa_names_file_and_line(tmp_path, edit, message):
    path = tmp_path / "toy.arpa"
    path.write_text(edit(TOY_ARPA))
    with pytest.raises(ArpaFormatError, match=message):
        NgramLM.from_arpa(path)


def context_states(lm: NgramLM, path: Path) -> list[tuple[tuple[str, ...], int]]:
    """Every history the model lists (n-grams below the top order, not ending in </s>), with its state."""
    data = read_arpa(path)
    out = [((), 0)]
    for n in range(lm.order - 1):
        for key in data.words[n]:
            words = tuple(data.vocab[i] for i in key)
            if words[-1] == "</s>":
                continue
            state = 0
            for w in words:
                _, state = lm.score_word(state, w)
            out.append((words, state))
    return out


@pytest.mark.parametrize("order, unit", [(3, "word"), (5, "char")])
def test_built_lm_is_normalized_for_every_history(tmp_path, order, unit):
    arpa = build(tmp_path, order, unit)
    lm = NgramLM.from_arpa(arpa)
    assert lm.order == order and lm.unit == unit
    predictable = [i for i, w in enumerate(lm.vocab) if w != "<s>"]
    histories = context_states(lm, arpa)
    assert len(histories) > 20
    for words, state in histories:
        total = sum(math.exp(lm.score_word(state, w)[0]) for w in predictable)
        assert total == pytest.approx(1.0, abs=1e-4), f"history {words}"


@pytest.mark.parametrize("order, unit", [(3, "word"), (5, "char")])
def test_kenlm_reads_our_arpa_with_the_same_scores(tmp_path, order, unit):
    kenlm = pytest.importorskip("kenlm")
    arpa = build(tmp_path, order, unit)
    ours = NgramLM.from_arpa(arpa)
    theirs = kenlm.Model(str(arpa))
    assert theirs.order == order
    rng = np.random.default_rng(5)
    sentences = [" ".join(rng.choice(DIGITS + ["eleven"], size=int(rng.integers(1, 8)))) for _ in range(40)]
    for s in sentences:
        tokens = s.split() if unit == "word" else ["<space>" if c == " " else c for c in s]
        words = " ".join(tokens)
        # sentence scores reach -23 and kenlm sums in float32: the tolerance grows with the magnitude
        assert ours.score(tokens, log10=True) == pytest.approx(theirs.score(words, bos=True, eos=True), rel=1e-5, abs=1e-4)
        assert ours.score(tokens, bos=False, eos=False, log10=True) == pytest.approx(theirs.score(words, bos=False, eos=False), rel=1e-5, abs=1e-4)


def test_builder_rejects_bad_input(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(ValueError, match="no text"):
        build_lm(empty, tmp_path / "x.arpa", 3, "word")
    with pytest.raises(ValueError, match="unit"):
        build_lm(corpus(tmp_path / "t.txt"), tmp_path / "x.arpa", 3, "letter")


def test_builder_reads_manifest_transcripts(tmp_path):
    text = corpus(tmp_path / "t.txt")
    lines = [ln for ln in text.read_text().splitlines() if ln.strip()]
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": f"a{i}.wav", "text": t}) + "\n" for i, t in enumerate(lines)))
    build_lm(text, tmp_path / "from_text.arpa", 3, "word")
    build_lm(manifest, tmp_path / "from_manifest.arpa", 3, "word")
    assert (tmp_path / "from_text.arpa").read_text() == (tmp_path / "from_manifest.arpa").read_text()
    manifest.write_text('{"audio_filepath": "a.wav"}\n')
    with pytest.raises(ValueError, match=r"train\.jsonl:1: .*text"):
        build_lm(manifest, tmp_path / "x.arpa", 3, "word")
