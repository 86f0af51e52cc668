"""The data report: which utterances a run cannot use, and why, found once before training.

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

The report is printed (counts, and a few file names per reason) and written
in full to `OUT_DIR/data_report.json`. If more than `train.max_skip_fraction`
of the training utterances are bad the run stops with `TooManySkipsError`.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recog.data.dataset import AudioDataset
from recog.data.ink_dataset import InkDataset
from recog.data.manifest import Utterance
from recog.text import Alphabet, TextNormalizer

REASONS = ("unreadable", "empty", "silent", "too_short", "unknown_characters")
SILENCE_PEAK = 1e-4
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


def ctc_min_frames(tokens: Sequence[int]) -> int:
    """Output frames a CTC alignment of `tokens` needs: one per token + one blank per equal adjacent pair."""
    repeats = sum(1 for a, b in zip(tokens, tokens[1:], strict=False) if a == b)
    return len(tokens) + repeats


def check_texts(utterances: Sequence[Utterance], alphabet: Alphabet,
                normalizer: TextNormalizer) -> tuple[list[Utterance], list[Problem]]:
    """Empty transcripts and characters outside the alphabet (after normalization) -> (kept, problems)."""
    kept, problems = [], []
    for utt in utterances:
        text = normalizer(utt.text)
        unknown = alphabet.unknown_chars(text)
        if not text and not utt.extra.get("no_speech"):
            problems.append(Problem(str(utt.path), "empty", "empty transcript"))
        elif unknown:
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in sorted(unknown))
            problems.append(Problem(str(utt.path), "unknown_characters", f"characters outside the alphabet: {shown}"))
        else:
            kept.append(utt)
    return kept, problems


def _loading_reason(detail: str) -> str:
    """Reason of a dataset's own skip message (AudioReadError / InkError text)."""
    low = detail.lower()
    return "empty" if ("empty" in low or "no points" in low) else "unreadable"


def check_usable(dataset: AudioDataset | InkDataset,
                 output_frames: Callable[[torch.Tensor], torch.Tensor]) -> tuple[list[int], list[Problem]]:
    """Silent audio and utterances too short for CTC -> (indices of the usable ones, problems).

    Args:
        dataset: a built dataset (waveforms or ink features in memory).
        output_frames: model output frames T' for input frames T, [B] int64 -> [B] int64.
    """
    lengths = torch.tensor(dataset.lengths(), dtype=torch.long)
    out = output_frames(lengths).tolist() if len(lengths) else []
    waves = getattr(dataset, "waves", None)
    keep, problems = [], []
    for i, utt in enumerate(dataset.utterances):
        need = ctc_min_frames(dataset.targets[i])
        peak = float(np.max(np.abs(waves[i]))) if waves is not None and len(waves[i]) else None
        if peak is not None and peak < SILENCE_PEAK and not utt.extra.get("no_speech"):
            problems.append(Problem(str(utt.path), "silent", f"peak {peak:.1e} < {SILENCE_PEAK:.0e}"))
        elif out[i] < need:
            problems.append(Problem(str(utt.path), "too_short",
                                    f"{out[i]} model frames < {need} needed by CTC for {len(dataset.targets[i])} tokens"))
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
    """Check and load one split: (dataset, indices of its usable utterances, report).

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
    for path, why in dataset.skipped:
        detail = why.removeprefix(f"{path}: ")  # reader errors start with the file name
        report.problems.append(Problem(path, _loading_reason(detail), detail))
    indices, problems = check_usable(dataset, output_frames)
    report.problems += problems
    return dataset, indices, report


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
