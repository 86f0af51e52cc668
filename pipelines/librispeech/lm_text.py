"""A recipe's training transcripts as LM text: one line per utterance, normalized as the recipe does.

LibriSpeech's transcripts are upper case and the recipe's `[text.normalizer]`
lower-cases them, so the model writes lower-case words; a word LM built from
the raw manifest would know none of them. This writes each manifest row's
"text" through the recipe's normalizer, ready for `recog lm build`:

    python -m pipelines.librispeech.lm_text pipelines/librispeech/config.toml \\
        pipelines/librispeech/data/train-clean-100.jsonl -o exp/librispeech/word3.txt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recog.config import ConfigError, load_config
from recog.text import TextNormalizer


def normalized_lines(manifest: Path, normalizer: TextNormalizer) -> list[str]:
    """The normalized "text" of every row of a JSONL manifest; rows that normalize to "" are dropped.

    Raises ValueError naming the file and line of a row that is not JSON or has no "text".
    """
    lines = []
    with open(manifest, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ValueError(f"{manifest}:{lineno}: not a manifest row with a \"text\" field") from None
            if not isinstance(text, str):
                raise ValueError(f"{manifest}:{lineno}: \"text\" is not a string")
            if normalized := normalizer(text):
                lines.append(normalized)
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path, help="the recipe's TOML file (its [text.normalizer] is applied)")
    ap.add_argument("manifests", type=Path, nargs="+", help="JSONL manifests")
    ap.add_argument("-o", "--output", type=Path, required=True, help="text file to write, one line per utterance")
    args = ap.parse_args(argv)
    try:
        normalizer = load_config(args.config).text.normalizer
        lines = [t for m in args.manifests for t in normalized_lines(m, normalizer)]
    except (ConfigError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not lines:
        print(f"error: no transcripts in {', '.join(map(str, args.manifests))}", file=sys.stderr)
        return 1
    args.output.write_text("".join(t + "\n" for t in lines), encoding="utf-8")
    print(f"wrote {args.output}: {len(lines)} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
