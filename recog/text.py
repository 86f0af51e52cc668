"""Text side of CTC: the token inventory (`Alphabet`) and text normalization.

Conventions shared by the whole toolkit:
- index 0 is the CTC blank (Graves et al., 2006) and never appears in text;
- tokens are characters; the space character is the word separator;
- a tokens file holds one token per line, blank first, written `<blank>`,
  and the space written `<space>` so that it survives editors.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BLANK = "<blank>"
SPACE = "<space>"


class UnknownCharactersError(ValueError):
    """Text holds characters that are not in the alphabet and have no mapping rule."""

    def __init__(self, unknown: dict[str, list[str]]):
        self.unknown = unknown
        lines = []
        for char, where in sorted(unknown.items()):
            shown = ", ".join(where[:5]) + (f" (+{len(where) - 5} more)" if len(where) > 5 else "")
            lines.append(f"  {char!r} (U+{ord(char):04X}) in {len(where)} utterance(s): {shown}")
        super().__init__(
            "characters outside the alphabet (add them to the alphabet or map them with "
            "`text.map` in the config):\n" + "\n".join(lines)
        )


@dataclass
class TextNormalizer:
    """Recipe-specific text normalization applied before encoding.

    Attributes:
        lowercase: fold to lower case.
        unicode_form: Unicode normalization form ("NFC", "NFKC", or "" for none).
        map: explicit character/substring replacements applied after case folding,
            e.g. {"’": "'"}; map to "" to delete a character on purpose.
        collapse_spaces: turn runs of whitespace into one space and strip the ends.
    """

    lowercase: bool = False
    unicode_form: str = "NFC"
    map: dict[str, str] = field(default_factory=dict)
    collapse_spaces: bool = True

    def __call__(self, text: str) -> str:
        if self.unicode_form:
            text = unicodedata.normalize(self.unicode_form, text)
        if self.lowercase:
            text = text.lower()
        for src, dst in self.map.items():
            text = text.replace(src, dst)
        if self.collapse_spaces:
            text = " ".join(text.split())
        return text


class Alphabet:
    """CTC token inventory: characters, blank at index 0.

    Args:
        tokens: the non-blank tokens (single characters), in index order 1..V-1.
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if BLANK in tokens:
            raise ValueError(f"{BLANK} is implicit at index 0; do not list it among tokens")
        if len(set(tokens)) != len(tokens):
            dupes = sorted({t for t in tokens if tokens.count(t) > 1})
            raise ValueError(f"duplicate tokens in alphabet: {dupes}")
        for t in tokens:
            if len(t) != 1:
                raise ValueError(f"tokens must be single characters, got {t!r}")
        self.tokens: list[str] = [BLANK, *tokens]
        self._index = {t: i for i, t in enumerate(self.tokens)}

    # ---- construction and files -------------------------------------------------
    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Alphabet:
        """Alphabet of every character seen in `texts`, sorted by code point."""
        chars: set[str] = set()
        for t in texts:
            chars.update(t)
        return cls(sorted(chars))

    @classmethod
    def from_string(cls, chars: str) -> Alphabet:
        """Alphabet from a string of characters, e.g. `" abcdefghijklmnopqrstuvwxyz'"`."""
        return cls(list(chars))

    @classmethod
    def load(cls, path: str | Path) -> Alphabet:
        """Read a tokens file: one token per line, first line `<blank>`."""
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines or lines[0] != BLANK:
            raise ValueError(f"{path}: first line of a tokens file must be {BLANK}")
        return cls([" " if t == SPACE else t for t in lines[1:]])

    def save(self, path: str | Path) -> None:
        """Write the tokens file (see `load`)."""
        shown = [SPACE if t == " " else t for t in self.tokens]
        Path(path).write_text("\n".join(shown) + "\n", encoding="utf-8")

    def to_string(self) -> str:
        """The non-blank tokens joined: a compact form for checkpoints and ONNX metadata."""
        return "".join(self.tokens[1:])

    # ---- encoding ---------------------------------------------------------------
    def __len__(self) -> int:
        """Vocabulary size V including the blank."""
        return len(self.tokens)

    def __contains__(self, char: str) -> bool:
        return char in self._index and char != BLANK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Alphabet) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Alphabet({self.to_string()!r})"

    def unknown_chars(self, text: str) -> set[str]:
        """Characters of `text` that the alphabet cannot encode."""
        return {c for c in text if c not in self}

    def check(self, items: Iterable[tuple[str, str]]) -> None:
        """Raise `UnknownCharactersError` if any (utterance id, text) has unknown characters."""
        unknown: dict[str, list[str]] = {}
        for utt, text in items:
            for c in sorted(self.unknown_chars(text)):
                unknown.setdefault(c, []).append(utt)
        if unknown:
            raise UnknownCharactersError(unknown)

    def encode(self, text: str) -> list[int]:
        """Text -> token ids (1..V-1). Unknown characters raise `UnknownCharactersError`."""
        try:
            return [self._index[c] for c in text]
        except KeyError:
            raise UnknownCharactersError({c: [text] for c in self.unknown_chars(text)}) from None

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids -> text. Blanks are skipped; repeats are NOT collapsed (see greedy)."""
        return "".join(self.tokens[i] for i in ids if i != 0)
