"""English text for the handwriting LMs: word frequencies from `wordfreq`, not IAM.

The training transcripts of IAM-OnDB hold 29,000 words; 22 % of the words of
val1/val2 never occur in them, so a character LM built from them alone knows
little English spelling. This adds general English from the `wordfreq`
package (Speer, 2022: frequencies of 321,000 English words pooled from
Wikipedia, subtitles, news, books, web text and social media; no LOB text,
the source of IAM's sentences) and writes two files:

    DIR/lm_text.txt  the training transcripts, then N pseudo-lines of 8 words drawn
                     from the top-K wordfreq words in proportion to their frequency
                     (so the char n-gram learns spelling and word frequency; word
                     order across a line carries no information)
    DIR/words.txt    a soft lexicon for `--hotwords` with a small `--hotword-weight`:
                     every token of the training transcripts, and each top-K word
                     lower-case and Capitalized, bare and with "." or "," attached
                     (IAM references keep a word's trailing punctuation attached)
    DIR/english_params.json  what was generated; a re-run with equal parameters does nothing

wordfreq's data are CC BY-SA 4.0: files built from them stay in the git-ignored
data folder and are not shipped in models/ (pipelines/iam_ondb/README.md).

Usage: python -m pipelines.iam_ondb.english --train data/train.jsonl --out DIR
       [--top-words 100000] [--lines 50000] [--lexicon-words 50000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from recog.decode.lm_build import read_lines

WORDS_PER_LINE = 8


def usable_words(words: Iterable[str], alphabet: set[str]) -> list[str]:
    """Words spelled in `alphabet` alone, with at least one letter and no space."""
    return [w for w in words if w and " " not in w and all(c in alphabet for c in w) and any(c.isalpha() for c in w)]


def sample_lines(words: Sequence[str], freqs: Sequence[float], n_lines: int, rng: np.random.Generator,
                 words_per_line: int = WORDS_PER_LINE) -> list[str]:
    """n_lines lines of words_per_line words drawn independently with probability ∝ freqs."""
    p = np.asarray(freqs, np.float64)
    if len(words) == 0 or p.sum() <= 0:
        raise ValueError("no words with a positive frequency to sample from")
    idx = rng.choice(len(words), size=(n_lines, words_per_line), p=p / p.sum())
    return [" ".join(words[i] for i in row) for row in idx]


def lexicon_variants(words: Iterable[str]) -> set[str]:
    """Each word as given and Capitalized, bare and with "." or "," attached."""
    out: set[str] = set()
    for w in words:
        for form in (w, w[:1].upper() + w[1:]):
            out.update((form, form + ".", form + ","))
    return out


def _wordfreq():
    try:
        import wordfreq
    except ImportError:
        sys.exit("error: the English word frequencies need the `wordfreq` package: "
                 ".venv/bin/pip install -e '.[recipes]' (make lm-ink does this)")
    return wordfreq


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", required=True, help="training manifest (its transcripts come first)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--top-words", type=int, default=100_000, help="words sampled into the LM text (most frequent)")
    ap.add_argument("--lines", type=int, default=50_000, help="pseudo-lines of sampled words")
    ap.add_argument("--lexicon-words", type=int, default=50_000, help="most frequent words in the soft lexicon")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    transcripts = [line.rstrip("\n") for line in read_lines(args.train)]
    transcripts = [t for t in transcripts if t.strip()]
    if not transcripts:
        sys.exit(f"error: {args.train}: no transcripts")
    wordfreq = _wordfreq()
    out = Path(args.out)
    params = {"train": str(Path(args.train).resolve()), "train_lines": len(transcripts),
              "top_words": args.top_words, "lines": args.lines, "lexicon_words": args.lexicon_words,
              "seed": args.seed, "words_per_line": WORDS_PER_LINE,
              "wordfreq": getattr(wordfreq, "__version__", "?")}
    params_path = out / "english_params.json"
    if params_path.exists() and json.loads(params_path.read_text()) == params \
            and (out / "lm_text.txt").exists() and (out / "words.txt").exists():
        print(f"{out}: up to date ({params_path})")
        return 0
    alphabet = {c for t in transcripts for c in t}  # words must be spelled in the transcripts' characters
    ranked = usable_words(wordfreq.top_n_list("en", max(args.top_words, args.lexicon_words)), alphabet)
    top = ranked[: args.top_words]
    freqs = [wordfreq.word_frequency(w, "en") for w in top]
    lines = sample_lines(top, freqs, args.lines, np.random.default_rng(args.seed))
    out.mkdir(parents=True, exist_ok=True)
    (out / "lm_text.txt").write_text("\n".join(transcripts + lines) + "\n", encoding="utf-8")
    lexicon = {w for t in transcripts for w in t.split()} | lexicon_variants(ranked[: args.lexicon_words])
    (out / "words.txt").write_text("\n".join(sorted(lexicon)) + "\n", encoding="utf-8")
    params_path.write_text(json.dumps(params, indent=1) + "\n")
    print(f"{out}/lm_text.txt: {len(transcripts)} transcript lines + {len(lines)} lines of wordfreq words "
          f"(top {len(top)}); {out}/words.txt: {len(lexicon)} entries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
