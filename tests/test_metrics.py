import jiwer
import pytest

from recog.metrics import edit_distance, error_rates

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
