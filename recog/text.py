"""Text side of CTC: the token inventory (`Alphabet`) and text normalization.

Conventions shared by the whole toolkit:
- index 0 is the CTC blank (Graves et al., 2006) and never appears in text;
- tokens are characters and the space character is the word separator
  (`units = "char"`, the default), or tokens are whole words and words are
  separated implicitly (`units = "word"`: a closed vocabulary such as the
  ten digits, where the model cannot spell a non-word);
- a tokens file holds one token per line, blank first, written `<blank>`,
  and the space written `<space>` so that it survives editors.
"""

from __future__ import annotations

import gzip
import io
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BLANK = "<blank>"
SPACE = "<space>"


def read_text(path: str | Path, error: type[Exception] = ValueError) -> str:
    """A UTF-8 text file's content. A missing or unreadable file, a directory, or bytes that
    are not UTF-8 raise `error` naming the file (and the byte offset)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a file") from None
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror})") from None


def read_text_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file (newlines kept); errors as `read_text`."""
    return io.StringIO(read_text(path)).readlines()  # split at newlines only, as a file's lines are


GZIP_MAGIC = b"\x1f\x8b"
# Characters of text per block of `iter_text_blocks` (whole lines: a block may be longer).
BLOCK_CHARS = 1 << 20


def iter_text_lines(path: str | Path, error: type[Exception] = ValueError,
                    progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The lines of a UTF-8 text file, plain or gzip-compressed, read as a stream (newlines kept).

    A file starting with the gzip magic bytes is decompressed (whatever its name), so
    `lm.arpa.gz` and `text.txt.gz` read like their plain forms without ever being held
    whole in memory. `progress(bytes)` is called with each block's size in bytes of the
    file as stored (compressed bytes for gzip), for a progress bar against its size.
    Errors as `read_text`, and a damaged or truncated gzip stream raises `error` naming the file.
    """
    for block in iter_text_blocks(path, error, progress):
        yield from block


def iter_text_blocks(path: str | Path, error: type[Exception] = ValueError,
                     progress: Callable[[int], None] | None = None) -> Iterator[list[str]]:
    """`iter_text_lines` a block of whole lines at a time (about `BLOCK_CHARS` characters each)."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 (closed below)
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a file") from None
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror})") from None
    with raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        binary = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        stream = io.TextIOWrapper(binary, encoding="utf-8")  # universal newlines, as read_text
        done = 0
        try:
            while True:
                block = stream.readlines(BLOCK_CHARS)
                if not block:
                    break
                if progress is not None:
                    pos = raw.tell()
                    progress(pos - done)
                    done = pos
                yield block
        except UnicodeDecodeError as err:
            raise error(f"{path}: not UTF-8 text ({err.reason} at byte {err.start} of a block)") from None
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise error(f"{path}: damaged gzip data ({err})") from None
        except OSError as err:
            raise error(f"{path}: cannot read ({err.strerror or err})") from None


class UnknownCharactersError(ValueError):
    """Text holds characters that are not in the alphabet and have no mapping rule."""

    def __init__(self, unknown: dict[str, list[str]]):
        self.unknown = unknown
        lines = []
        for char, where in sorted(unknown.items()):
            shown = ", ".join(where[:5]) + (f" (+{len(where) - 5} more)" if len(where) > 5 else "")
            code = f" (U+{ord(char):04X})" if len(char) == 1 else ""
            lines.append(f"  {char!r}{code} in {len(where)} utterance(s): {shown}")
        super().__init__(
            "characters (or, with word units, words) outside the alphabet (add them to the "
            "alphabet or map them with `text.map` in the config):\n" + "\n".join(lines)
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


UNITS = ("char", "word")


class Alphabet:
    """CTC token inventory: characters (or whole words), blank at index 0.

    Args:
        tokens: the non-blank tokens in index order 1..V-1: single characters
            (`units="char"`), or words without spaces (`units="word"`).
        units: "char" or "word" (see the module docstring).
    """

    def __init__(self, tokens: Sequence[str], units: str = "char"):
        tokens = list(tokens)
        if units not in UNITS:
            raise ValueError(f"alphabet units must be one of {UNITS}, got {units!r}")
        if BLANK in tokens:
            raise ValueError(f"{BLANK} is implicit at index 0; do not list it among tokens")
        if len(set(tokens)) != len(tokens):
            dupes = sorted({t for t in tokens if tokens.count(t) > 1})
            raise ValueError(f"duplicate tokens in alphabet: {dupes}")
        for t in tokens:
            if units == "char" and len(t) != 1:
                raise ValueError(f"tokens must be single characters, got {t!r}")
            if units == "word" and (not t or len(t.split()) != 1):
                raise ValueError(f"word tokens must be non-empty and without spaces, got {t!r}")
        self.units = units
        self.tokens: list[str] = [BLANK, *tokens]
        self._index = {t: i for i, t in enumerate(self.tokens)}

    # ---- construction and files -------------------------------------------------
    @classmethod
    def from_texts(cls, texts: Iterable[str], units: str = "char") -> Alphabet:
        """Alphabet of every character (or word) seen in `texts`, sorted by code point."""
        seen: set[str] = set()
        for t in texts:
            seen.update(t.split() if units == "word" else t)
        return cls(sorted(seen), units)

    @classmethod
    def from_string(cls, chars: str, units: str = "char") -> Alphabet:
        """Alphabet from its compact string (`to_string`): the characters, e.g.
        `" abcdefghijklmnopqrstuvwxyz'"`, or with word units the words separated
        by spaces, e.g. `"zero one two"`."""
        return cls(chars.split() if units == "word" else list(chars), units)

    @classmethod
    def load(cls, path: str | Path, units: str = "char") -> Alphabet:
        """Read a tokens file: one token per line, first line `<blank>`."""
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines or lines[0] != BLANK:
            raise ValueError(f"{path}: first line of a tokens file must be {BLANK}")
        return cls([" " if t == SPACE else t for t in lines[1:]], units)

    def save(self, path: str | Path) -> None:
        """Write the tokens file (see `load`)."""
        shown = [SPACE if t == " " else t for t in self.tokens]
        Path(path).write_text("\n".join(shown) + "\n", encoding="utf-8")

    def to_string(self) -> str:
        """The non-blank tokens joined (words: separated by spaces): the compact form
        of checkpoints; read back with `from_string(s, units)`."""
        return (" " if self.units == "word" else "").join(self.tokens[1:])

    # ---- encoding ---------------------------------------------------------------
    def __len__(self) -> int:
        """Vocabulary size V including the blank."""
        return len(self.tokens)

    def __contains__(self, char: str) -> bool:
        return char in self._index and char != BLANK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Alphabet) and self.tokens == other.tokens and self.units == other.units

    def __repr__(self) -> str:
        units = "" if self.units == "char" else f", units={self.units!r}"
        return f"Alphabet({self.to_string()!r}{units})"

    def _units_of(self, text: str) -> list[str]:
        """`text` cut into the alphabet's units: characters, or whitespace-separated words."""
        return text.split() if self.units == "word" else list(text)

    def unknown_chars(self, text: str) -> set[str]:
        """Characters (word units: words) of `text` that the alphabet cannot encode."""
        return {c for c in self._units_of(text) if c not in self}

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
            return [self._index[c] for c in self._units_of(text)]
        except KeyError:
            raise UnknownCharactersError({c: [text] for c in self.unknown_chars(text)}) from None

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids -> text. Blanks are skipped; repeats are NOT collapsed (see greedy)."""
        return (" " if self.units == "word" else "").join(self.tokens[i] for i in ids if i != 0)

    def spell(self, ids: Sequence[int], frames: Sequence[int]) -> tuple[list[str], list[int]]:
        """Token ids with their frames -> single characters with frames, spaces between words.

        Character units: one character per token, frames unchanged. Word units:
        each word's letters carry the word's frame and a space (with the next
        word's frame) separates words, so `"".join(chars)` is the text and
        `words_from_frames` times words the same way for both units.
        """
        if self.units == "char":
            return [self.tokens[i] for i in ids], list(frames)
        chars: list[str] = []
        char_frames: list[int] = []
        for k, (i, fr) in enumerate(zip(ids, frames, strict=True)):
            word = (" " if k else "") + self.tokens[i]
            chars.extend(word)
            char_frames.extend([fr] * len(word))
        return chars, char_frames
