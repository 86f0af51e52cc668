import jiwer
import numpy as np
import pytest

from recog.bench.edit_distance import make_pairs, python_edit_distance
from recog.metrics import Edits, correct_words, edit_distance, edits, error_rates

PAIRS = [("one two three", "one too three"), ("seven", "seven eight"), ("nine nine", ""),
         ("a b c d", "a c d e"), ("zero", "zero")]


def test_edit_distance_basics():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance(["a", "b"], ["a", "b"]) == 0


def test_rates_match_jiwer():
    refs = [r for r, _ in PAIRS]
    hyps = [h for _, h in PAIRS]
    counts = error_rates(refs, hyps)
    assert counts.wer == pytest.approx(100 * jiwer.wer(refs, hyps), abs=1e-9)
    assert counts.cer == pytest.approx(100 * jiwer.cer(refs, hyps), abs=1e-9)


def test_distances_equal_the_python_dynamic_programme_on_random_pairs():
    rng = np.random.default_rng(1)
    for r, h in make_pairs(60, seed=2) + [("", ""), ("", "a b"), ("a b", "")]:
        assert edit_distance(r, h) == python_edit_distance(r, h)
        assert edit_distance(r.split(), h.split()) == python_edit_distance(r.split(), h.split())
    for _ in range(300):  # short strings over a small alphabet: many ties between alignments
        r = "".join(rng.choice(list("ab "), size=int(rng.integers(0, 12))))
        h = "".join(rng.choice(list("ab "), size=int(rng.integers(0, 12))))
        assert edit_distance(r, h) == python_edit_distance(r, h)
        assert edits(r.split(), h.split()).errors == python_edit_distance(r.split(), h.split())


def test_substitutions_insertions_deletions_match_jiwer():
    pairs = make_pairs(100, seed=3) + PAIRS[:2] + PAIRS[3:]
    for r, h in pairs:
        ours, theirs = edits(r.split(), h.split()), jiwer.process_words(r, h)
        assert (ours.substitutions, ours.insertions, ours.deletions) == \
            (theirs.substitutions, theirs.insertions, theirs.deletions), (r, h)
    counts = error_rates([r for r, _ in pairs], [h for _, h in pairs])
    assert counts.substitutions + counts.insertions + counts.deletions == counts.word_edits
    assert edits("one two three".split(), "one three four five".split()).errors == 3


def test_words_compare_as_whole_tokens_and_correct_words_marks_matches():
    assert edit_distance(["ab", "c"], ["a", "bc"]) == 2
    assert edits(["a", "b", "c"], ["a", "x", "c", "d"]) == Edits(substitutions=1, insertions=1, deletions=0)
    assert correct_words(["a", "b", "c"], ["a", "x", "c", "d"]) == [True, False, True, False]
    assert correct_words([], ["a"]) == [False] and correct_words(["a"], []) == []
