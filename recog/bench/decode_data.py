"""Inputs of the decoder benchmark: log-prob matrices with references, and the LMs built from text.

Two sources: a synthetic "language" (peaked [T, V] matrices that spell
sentences of a random word-bigram model) and real model outputs saved in an
.npz file.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recog.text import Alphabet

SYNTH_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'-()&%$#@+"
assert len(SYNTH_CHARS) == 78  # with blank and space: V = 80


class SyntheticLanguage:
    """Sentences from a random word-bigram model over a Zipfian vocabulary (seeded).

    Args:
        seed: seed of the vocabulary and the bigram successors.
        n_words: vocabulary size; words are 2-8 characters of SYNTH_CHARS.
    """

    def __init__(self, seed: int = 0, n_words: int = 3000):
        rng = np.random.default_rng(seed)
        letter_p = 1.0 / np.arange(1, len(SYNTH_CHARS) + 1) ** 0.8
        letter_p /= letter_p.sum()
        words: set[str] = set()
        while len(words) < n_words:
            n = int(rng.integers(2, 9))
            words.add("".join(rng.choice(list(SYNTH_CHARS), size=n, p=letter_p)))
        self.words = sorted(words)
        rng.shuffle(self.words)
        self.unigram = 1.0 / np.arange(1, n_words + 1) ** 1.0
        self.unigram /= self.unigram.sum()
        # Each word has a few favourite successors: a bigram LM can partly predict them.
        self.successors = rng.integers(0, n_words, size=(n_words, 8))

    def sentence(self, rng: np.random.Generator, max_chars: int) -> str:
        """One sentence of at most `max_chars` characters (at least one word)."""
        w = int(rng.choice(len(self.words), p=self.unigram))
        out = [self.words[w]]
        while True:
            if rng.random() < 0.6:
                w = int(self.successors[w, rng.integers(0, 8)])
            else:
                w = int(rng.choice(len(self.words), p=self.unigram))
            if len(" ".join(out)) + 1 + len(self.words[w]) > max_chars:
                return " ".join(out)
            out.append(self.words[w])


def synthetic_log_probs(text: str, alphabet: Alphabet, T: int, rng: np.random.Generator) -> np.ndarray:
    """A [T, V] float32 natural-log-prob matrix whose frames spell `text` with blanks.

    Peaked like a trained CTC model: blank-dominated gaps, mostly confident
    tokens, and about 12 % of token frames with a close rival token.
    """
    V = len(alphabet)
    labels = alphabet.encode(text)
    durations = rng.integers(1, 3, size=len(labels))
    spare = T - int(durations.sum()) - len(labels) - 1
    if spare < 0:
        raise ValueError(f"text of {len(labels)} tokens does not fit in {T} frames")
    # Blank frames around and between tokens, filled up to T.
    gaps = 1 + rng.multinomial(spare, np.full(len(labels) + 1, 1.0 / (len(labels) + 1)))
    path = np.zeros(T, np.int64)
    t = int(gaps[0])
    for k, d, g in zip(labels, durations, gaps[1:], strict=True):
        path[t : t + d] = k
        t += int(d) + int(g)
    logits = rng.normal(0.0, 2.0, size=(T, V))
    peak = np.clip(rng.normal(16.0, 4.0, size=T), 4.0, 24.0)
    logits[np.arange(T), path] += peak
    token_frames = np.flatnonzero(path > 0)
    hard = token_frames[rng.random(token_frames.size) < 0.12]
    rivals = rng.integers(1, V, size=hard.size)
    logits[hard, rivals] = logits[hard, path[hard]] + rng.normal(-0.5, 1.0, size=hard.size)
    logits -= logits.max(axis=1, keepdims=True)
    return (logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))).astype(np.float32)


@dataclass
class DecodeDataset:
    """What every decoder is run on.

    Attributes:
        name: a label for the report, e.g. "synthetic [500, 80] x 200".
        alphabet: the tokens (blank = 0) the log-probs are over.
        log_probs: one [T_i, V] float32 natural-log matrix per utterance.
        references: one reference transcript per utterance.
        lm_text: sentences the LMs are estimated from.
    """

    name: str
    alphabet: Alphabet
    log_probs: list[np.ndarray]
    references: list[str]
    lm_text: list[str]


def synthetic_dataset(n: int, T: int = 500, seed: int = 0) -> DecodeDataset:
    """`n` synthetic [T, 80] utterances and 3000 other sentences of the same language for the LMs."""
    lang = SyntheticLanguage(seed)
    rng = np.random.default_rng(seed + 1)
    alphabet = Alphabet.from_string(" " + SYNTH_CHARS)
    refs = [lang.sentence(rng, max_chars=int(T * 0.28)) for _ in range(n)]
    lps = [synthetic_log_probs(r, alphabet, T, rng) for r in refs]
    lm_text = [lang.sentence(rng, max_chars=200) for _ in range(3000)]
    return DecodeDataset(f"synthetic [{T}, {len(alphabet)}] x {n}", alphabet, lps, refs, lm_text)


def npz_dataset(path: str | Path, lm_text_path: str | Path | None) -> DecodeDataset:
    """Real model outputs from an .npz file.

    Keys: `log_probs` (object array of [T, V], or padded [B, T, V] with `lengths`),
    `references` (strings), `alphabet` (the non-blank tokens as one string).
    The LMs come from `lm_text_path` (one sentence a line), else from the
    references themselves (which flatters the LM).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: log-probs file not found")
    data = np.load(path, allow_pickle=True)
    missing = [k for k in ("log_probs", "references", "alphabet") if k not in data]
    if missing:
        raise ValueError(f"{path}: missing array(s) {', '.join(missing)} (see `recog bench decode --help`)")
    alphabet = Alphabet.from_string(str(data["alphabet"]), str(data["units"]) if "units" in data else "char")
    raw = data["log_probs"]
    if raw.dtype == object:
        lps = [np.ascontiguousarray(x, np.float32) for x in raw]
    else:
        lengths = data["lengths"] if "lengths" in data else np.full(raw.shape[0], raw.shape[1])
        lps = [np.ascontiguousarray(raw[b, : int(lengths[b])], np.float32) for b in range(raw.shape[0])]
    if any(lp.ndim != 2 for lp in lps):
        raise ValueError(f"{path}: log-probs of shape {next(lp.shape for lp in lps if lp.ndim != 2)}, not [T, V]: "
                         "an ensemble's members ([T, M, V]); save one member's file's log-probs to benchmark decoders")
    refs = [str(r) for r in data["references"]]
    if lm_text_path:
        lines = Path(lm_text_path).read_text(encoding="utf-8").splitlines()
        lm_text = [line.strip() for line in lines if line.strip()]
    else:
        lm_text = refs
    return DecodeDataset(f"{path.name} x {len(lps)}", alphabet, lps, refs, lm_text)


def build_lms(ds: DecodeDataset, workdir: Path, kinds: tuple[str, ...], char_order: int,
              word_order: int) -> dict[str, Path]:
    """ARPA files in `workdir` for the LM `kinds` asked for: "char" (character `char_order`-gram)
    and "word" (word `word_order`-gram); "none" needs no file."""
    from recog.decode.lm_build import build_lm

    text = workdir / "lm_text.txt"
    text.write_text("\n".join(ds.lm_text) + "\n", encoding="utf-8")
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if "char" in kinds:
            out["char"] = workdir / f"char{char_order}.arpa"
            build_lm(text, out["char"], char_order, "char")
        if "word" in kinds:
            out["word"] = workdir / f"word{word_order}.arpa"
            build_lm(text, out["word"], word_order, "word")
    return out
