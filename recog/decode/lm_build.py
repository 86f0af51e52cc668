"""Build an ARPA n-gram LM with interpolated modified Kneser-Ney smoothing.

The estimate follows Chen & Goodman, "An empirical study of smoothing
techniques for language modeling" (1998, section 3.4: modified Kneser-Ney,
interpolated), with the conventions of KenLM's `lmplz` (Heafield et al.,
"Scalable modified Kneser-Ney language model estimation", ACL 2013):

- sentences are padded with one `<s>` and one `</s>`;
- the highest order uses raw counts; lower orders use *adjusted* counts, the
  number of distinct words seen to the left (continuation counts), except
  n-grams that start with `<s>`, which cannot be extended left and keep raw counts;
- three discounts per order from the counts-of-adjusted-counts t1..t4:
  Y = t1 / (t1 + 2 t2), D1 = 1 - 2Y t2/t1, D2 = 2 - 3Y t3/t2, D3+ = 3 - 4Y t4/t3;
  where the data are too small for these (a t_k is 0 or a D out of range) the
  fallback (0.5, 1.0, 1.5) is used, as `lmplz --discount_fallback` does;
- p(w | h) = (a(hw) - D(a(hw))) / a(h.) + gamma(h) p(w | h[1:]),
  gamma(h) = (D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)) / a(h.),
  and unigrams are interpolated with the uniform distribution over the
  vocabulary (every word but `<s>`, plus `<unk>`).

Written as a back-off model, p(w | h) of a listed n-gram is the interpolated
value and the back-off weight of `h` is gamma(h), so every history's
distribution sums to one exactly (up to the printed precision).

Units: "word" splits lines on whitespace; "char" makes every character a
token and writes whitespace runs as the token `<space>`.
Held in memory with Python dicts: meant for corpora of up to some millions of tokens.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from recog.decode.lm import BOS, EOS, UNK
from recog.text import read_text_lines

SPACE_TOKEN = "<space>"
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
# log10 probability written for <s>, which is never predicted (SRILM and KenLM write the same).
BOS_LOG10 = -99.0


def tokenize(line: str, unit: str) -> list[str]:
    """One line of text -> LM tokens: words (`unit="word"`) or characters with `<space>` (`"char"`)."""
    if unit == "word":
        return line.split()
    if unit == "char":
        out: list[str] = []
        for word in line.split():
            if out:
                out.append(SPACE_TOKEN)
            out.extend(word)
        return out
    raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")


def discounts(count_of_counts: Counter, order: int) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts (D1, D2, D3+) from counts-of-counts t1..t4 (Chen & Goodman eq. 26)."""
    t1, t2, t3, t4 = (count_of_counts.get(k, 0) for k in (1, 2, 3, 4))
    try:
        y = t1 / (t1 + 2 * t2)
        ds = (1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
    except ZeroDivisionError:
        ds = None
    if ds is None or not all(0 < d < k for d, k in zip(ds, (1, 2, 3), strict=True)):
        warnings.warn(
            f"too little data to estimate {order}-gram discounts (counts of counts t1..t4 = "
            f"{t1}, {t2}, {t3}, {t4}); using {FALLBACK_DISCOUNTS}",
            stacklevel=3,
        )
        return FALLBACK_DISCOUNTS
    return ds


def estimate(sentences: Iterable[list[str]], order: int) -> tuple[list[str], list[dict[tuple[int, ...], tuple[float, float]]]]:
    """Modified Kneser-Ney estimate from tokenized sentences.

    Returns:
        vocab: words by id (`<unk>`, `<s>`, `</s>`, then words in order of appearance).
        ngrams: one dict per order n mapping word-id tuples to
            (log10 p, log10 back-off weight), the back-off 0.0 where it is 1.
    """
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    vocab = [UNK, BOS, EOS]
    ids = {w: i for i, w in enumerate(vocab)}
    bos, eos, unk = ids[BOS], ids[EOS], ids[UNK]
    raw: list[Counter] = [Counter() for _ in range(order)]
    n_sentences = 0
    for words in sentences:
        seq = [bos]
        for w in words:
            if w not in ids:
                ids[w] = len(vocab)
                vocab.append(w)
            seq.append(ids[w])
        seq.append(eos)
        n_sentences += 1
        for i in range(1, len(seq)):  # predict seq[i]
            for n in range(1, min(order, i + 1) + 1):
                raw[n - 1][tuple(seq[i - n + 1 : i + 1])] += 1
    if n_sentences == 0:
        raise ValueError("no sentences to estimate an LM from")

    # Adjusted counts: raw for the highest order and for n-grams starting with <s>,
    # otherwise the number of distinct left extensions.
    adjusted: list[dict[tuple[int, ...], int]] = [dict() for _ in range(order)]
    adjusted[order - 1] = dict(raw[order - 1])
    for n in range(order - 1, 0, -1):  # fill order n (index n-1) from order n+1
        cont: Counter = Counter()
        for gram in raw[n]:
            cont[gram[1:]] += 1
        adj = adjusted[n - 1]
        for gram, c in raw[n - 1].items():
            adj[gram] = c if gram[0] == bos else cont[gram]

    d_by_order = [discounts(Counter(adjusted[n].values()), n + 1) for n in range(order)]

    # Per-history totals: a(h.), and N1, N2, N3+ of the extensions.
    probs: list[dict[tuple[int, ...], float]] = []
    gammas: list[dict[tuple[int, ...], float]] = []
    for n in range(order):
        d1, d2, d3 = d_by_order[n]
        total: dict[tuple[int, ...], float] = defaultdict(float)
        mass: dict[tuple[int, ...], float] = defaultdict(float)
        for gram, a in adjusted[n].items():
            h = gram[:-1]
            total[h] += a
            mass[h] += d1 if a == 1 else d2 if a == 2 else d3
        gamma = {h: mass[h] / total[h] for h in total}
        p: dict[tuple[int, ...], float] = {}
        for gram, a in adjusted[n].items():
            h = gram[:-1]
            d = d1 if a == 1 else d2 if a == 2 else d3
            p[gram] = (a - d) / total[h]
        probs.append(p)
        gammas.append(gamma)

    # Interpolate with lower orders; unigrams with the uniform distribution.
    n_predictable = len(vocab) - 1  # all but <s>
    uniform = 1.0 / n_predictable
    g0 = gammas[0].get((), 1.0)
    interp: list[dict[tuple[int, ...], float]] = [dict() for _ in range(order)]
    for w in range(len(vocab)):
        if w != bos:
            interp[0][(w,)] = probs[0].get((w,), 0.0) + g0 * uniform
    for n in range(1, order):
        lower = interp[n - 1]
        for gram, u in probs[n].items():
            interp[n][gram] = u + gammas[n][gram[:-1]] * lower[gram[1:]]

    ngrams: list[dict[tuple[int, ...], tuple[float, float]]] = []
    for n in range(order):
        table: dict[tuple[int, ...], tuple[float, float]] = {}
        next_gammas = gammas[n + 1] if n + 1 < order else {}
        if n == 0:
            table[(bos,)] = (BOS_LOG10, _log10(next_gammas.get((bos,))))
        for gram, p in interp[n].items():
            table[gram] = (math.log10(p), _log10(next_gammas.get(gram)))
        ngrams.append(table)
    del unk
    return vocab, ngrams


def _log10(gamma: float | None) -> float:
    return 0.0 if gamma is None else math.log10(gamma)


def write_arpa(vocab: list[str], ngrams: list[dict[tuple[int, ...], tuple[float, float]]], path: str | Path) -> None:
    """Write (vocab, ngrams with log10 values) as an ARPA file, n-grams in sorted order."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("\\data\\\n")
        for n, table in enumerate(ngrams):
            f.write(f"ngram {n + 1}={len(table)}\n")
        last = len(ngrams) - 1
        for n, table in enumerate(ngrams):
            f.write(f"\n\\{n + 1}-grams:\n")
            for gram in sorted(table, key=lambda g: [vocab[i] for i in g]):
                lp, bo = table[gram]
                words = " ".join(vocab[i] for i in gram)
                if n < last and bo != 0.0:
                    f.write(f"{lp:.7g}\t{words}\t{bo:.7g}\n")
                else:
                    f.write(f"{lp:.7g}\t{words}\n")
        f.write("\n\\end\\\n")


def read_sentences(path: str | Path, unit: str) -> Iterator[list[str]]:
    """Tokenized non-empty lines of a UTF-8 text file, or the "text" of each row of a
    JSONL manifest (a path ending in .jsonl), so a recipe's training transcripts need
    no export step."""
    for line in read_lines(path):
        tokens = tokenize(line, unit)
        if tokens:
            yield tokens


def read_lines(path: str | Path) -> Iterator[str]:
    """Lines of a text file, or the "text" values of a JSONL manifest (error: file and line)."""
    if str(path).endswith(".jsonl"):
        from recog.data.jsonl import iter_json_objects

        for lineno, row in iter_json_objects(path):
            if not isinstance(row.get("text"), str):
                raise ValueError(f"{path}:{lineno}: a manifest row without a \"text\" string")
            yield row["text"]
        return
    yield from read_text_lines(path)


def build_lm(text_path: str | Path, arpa_path: str | Path, order: int, unit: str = "word") -> dict[str, int]:
    """Estimate a modified Kneser-Ney LM from a text file (one sentence per line) and write ARPA.

    Returns:
        counts: {"sentences": ..., "vocab": ..., "1-grams": ..., ...} for reporting.
    """
    if unit not in ("word", "char"):
        raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
    sentences = list(read_sentences(text_path, unit))
    for k, tokens in enumerate(sentences, 1):
        marks = {"<s>", "</s>"} & set(tokens) if unit == "word" else set()
        if marks:
            raise ValueError(f"{text_path}: sentence {k} holds {' and '.join(sorted(marks))}; the builder adds the "
                             "sentence marks itself: remove them from the text")
    if not sentences:
        raise ValueError(f"{text_path}: no text to build an LM from")
    vocab, ngrams = estimate(sentences, order)
    write_arpa(vocab, ngrams, arpa_path)
    info = {"sentences": len(sentences), "vocab": len(vocab)}
    info.update({f"{n + 1}-grams": len(t) for n, t in enumerate(ngrams)})
    return info
