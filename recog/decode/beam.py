"""CTC prefix beam search with n-gram LM fusion, lexicon and hotwords: the Python API.

`BeamDecoder` is the one entry point that `recog evaluate`, `recog transcribe`,
the runtime and the server use; `prefix_beam_search` and `decode_batch` are
functional shortcuts around it. The search itself is the numba kernel in
`recog.decode.search_kernel` (paper references there).

Shallow fusion (Hannun et al. 2014; Gulcehre et al. 2015):

    score = log P_ctc(prefix) + alpha * log P_LM(words) + beta * |words|

with the LM applied per character (character LM: each token, `<space>` for
the separator) or per word (word LM: a word is scored when it is complete;
until then it carries the best unigram probability among the words it can
still become, and as soon as it can no longer become a known word it pays
`unk_char_score` per token plus, once per run of unknown words,
`alpha * log p(<unk>)`). Gluing known words into one unknown word is therefore
expensive and pruned early, and unknown text costs the same whether it is
split into words or glued into one, so acoustics and beta decide where the
spaces go. This is the cure for the missing spaces that users of word-LM
decoders report ("liketo visitthat").
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

from recog.decode.config import (
    ALPHA,
    BEAM_WIDTH,
    BETA,
    HOTWORD_WEIGHT,
    DecoderConfig,
    check_settings,
)
from recog.decode.lexicon import Hotwords, WordTrie, read_hotwords, read_word_list
from recog.decode.lm import NgramLM, load_lm
from recog.decode.result import Alternative, DecodeResult, token_confidences, words_from_frames
from recog.decode.search_kernel import (
    LM_CHAR,
    LM_NONE,
    LM_WORD,
    N_FPARAMS,
    N_IPARAMS,
    P_ALPHA,
    P_BEAM_THRESHOLD,
    P_BETA,
    P_BLANK_SKIP_LOGP,
    P_HOT_MAX,
    P_INVALID,
    P_TOKEN_MIN_LOGP,
    P_UNK_CHAR,
    P_UNK_UNIGRAM,
    Q_ALIGN,
    Q_BEAM_WIDTH,
    Q_CONSTRAIN,
    Q_EXACT_EXT,
    Q_HAS_TRIE,
    Q_HOTWORDS,
    Q_LM_MODE,
    Q_LOOKAHEAD,
    Q_NUM_RESULTS,
    Q_SPACE,
    Q_TOKEN_TOP_K,
    beam_search_batch_kernel,
    beam_search_kernel,
)
from recog.text import Alphabet

# Score of a hypothesis that ends inside a word that the lexicon does not allow.
INVALID_SCORE = -1.0e9
# numba's "workqueue" threading layer (the fallback when neither TBB nor OpenMP is
# available) aborts on concurrent parallel launches: calls from several Python threads
# then take turns. With OpenMP or TBB they run at the same time.
_workqueue_lock = threading.Lock()


def _parallel_guard() -> contextlib.AbstractContextManager:
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        layer = ""
    return _workqueue_lock if layer in ("", "workqueue") else contextlib.nullcontext()


@dataclass
class Hypothesis:
    """One decoding result.

    Attributes:
        tokens: token ids, blanks and repeats removed.
        score: total log score used for ranking (natural log):
            am_score + alpha * lm_score + beta * words (+ hotword bonus, OOV penalties).
        am_score: CTC log-probability of the label sequence (sum over its alignments).
        lm_score: natural-log LM probability of the text, `</s>` included (0 without LM).
        token_frames: (first, last) frame of each token on the best CTC alignment.
        text: the tokens as text (empty when the decoder has no alphabet).
    """

    tokens: list[int]
    score: float
    am_score: float
    lm_score: float
    token_frames: list[tuple[int, int]]
    text: str = ""

    @property
    def start_frames(self) -> list[int]:
        """First frame of each token."""
        return [a for a, _ in self.token_frames]

    @property
    def end_frames(self) -> list[int]:
        """Last frame of each token."""
        return [b for _, b in self.token_frames]

    def word_times(self, seconds_per_frame: float) -> list[tuple[str, float, float]]:
        """(word, start s, end s) per word of `text` (`recog.decode.result.words_from_frames`):
        start = first frame of its first token, end = one frame past the last frame of its last token.

        Args:
            seconds_per_frame: duration of one log-prob frame (hop length x subsampling, e.g. 0.04).
        """
        if len(self.text) != len(self.token_frames):
            raise ValueError("word_times needs `text` with one character per token")
        words = words_from_frames(list(self.text), self.start_frames, 1.0 / seconds_per_frame, self.end_frames)
        return [(w.word, w.start, w.end) for w in words]


@dataclass
class BeamDecoder:
    """CTC prefix beam search decoder with optional n-gram LM, lexicon and hotwords.

    Build once, then call `decode(log_probs)` per utterance or
    `decode_batch(log_probs, lengths)` for a batch decoded in parallel on CPU
    threads. Holds no torch objects: usable in a deployment without torch.

    Args:
        alphabet: the model's `Alphabet` (blank = 0; " " separates words).
        beam_width: prefixes kept per frame.
        lm_path: ARPA path or a loaded `NgramLM`; None for no LM.
        alpha: LM weight.
        beta: bonus per word (natural-log units).
        lm_unit: "char", "word" or "auto" (char when every LM word is one character).
        lexicon: allowed words (a path to a word list / lexicon file, or an iterable);
            None for open vocabulary.
        hotwords: phrases to boost: strings or (string, weight-per-token) pairs, or the path
            of a hotword file (`recog.decode.lexicon.read_hotwords`).
        hotword_weight: bonus per matched token for phrases given without a weight.
        token_min_logp: per frame, tokens with a smaller log-prob are not tried.
        token_top_k: per frame, at most this many tokens are tried (None: all).
        beam_threshold: prefixes scoring more than this below the best are dropped.
        blank_skip_threshold: frames whose blank probability reaches this
            (0..1] only advance existing prefixes (None: never skip).
        num_results: hypotheses returned per utterance (N-best), best first.
        unk_char_score: under a word LM, added per token of an out-of-vocabulary word
            (per token rather than per word, so that splitting or gluing unknown
            text does not change its cost).
        lm_lookahead: under a word LM, let a partial word carry the best unigram
            score of the words it can become.
        space_symbol: the word separator in a character LM (default: found in the LM's vocabulary).
        timestamps: align each result to the frames for `token_frames` (CTC Viterbi
            alignment, about a tenth of the decoding time); False leaves them (-1, -1).
        num_threads: threads for `decode_batch` (None: numba's default, all cores).

    Example:
        >>> dec = BeamDecoder(alphabet, beam_width=16, lm_path="lm.arpa", alpha=0.5, beta=1.0)
        >>> best = dec.decode(log_probs)[0]          # log_probs: [T, V] float32, natural log
        >>> best.text, best.word_times(0.04)
    """

    alphabet: Alphabet
    beam_width: int = BEAM_WIDTH
    lm_path: str | Path | NgramLM | None = None
    alpha: float = ALPHA
    beta: float = BETA
    lm_unit: str = "auto"
    lexicon: str | Path | Iterable[str] | None = None
    hotwords: str | Path | Iterable[str | tuple[str, float]] | None = None
    hotword_weight: float = HOTWORD_WEIGHT
    token_min_logp: float = -10.0
    token_top_k: int | None = None
    beam_threshold: float = 20.0
    blank_skip_threshold: float | None = 0.999
    num_results: int = 1
    unk_char_score: float = -2.0
    lm_lookahead: bool = True
    space_symbol: str | None = None
    timestamps: bool = True
    num_threads: int | None = None
    ngram_lm: NgramLM | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        check_settings(self.beam_width, self.alpha, self.beta, self.hotword_weight)
        if self.num_results < 1:
            raise ValueError(f"num_results must be at least 1, got {self.num_results}")
        alphabet = self.alphabet
        if alphabet.units == "word" and (self.lm_path is not None or self.lexicon is not None or self.hotwords is not None):
            raise ValueError("a word-unit alphabet decodes without an LM, a lexicon or hotwords "
                             "(they spell words; its tokens already are words)")
        vsize = len(alphabet)
        space = alphabet.tokens.index(" ") if " " in alphabet.tokens else -1
        self.ngram_lm = load_lm(self.lm_path) if self.lm_path is not None else None
        lm_mode = LM_NONE
        unit = ""
        if self.ngram_lm is not None:
            unit = self.ngram_lm.unit if self.lm_unit == "auto" else self.lm_unit
            if unit not in ("char", "word"):
                raise ValueError(f"lm_unit must be 'auto', 'char' or 'word', got {self.lm_unit!r}")
            lm_mode = LM_CHAR if unit == "char" else LM_WORD
        self.unit = unit

        tok2lm = np.zeros(vsize, np.int32)
        unk_unigram = 0.0
        lm = self.ngram_lm
        if lm is not None:
            unk_unigram = lm.score_word(0, lm.unk)[0]
            if lm_mode == LM_CHAR:
                sep = self.space_symbol or lm.space_symbol or "<space>"
                for i, tok in enumerate(alphabet.tokens[1:], start=1):
                    tok2lm[i] = lm.id(sep if tok == " " else tok)

        words: list[str] | None = None
        if self.lexicon is not None:
            words = read_word_list(self.lexicon) if isinstance(self.lexicon, str | Path) else list(self.lexicon)
        if self.hotwords is not None:
            phrases = read_hotwords(self.hotwords) if isinstance(self.hotwords, str | Path) else self.hotwords
            self._hotwords = Hotwords(phrases, alphabet, self.hotword_weight)
        else:
            self._hotwords = Hotwords.empty(alphabet)
        if words is not None and len(self._hotwords):
            # Hotwords must be spellable under the lexicon.
            extra = {w for phrase, _ in self._hotwords.phrases for w in phrase.split()}
            words = words + sorted(extra - set(words))
        if lm_mode == LM_WORD:
            assert lm is not None
            specials = {"<s>", "</s>", "<unk>"}
            if words is None:
                words = [w for w in lm.vocab if w not in specials]
            ids = [lm.id(w) for w in words]
            lps = [lm.score_word(0, i)[0] for i in ids]
            trie = WordTrie(words, alphabet, ids, lps)
        elif words is not None:
            trie = WordTrie(words, alphabet)
        else:
            trie = WordTrie.empty(alphabet)
        self._trie = trie
        # The kernel's (char_lm, word_lm, trie, hot) tables, None for a part not in use: numba
        # compiles the kernel without the code of the absent parts (search_kernel.beam_search_kernel).
        self._tables = (
            lm.tables if lm is not None and lm_mode == LM_CHAR else None,
            lm.tables if lm is not None and lm_mode == LM_WORD else None,
            trie.tables if lm_mode == LM_WORD or words is not None else None,
            self._hotwords.tables if len(self._hotwords) else None,
        )
        self._tok2lm = tok2lm

        fp = np.zeros(N_FPARAMS, np.float64)
        fp[P_ALPHA] = self.alpha if lm is not None else 0.0
        fp[P_BETA] = self.beta if lm is not None else 0.0
        fp[P_TOKEN_MIN_LOGP] = self.token_min_logp
        fp[P_BEAM_THRESHOLD] = self.beam_threshold
        if self.blank_skip_threshold is None:
            fp[P_BLANK_SKIP_LOGP] = np.inf
        else:
            if not 0.0 < self.blank_skip_threshold <= 1.0:
                raise ValueError(f"blank_skip_threshold must be in (0, 1], got {self.blank_skip_threshold}")
            fp[P_BLANK_SKIP_LOGP] = math.log(self.blank_skip_threshold)
        fp[P_UNK_CHAR] = self.unk_char_score
        fp[P_UNK_UNIGRAM] = unk_unigram
        fp[P_INVALID] = INVALID_SCORE
        fp[P_HOT_MAX] = max([0.0] + [w for _, w in self._hotwords.phrases])
        ip = np.zeros(N_IPARAMS, np.int64)
        ip[Q_BEAM_WIDTH] = self.beam_width
        ip[Q_TOKEN_TOP_K] = vsize if self.token_top_k is None else max(1, self.token_top_k)
        ip[Q_NUM_RESULTS] = self.num_results
        ip[Q_LM_MODE] = lm_mode
        ip[Q_CONSTRAIN] = int(self.lexicon is not None)
        ip[Q_HOTWORDS] = int(len(self._hotwords) > 0)
        ip[Q_SPACE] = space
        ip[Q_LOOKAHEAD] = int(self.lm_lookahead)
        ip[Q_HAS_TRIE] = int(trie.num_nodes > 1)
        ip[Q_ALIGN] = int(self.timestamps)
        ip[Q_EXACT_EXT] = int(lm_mode == LM_NONE and self.lexicon is None and not len(self._hotwords))
        if (lm_mode == LM_WORD or self.lexicon is not None) and space < 0:
            raise ValueError("a word LM or a lexicon needs a space (' ') in the alphabet")
        self._fp = fp
        self._ip = ip

    def with_weights(self, alpha: float, beta: float) -> BeamDecoder:
        """A copy with other LM weights that shares the loaded LM, tries and hotwords (cheap)."""
        check_settings(self.beam_width, alpha, beta, self.hotword_weight)
        other = copy.copy(self)
        other.alpha, other.beta = alpha, beta
        other._fp = self._fp.copy()
        other._fp[P_ALPHA] = alpha if self.ngram_lm is not None else 0.0
        other._fp[P_BETA] = beta if self.ngram_lm is not None else 0.0
        return other

    # ---- decoding -------------------------------------------------------------------
    def _check(self, log_probs: np.ndarray, ndim: int) -> np.ndarray:
        arr = np.ascontiguousarray(log_probs, dtype=np.float32)
        if arr.ndim != ndim:
            shape = "[T, V]" if ndim == 2 else "[B, T, V]"
            raise ValueError(f"log_probs must be {shape}, got shape {arr.shape}")
        if arr.shape[-1] != len(self.alphabet):
            raise ValueError(f"log_probs have {arr.shape[-1]} classes but the alphabet has {len(self.alphabet)} tokens (blank included)")
        return arr

    def _results(self, tokens, frames, lengths, scores) -> list[Hypothesis]:
        out: list[Hypothesis] = []
        text_of = self.alphabet.decode
        for r in range(lengths.shape[0]):
            n = int(lengths[r])
            if n < 0:
                break
            toks = tokens[r, :n].tolist()
            out.append(
                Hypothesis(
                    tokens=toks,
                    score=float(scores[r, 0]),
                    am_score=float(scores[r, 1]),
                    lm_score=float(scores[r, 2]),
                    token_frames=[(int(a), int(b)) for a, b in frames[r, :n]],
                    text=text_of(toks),
                )
            )
        # Hypotheses that end inside a word the lexicon forbids go, unless nothing else is left.
        valid = [h for h in out if h.score > INVALID_SCORE / 2]
        return valid or out[:1]

    def decode(self, log_probs: np.ndarray, length: int | None = None) -> list[Hypothesis]:
        """N-best hypotheses (best first) for one utterance.

        Args:
            log_probs: [T, V] natural-log posteriors (float32; blank = 0).
            length: frames to use (default T).
        """
        lp = self._check(log_probs, 2)
        T = lp.shape[0] if length is None else int(length)
        if not 0 <= T <= lp.shape[0]:
            raise ValueError(f"length {T} outside [0, {lp.shape[0]}]")
        R = self.num_results
        tokens = np.zeros((R, max(T, 1)), np.int32)
        frames = np.zeros((R, max(T, 1), 2), np.int32)
        lengths = np.zeros(R, np.int64)
        scores = np.zeros((R, 3), np.float64)
        beam_search_kernel(lp, T, *self._tables, self._tok2lm, self._fp, self._ip, tokens, frames, lengths, scores)
        return self._results(tokens, frames, lengths, scores)

    def decode_batch(self, log_probs: np.ndarray, lengths: Sequence[int] | np.ndarray | None = None) -> list[list[Hypothesis]]:
        """N-best hypotheses for each utterance of a padded batch, decoded in parallel threads.

        Args:
            log_probs: [B, T, V] natural-log posteriors (float32), padded in time.
            lengths: [B] valid frames per utterance (default: all T).
        Returns:
            One list of hypotheses (best first) per utterance.
        """
        lp = self._check(log_probs, 3)
        B, T, _ = lp.shape
        lens = np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64).reshape(-1)
        if lens.shape[0] != B:
            raise ValueError(f"lengths has {lens.shape[0]} entries for a batch of {B}")
        if B and (lens.min() < 0 or lens.max() > T):
            raise ValueError(f"lengths must lie in [0, {T}]")
        R = self.num_results
        tokens = np.zeros((B, R, max(T, 1)), np.int32)
        frames = np.zeros((B, R, max(T, 1), 2), np.int32)
        out_lengths = np.zeros((B, R), np.int64)
        scores = np.zeros((B, R, 3), np.float64)
        order = np.argsort(-lens, kind="stable").astype(np.int64)
        with _parallel_guard(), self._threads(), numba.parallel_chunksize(1):
            beam_search_batch_kernel(lp, lens, order, *self._tables, self._tok2lm, self._fp, self._ip, tokens, frames,
                                     out_lengths, scores)
        return [self._results(tokens[b], frames[b], out_lengths[b], scores[b]) for b in range(B)]

    @contextlib.contextmanager
    def _threads(self):
        if self.num_threads is None:
            yield
            return
        # numba's thread count is per calling thread; set it around the call and restore it.
        n = max(1, min(int(self.num_threads), numba.config.NUMBA_NUM_THREADS))
        old = numba.get_num_threads()
        numba.set_num_threads(n)
        try:
            yield
        finally:
            numba.set_num_threads(old)


def _decoder(alphabet: Alphabet | None, vsize: int, beam_width: int, lm, kwargs: dict) -> BeamDecoder:
    if alphabet is None:
        needs = [k for k in ("lexicon", "hotwords") if kwargs.get(k) is not None]
        if lm is not None or needs:
            raise ValueError("an alphabet is needed to use an LM, a lexicon or hotwords")
        # Anonymous tokens: the search only needs the vocabulary size.
        alphabet = Alphabet([chr(0x4E00 + i) for i in range(vsize - 1)])
        dec = BeamDecoder(alphabet, beam_width, None, **kwargs)
        dec.alphabet = alphabet
        dec._anonymous = True  # type: ignore[attr-defined]
        return dec
    return BeamDecoder(alphabet, beam_width, lm, **kwargs)


def prefix_beam_search(
    log_probs: np.ndarray,
    beam_width: int = BEAM_WIDTH,
    lm: str | Path | NgramLM | None = None,
    *,
    alphabet: Alphabet | None = None,
    **options,
) -> list[Hypothesis]:
    """CTC prefix beam search over one `[T, V]` float32 natural-log posterior matrix.

    Returns the N-best hypotheses, best first. `alphabet` is needed with an
    LM, a lexicon or hotwords (and to fill `Hypothesis.text`); `options` are
    the other `BeamDecoder` arguments (alpha, beta, lexicon, hotwords,
    token_min_logp, token_top_k, beam_threshold, blank_skip_threshold,
    num_results, ...). Builds a `BeamDecoder` per call: for many
    utterances build one and reuse it.
    """
    arr = np.asarray(log_probs)
    dec = _decoder(alphabet, arr.shape[-1], beam_width, lm, options)
    hyps = dec.decode(arr)
    if getattr(dec, "_anonymous", False):
        for h in hyps:
            h.text = ""
    return hyps


def decode_batch(
    log_probs: np.ndarray,
    lengths: Sequence[int] | np.ndarray | None = None,
    beam_width: int = BEAM_WIDTH,
    lm: str | Path | NgramLM | None = None,
    *,
    alphabet: Alphabet | None = None,
    **options,
) -> list[list[Hypothesis]]:
    """Prefix beam search over a padded batch `[B, T, V]` with `lengths [B]`, in parallel threads.

    Same options as `prefix_beam_search`; one N-best list per utterance.
    """
    arr = np.asarray(log_probs)
    dec = _decoder(alphabet, arr.shape[-1], beam_width, lm, options)
    results = dec.decode_batch(arr, lengths)
    if getattr(dec, "_anonymous", False):
        for hyps in results:
            for h in hyps:
                h.text = ""
    return results


def beam_decoder(config: DecoderConfig, alphabet: Alphabet, frame_rate: float):
    """A decoder (log-probs [T', V] -> `DecodeResult` of the best hypothesis, with the N-best
    list when `config.nbest` asks for it) from `config`."""
    beam = BeamDecoder(alphabet, beam_width=config.beam_width, lm_path=config.lm, alpha=config.alpha,
                       beta=config.beta, hotwords=config.hotwords, hotword_weight=config.hotword_weight,
                       num_results=max(1, config.nbest))

    def text_of(tokens: list[int]) -> str:
        return "".join(alphabet.spell(tokens, tokens)[0]).strip()

    def decode(log_probs: np.ndarray) -> DecodeResult:
        hyps = beam.decode(log_probs)
        hyp = hyps[0]
        starts, ends = hyp.start_frames, hyp.end_frames
        confidences = token_confidences(log_probs, hyp.tokens, starts, ends)
        chars, char_frames = alphabet.spell(hyp.tokens, starts)
        _, char_confidences = alphabet.spell(hyp.tokens, confidences)
        nbest = [Alternative(text_of(h.tokens), h.score, h.am_score, h.lm_score) for h in hyps] if config.nbest else []
        return DecodeResult("".join(chars).strip(), float(hyp.score), list(hyp.tokens), starts,
                            words_from_frames(chars, char_frames, frame_rate, confidences=char_confidences),
                            confidences, nbest)

    return decode
