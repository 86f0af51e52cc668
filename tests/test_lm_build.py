"""recog lm build at scale: streamed and gzip input, gzip output, chunked counting, count pruning."""

from __future__ import annotations

import gzip
import math
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from recog.cli import main
from recog.decode import NgramLM, build_lm, ngram_counts
from recog.decode.lm_build import prune_thresholds
from tests.test_decode_lm import DIGITS, context_states, corpus


def quiet_build(text: Path, arpa: Path, order: int = 3, unit: str = "word", prune=None) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny corpus: discount fallback for some orders
        return build_lm(text, arpa, order, unit, prune=prune)


def raw_counts(text: Path, order: int) -> Counter:
    """n-gram counts by hand: each line padded with <s> and </s>, every n-gram predicting a token."""
    out: Counter = Counter()
    for line in text.read_text().splitlines():
        seq = ["<s>", *line.split(), "</s>"]
        for i in range(1, len(seq)):
            for n in range(1, min(order, i + 1) + 1):
                out[tuple(seq[i - n + 1 : i + 1])] += 1
    return out


def arpa_ngrams(path: Path) -> dict[int, set[tuple[str, ...]]]:
    out: dict[int, set[tuple[str, ...]]] = {}
    n = 0
    for line in path.read_text().splitlines():
        if line.startswith("\\") and line.endswith("-grams:"):
            n = int(line[1:-7])
        elif n and "\t" in line:
            out.setdefault(n, set()).add(tuple(line.split("\t")[1].split()))
    return out


def test_prune_contract():
    assert prune_thresholds(None, 3) == [0, 0, 0]
    assert prune_thresholds([0, 1], 4) == [0, 1, 1, 1]
    assert prune_thresholds([0, 1, 2], 3) == [0, 1, 2]
    for bad, message in [([1], "first threshold must be 0"), ([0, 2, 1], "may not decrease"),
                         ([0, 1, 1, 1], "at most one per order"), ([0, -1], "counts >= 0")]:
        with pytest.raises(ValueError, match=message):
            prune_thresholds(bad, 3)


@pytest.mark.parametrize("prune", [(0, 1), (0, 1, 2)])
def test_pruning_drops_rare_ngrams_and_stays_normalized(tmp_path, prune):
    text = corpus(tmp_path / "text.txt", n=400)
    full, pruned = tmp_path / "full.arpa", tmp_path / "pruned.arpa"
    quiet_build(text, full)
    info = quiet_build(text, pruned, prune=prune)
    counts = raw_counts(text, 3)
    thresholds = prune_thresholds(prune, 3)
    kept, every = arpa_ngrams(pruned), arpa_ngrams(full)
    assert kept[1] == every[1]  # unigrams are never pruned
    for n in (2, 3):
        expected = {g for g in every[n] if counts[g] > thresholds[n - 1]}
        assert kept[n] == expected and len(expected) < len(every[n])
        assert info[f"{n}-grams"] == len(expected)
    lm = NgramLM.from_arpa(pruned)
    predictable = [i for i, w in enumerate(lm.vocab) if w != "<s>"]
    histories = context_states(lm, pruned)
    assert len(histories) > 20
    for words, state in histories:
        total = sum(math.exp(lm.score_word(state, w)[0]) for w in predictable)
        assert total == pytest.approx(1.0, rel=1e-4), f"history {words}"
    # A pruned n-gram backs off: its score differs from the full model's, a kept one's does not.
    full_lm = NgramLM.from_arpa(full)
    kept_gram = next(iter(kept[3]))
    lost_gram = next(iter(every[3] - kept[3]))
    for gram, same in ((kept_gram, True), (lost_gram, False)):
        state_f, state_p = 0, 0
        for w in gram[:-1]:
            state_f = full_lm.score_word(state_f, w)[1]
            state_p = lm.score_word(state_p, w)[1]
        a, b = full_lm.score_word(state_f, gram[-1])[0], lm.score_word(state_p, gram[-1])[0]
        assert (a == pytest.approx(b, abs=1e-5)) == same, gram


def test_kenlm_reads_a_pruned_arpa_with_the_same_scores(tmp_path):
    kenlm = pytest.importorskip("kenlm")
    text = corpus(tmp_path / "text.txt", n=400)
    arpa = tmp_path / "pruned.arpa"
    quiet_build(text, arpa, prune=(0, 1))
    ours, theirs = NgramLM.from_arpa(arpa), kenlm.Model(str(arpa))
    rng = np.random.default_rng(3)
    for _ in range(40):
        words = list(rng.choice(DIGITS + ["eleven"], size=int(rng.integers(1, 8))))
        assert ours.score(words, log10=True) == pytest.approx(theirs.score(" ".join(words)), rel=1e-5, abs=1e-4)


def test_zero_thresholds_change_nothing(tmp_path):
    text = corpus(tmp_path / "text.txt")
    quiet_build(text, tmp_path / "a.arpa")
    quiet_build(text, tmp_path / "b.arpa", prune=(0, 0, 0))
    assert (tmp_path / "a.arpa").read_text() == (tmp_path / "b.arpa").read_text()


def test_chunks_gzip_input_and_output_give_the_same_model(tmp_path, monkeypatch):
    text = corpus(tmp_path / "text.txt")
    quiet_build(text, tmp_path / "one_chunk.arpa", order=4)
    packed = tmp_path / "text.txt.gz"
    packed.write_bytes(gzip.compress(text.read_bytes()))
    monkeypatch.setattr(ngram_counts, "CHUNK_TOKENS", 7)  # count in many small chunks, merged as it goes
    quiet_build(packed, tmp_path / "chunked.arpa.gz", order=4)
    reference = (tmp_path / "one_chunk.arpa").read_text()
    assert gzip.decompress((tmp_path / "chunked.arpa.gz").read_bytes()).decode() == reference
    assert not list(tmp_path.glob("*.partial"))


def test_cli_prunes_and_refuses_bad_thresholds(tmp_path, capsys):
    text = corpus(tmp_path / "text.txt", n=400)
    out = tmp_path / "lm.arpa.gz"
    assert main(["lm", "build", str(text), "-o", str(out), "--order", "3", "--prune", "0", "1"]) == 0
    assert "pruned 0 1" in capsys.readouterr().out
    assert NgramLM.from_arpa(out).order == 3
    assert main(["lm", "build", str(text), "-o", str(out), "--order", "3", "--prune", "1"]) == 1
    assert "first threshold must be 0" in capsys.readouterr().err


def test_sentence_marks_in_the_text_are_refused(tmp_path):
    text = tmp_path / "marks.txt"
    text.write_text("one two\n<s> three </s>\n")
    with pytest.raises(ValueError, match=r"marks\.txt: sentence 2 holds </s> and <s>; the builder adds"):
        quiet_build(text, tmp_path / "x.arpa")
