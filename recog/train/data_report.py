"""The data report: which utterances a run cannot use, and why.

Every manifest row of every split (train and dev) is checked; a bad one is
skipped and listed under one reason:

- `unreadable`: the file is missing or cannot be decoded (audio or ink);
- `empty`: no samples / no pen points, or an empty transcript;
- `silent`: audio whose peak |sample| is below `SILENCE_PEAK` (1e-4, -80 dBFS);
- `too_short`: fewer model output frames than CTC needs for the transcript:
  one per token plus one blank between each pair of equal adjacent tokens
  (an alignment of "aa" needs a-blank-a);
- `unknown_characters`: characters outside the alphabet after the recipe's
  text normalizer (`[text.normalizer]`; its `map` can rewrite them).

Before training, the checks that need no audio decoding run on every row
(texts, lengths from the manifest's durations or the files' headers, ink
lines); the rest (a file that cannot be decoded, silence) is found when an
utterance is first read, in training or validation (`FoundProblems`): it is
left out of its batch and added to the report, once. With `data.preload` every
file is decoded before training, so every check runs there.

The report is printed (counts, and a few file names per reason) and written
in full to `OUT_DIR/data_report.json` (again whenever new problems are found).
If more than `train.max_skip_fraction` of the training utterances are bad the
run stops with `TooManySkipsError`.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from recog.data.dataset import AudioDataset
from recog.data.ink_dataset import InkDataset
from recog.data.items import SILENCE_PEAK, ctc_min_frames, unknown_characters_detail
from recog.data.manifest import Utterance
from recog.text import Alphabet, TextNormalizer
from recog.train.distributed import DistContext, all_gather_object

__all__ = ["REASONS", "FoundProblems", "Problem", "SplitReport", "TooManySkipsError", "check_fraction",
           "check_texts", "check_usable", "ctc_min_frames", "load_split", "write_report"]

REASONS = ("unreadable", "empty", "silent", "too_short", "unknown_characters")
SHOWN_PER_REASON = 5


class TooManySkipsError(RuntimeError):
    """More bad utterances or skipped steps than `train.max_skip_fraction` allows."""


@dataclass
class Problem:
    """One unusable utterance: its file, the reason (one of REASONS) and the details."""

    path: str
    reason: str
    detail: str


@dataclass
class SplitReport:
    """Bad utterances of one split (its manifests together).

    Attributes:
        name: "train" or the dev manifest's stem.
        manifests: the manifest files.
        total: utterances listed.
        problems: the skipped ones, in manifest order.
    """

    name: str
    manifests: list[str]
    total: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return self.total - len(self.problems)

    @property
    def bad_fraction(self) -> float:
        return len(self.problems) / max(self.total, 1)

    def by_reason(self) -> dict[str, list[Problem]]:
        """Problems grouped by reason (reasons with none left out), in REASONS order."""
        groups: dict[str, list[Problem]] = {r: [] for r in REASONS}
        for p in self.problems:
            groups[p.reason].append(p)
        return {r: ps for r, ps in groups.items() if ps}

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifests": self.manifests,
            "utterances": self.total,
            "kept": self.kept,
            "skipped": len(self.problems),
            "reasons": {
                r: {"count": len(ps), "files": [{"path": p.path, "detail": p.detail} for p in ps]}
                for r, ps in self.by_reason().items()
            },
        }

    def summary(self) -> str:
        """A few lines for the console: counts per reason and the first files of each."""
        lines = [f"  {self.name}: {self.total} utterances, {self.kept} kept, {len(self.problems)} skipped"]
        for reason, ps in self.by_reason().items():
            lines.append(f"    {reason} ({len(ps)}):")
            lines += [f"      {p.path}: {p.detail}" for p in ps[:SHOWN_PER_REASON]]
            if len(ps) > SHOWN_PER_REASON:
                lines.append(f"      ... {len(ps) - SHOWN_PER_REASON} more")
        return "\n".join(lines)


def check_texts(utterances: Sequence[Utterance], alphabet: Alphabet,
                normalizer: TextNormalizer) -> tuple[list[Utterance], list[Problem]]:
    """Empty transcripts and characters outside the alphabet (after normalization) -> (kept, problems)."""
    kept, problems = [], []
    for utt in utterances:
        text = normalizer(utt.text)
        unknown = alphabet.unknown_chars(text)
        if not text and not utt.extra.get("no_speech"):
            problems.append(Problem(utt.address, "empty", "empty transcript"))
        elif unknown:
            problems.append(Problem(utt.address, "unknown_characters", unknown_characters_detail(unknown)))
        else:
            kept.append(utt)
    return kept, problems


def check_usable(dataset: AudioDataset | InkDataset,
                 output_frames: Callable[[torch.Tensor], torch.Tensor]) -> tuple[list[int], list[Problem]]:
    """Utterances too short for CTC -> (indices of the usable ones, problems).

    Args:
        dataset: a built dataset (lengths planned from durations, headers or ink features).
        output_frames: model output frames T' for input frames T, [B] int64 -> [B] int64.
    """
    lengths = torch.tensor(dataset.lengths(), dtype=torch.long)
    out = output_frames(lengths).tolist() if len(lengths) else []
    keep, problems = [], []
    for i in range(len(dataset)):
        tokens = dataset.targets[i]
        need = ctc_min_frames(tokens.tolist())
        if out[i] < need:
            problems.append(Problem(dataset.source(i), "too_short",
                                    f"{out[i]} model frames < {need} needed by CTC for {len(tokens)} tokens"))
        else:
            keep.append(i)
    return keep, problems


def load_split(
    name: str,
    manifests: Sequence[str | Path],
    utterances: Sequence[Utterance],
    build: Callable[[list[Utterance]], AudioDataset | InkDataset],
    alphabet: Alphabet,
    normalizer: TextNormalizer,
    output_frames: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[AudioDataset | InkDataset, list[int], SplitReport]:
    """Check one split and build its dataset: (dataset, indices of its usable utterances, report).

    The dataset's own "warning: skipping" lines are folded into the report
    (each bad file is reported once, by the report); other output passes through.
    """
    report = SplitReport(name, [str(m) for m in manifests], total=len(utterances))
    kept, report.problems = check_texts(utterances, alphabet, normalizer)
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        dataset = build(kept)
    for line in captured.getvalue().splitlines():
        if not line.startswith("warning: skipping "):
            print(line, file=sys.stderr)
    report.problems += [Problem(path, reason, detail) for path, reason, detail in dataset.skipped]
    indices, problems = check_usable(dataset, output_frames)
    report.problems += problems
    return dataset, indices, report


class FoundProblems:
    """Utterances found unusable when they were read (in training batches or validation), each once per split.

    Every rank `add`s what its own batches found; `sync` (called by all ranks at the same
    point) merges the new finds of every rank, so all ranks hold the same list and take
    the same decisions, and returns the ones not known before. `found` goes into
    checkpoints, so a resumed run reports the same list.
    """

    def __init__(self, found: Iterable[Sequence[str]] = ()):
        self.found: list[tuple[str, str, str, str]] = []  # (split, path, reason, detail)
        self._seen: set[tuple[str, str]] = set()
        self._pending: list[tuple[str, str, str, str]] = []
        self._merge([tuple(f) for f in found])  # type: ignore[misc]

    def add(self, split: str, problems: Iterable[tuple[str, str, str]]) -> None:
        """Record (path, reason, detail) finds of `split` made by this rank."""
        self._pending += [(split, *p) for p in problems if (split, p[0]) not in self._seen]

    def sync(self, ctx: DistContext) -> list[tuple[str, Problem]]:
        """Merge every rank's new finds; returns the (split, problem) not known before, on every rank."""
        pending, self._pending = self._pending, []
        return self._merge([item for rank in all_gather_object(pending, ctx) for item in rank])

    def _merge(self, items: list[tuple[str, str, str, str]]) -> list[tuple[str, Problem]]:
        new = []
        for split, path, reason, detail in items:
            if (split, path) not in self._seen:
                self._seen.add((split, path))
                self.found.append((split, path, reason, detail))
                new.append((split, Problem(path, reason, detail)))
        return new


def write_report(path: str | Path, splits: Sequence[SplitReport]) -> None:
    """`data_report.json`: per split the counts and, per reason, every file with its details."""
    data = {"silence_peak": SILENCE_PEAK, "splits": {s.name: s.to_dict() for s in splits}}
    Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def check_fraction(train: SplitReport, max_fraction: float, report_path: str | Path) -> None:
    """Raise TooManySkipsError when more than `max_fraction` of the training utterances are bad."""
    if train.bad_fraction > max_fraction:
        counts = ", ".join(f"{r} {len(ps)}" for r, ps in train.by_reason().items())
        raise TooManySkipsError(
            f"{len(train.problems)} of {train.total} training utterances ({100 * train.bad_fraction:.1f}%) "
            f"are unusable ({counts}), more than train.max_skip_fraction = {max_fraction}; "
            f"the files are listed in {report_path}"
        )
