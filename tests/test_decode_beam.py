"""CTC prefix beam search without LM: exactness, greedy agreement, batching, timestamps, no torch."""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import subprocess
import sys

import numpy as np
import pytest

from recog.decode import BeamDecoder, decode_batch, greedy_decode, prefix_beam_search
from recog.text import Alphabet

EXACT = dict(token_min_logp=-np.inf, beam_threshold=np.inf, blank_skip_threshold=None)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=-1, keepdims=True))).astype(np.float32)


def collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out, prev = [], 0
    for k in path:
        if k != 0 and k != prev:
            out.append(k)
        prev = k
    return tuple(out)


def brute_force(lp: np.ndarray) -> dict[tuple[int, ...], float]:
    """log P(labels) for every label sequence, summing over all V^T frame paths."""
    T, V = lp.shape
    totals: dict[tuple[int, ...], list[float]] = {}
    for path in itertools.product(range(V), repeat=T):
        totals.setdefault(collapse(path), []).append(float(sum(lp[t, k] for t, k in enumerate(path))))
    return {labels: float(np.logaddexp.reduce(v)) for labels, v in totals.items()}


def peaked(rng: np.random.Generator, labels: list[int], T: int, V: int, sharp: float = 8.0) -> np.ndarray:
    """Log-probs whose best path spells `labels` with blanks between them, plus noise."""
    logits = rng.normal(0.0, 1.0, size=(T, V))
    path = np.zeros(T, np.int64)
    slots = np.sort(rng.choice(np.arange(1, T - 1), size=len(labels), replace=False))
    for k, t in zip(labels, slots, strict=True):
        path[t] = k
        if t + 1 < T and rng.random() < 0.5 and path[t + 1] == 0:
            path[t + 1] = k
    logits[np.arange(T), path] += sharp
    return log_softmax(logits)


def test_wide_beam_finds_most_probable_labelling():
    rng = np.random.default_rng(0)
    for trial in range(12):
        T = int(rng.integers(1, 7))
        V = int(rng.integers(2, 5))
        lp = log_softmax(rng.normal(0.0, 1.5, size=(T, V)))
        exact = brute_force(lp)
        best_labels = max(exact, key=exact.get)
        hyps = prefix_beam_search(lp, beam_width=2000, num_results=3, **EXACT)
        assert tuple(hyps[0].tokens) == best_labels, f"trial {trial}"
        assert hyps[0].am_score == pytest.approx(exact[best_labels], abs=1e-5)
        assert hyps[0].score == pytest.approx(exact[best_labels], abs=1e-5)
        for h in hyps:  # every N-best entry carries its exact CTC probability
            assert h.am_score == pytest.approx(exact[tuple(h.tokens)], abs=1e-5)
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


def test_top1_equals_greedy_on_peaked_distributions():
    rng = np.random.default_rng(1)
    V = 12
    for _ in range(10):
        labels = [int(k) for k in rng.integers(1, V, size=8)]
        lp = peaked(rng, labels, 40, V)
        assert prefix_beam_search(lp, beam_width=8)[0].tokens == greedy_decode(lp)


def test_batch_matches_single_and_respects_lengths():
    rng = np.random.default_rng(2)
    V, T = 10, 60
    alphabet = Alphabet.from_string(" abcdefgh")
    mats = [peaked(rng, [int(k) for k in rng.integers(1, V, size=n)], t, V, sharp=3.0) for n, t in [(5, 60), (3, 25), (0, 10), (9, 47)]]
    batch = np.zeros((len(mats), T, V), np.float32)
    for b, m in enumerate(mats):
        batch[b, : len(m)] = m
        batch[b, len(m) :] = rng.normal(size=(T - len(m), V))  # junk past the length is ignored
    lengths = [len(m) for m in mats]
    dec = BeamDecoder(alphabet, beam_width=8, num_results=2)
    got = dec.decode_batch(batch, lengths)
    for m, hyps in zip(mats, got, strict=True):
        single = dec.decode(m)
        assert [h.tokens for h in hyps] == [h.tokens for h in single]
        assert [h.score for h in hyps] == pytest.approx([h.score for h in single], abs=1e-9)
    functional = decode_batch(batch, lengths, beam_width=8, alphabet=alphabet)
    assert [r[0].text for r in functional] == [r[0].text for r in got]


def test_decode_batch_in_threads_and_in_a_spawned_process():
    rng = np.random.default_rng(4)
    V, B, T = 9, 6, 50
    batch = np.stack([peaked(rng, [int(k) for k in rng.integers(1, V, size=6)], T, V, sharp=4.0) for _ in range(B)])
    lengths = np.full(B, T)
    dec = BeamDecoder(Alphabet.from_string(" abcdefg"), beam_width=8, num_threads=2)
    expected = [r[0].tokens for r in dec.decode_batch(batch, lengths)]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda _: [r[0].tokens for r in dec.decode_batch(batch, lengths)], range(6)))
    assert all(r == expected for r in runs)
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        remote = pool.submit(decode_batch, batch, lengths, 8).result(timeout=300)
    assert [r[0].tokens for r in remote] == expected


def test_token_frames_and_word_times():
    V = 4  # blank, " ", "a", "b"
    alphabet = Alphabet.from_string(" ab")
    path = [0, 2, 2, 0, 0, 1, 3, 0, 3, 3, 0]  # "a" frames 1-2, " " 5, "b" 6, "b" 8-9
    lp = np.full((len(path), V), np.log(0.01 / 3), np.float32)
    lp[np.arange(len(path)), path] = np.log(0.99)
    best = BeamDecoder(alphabet, beam_width=4).decode(lp)[0]
    assert best.text == "a bb"
    assert best.token_frames == [(1, 2), (5, 5), (6, 6), (8, 9)]
    words = best.word_times(0.04)
    assert [w for w, _, _ in words] == ["a", "bb"]
    assert [x for _, a, b in words for x in (a, b)] == pytest.approx([0.04, 0.12, 0.24, 0.40])
    assert best.start_frames == [1, 5, 6, 8]


def test_rejects_bad_shapes():
    alphabet = Alphabet.from_string("ab")
    dec = BeamDecoder(alphabet)
    with pytest.raises(ValueError, match="3 tokens"):
        dec.decode(np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match=r"\[T, V\]"):
        dec.decode(np.zeros((2, 5, 3), np.float32))


def test_decode_never_imports_torch():
    code = (
        "import sys, numpy as np\n"
        "from recog.decode import BeamDecoder, NgramLM, build_lm, tune_alpha_beta\n"
        "from recog.text import Alphabet\n"
        "lp = np.log(np.full((5, 3), 1 / 3, np.float32))\n"
        "BeamDecoder(Alphabet.from_string('ab')).decode(lp)\n"
        "assert 'torch' not in sys.modules, 'recog.decode imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def ctc_log_prob(lp: np.ndarray, labels: list[int]) -> float:
    """log P(labels | lp) by the CTC forward algorithm (Graves et al. 2006)."""
    ext = [0]
    for k in labels:
        ext += [k, 0]
    alpha = np.full(len(ext), -np.inf)
    alpha[0] = lp[0, 0]
    if labels:
        alpha[1] = lp[0, ext[1]]
    for t in range(1, lp.shape[0]):
        prev = alpha.copy()
        for s in range(len(ext)):
            acc = prev[s]
            if s >= 1:
                acc = np.logaddexp(acc, prev[s - 1])
            if s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2]:
                acc = np.logaddexp(acc, prev[s - 2])
            alpha[s] = acc + lp[t, ext[s]]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if labels else alpha[-1])


def test_matches_pyctcdecode_top1_without_lm():
    pyctcdecode = pytest.importorskip("pyctcdecode")
    rng = np.random.default_rng(3)
    letters = list("abcdefghijklmnopqrstuvwxyz'")
    alphabet = Alphabet.from_string(" " + "".join(letters))
    ours = BeamDecoder(alphabet, beam_width=16, token_min_logp=-5.0)
    theirs = pyctcdecode.build_ctcdecoder([""] + alphabet.tokens[1:])
    differ = 0
    for _ in range(30):
        text = " ".join("".join(rng.choice(letters, size=int(rng.integers(2, 7)))) for _ in range(4))
        lp = peaked(rng, alphabet.encode(text), 4 * len(text), len(alphabet), sharp=6.0)
        a = " ".join(ours.decode(lp)[0].text.split())
        b = " ".join(theirs.decode(lp, beam_width=16).split())
        if a != b:
            differ += 1
            # Where the two searches disagree, ours must have found the more probable text.
            assert ctc_log_prob(lp, alphabet.encode(a)) >= ctc_log_prob(lp, alphabet.encode(b)) - 1e-6
    assert differ <= 1


def test_word_unit_alphabet_decodes_plainly_and_refuses_spelling_options():
    alphabet = Alphabet(["one", "two"], units="word")
    lp = np.log(np.array([[0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]], np.float32))
    best = BeamDecoder(alphabet, beam_width=4).decode(lp)[0]
    assert best.tokens == [1, 2] and best.text == "one two"
    with pytest.raises(ValueError, match="word-unit"):
        BeamDecoder(alphabet, lexicon=["one"])
