"""Scoring a model on a manifest: WER/CER (percent) of the decoded text against the references.

Runs on the recognizer's one batching path (`Recognizer.iter_transcribe`), so
evaluation reads inputs, batches, chunks long recordings and reports bad rows
exactly as `recog transcribe` does: an unreadable row is reported and left out,
and the summary is still computed.

With `output`, each utterance's scores go to a JSONL file as soon as they are
known (one line each, flushed), so a run that is stopped keeps what it scored:
`{"path", "reference", "hypothesis", "words", "substitutions", "insertions",
"deletions", "errors", "chars", "char_errors"}` (word counts; `errors` is the word
edit distance; `id` too when the manifest row has one), or `{"path", "error"}` for
an input that could not be read.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from recog.data.manifest import read_manifest
from recog.metrics import ErrorCounts, UtteranceErrors
from recog.runtime.recognizer import Recognizer
from recog.text import Alphabet


@dataclass
class EvaluationResult:
    """Corpus error rates and the per-utterance output.

    Attributes:
        wer, cer: percent.
        substitutions, insertions, deletions: the word edits of all scored utterances.
        utterances: utterances scored.
        failed: (path, reason) of inputs that could not be used (not scored).
        seconds: wall time of the evaluation.
        audio_seconds: total duration of the scored audio (0 for ink).
        rows: (path, reference, hypothesis) per scored utterance; references normalized
            with the model's text normalizer.
        log_probs: the model's output per scored utterance, [T', V] float32 (natural log);
            filled only when asked for (`keep_log_probs`).
    """

    wer: float
    cer: float
    utterances: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    log_probs: list[np.ndarray] = field(default_factory=list)
    substitutions: int = 0
    insertions: int = 0
    deletions: int = 0


def utterance_row(path: str, reference: str, hypothesis: str, errors: UtteranceErrors,
                  utt_id: object = None) -> dict:
    """One line of `--output`: the texts and the utterance's error counts (module docstring)."""
    row: dict = {} if utt_id is None else {"id": utt_id}
    row.update({"path": path, "reference": reference, "hypothesis": hypothesis, "words": errors.words,
                "substitutions": errors.word_edits.substitutions, "insertions": errors.word_edits.insertions,
                "deletions": errors.word_edits.deletions, "errors": errors.word_edits.errors,
                "chars": errors.chars, "char_errors": errors.char_errors})
    return row


def evaluate(recognizer: Recognizer, manifest: str | Path, batch_size: int = 16, progress: bool = True,
             output: str | Path | None = None) -> EvaluationResult:
    """Decode every row of `manifest` and score it against its reference.

    `output`: a JSONL file that gets one row per utterance as it is scored (module docstring).
    Raises ValueError naming the manifest when its rows are of another modality than the model.
    """
    start = time.time()
    utterances = read_manifest(manifest)
    if not utterances:
        raise ValueError(f"{manifest}: the manifest has no rows; nothing to score")
    modality = recognizer.modality.name
    other = [u for u in utterances if u.modality != modality]
    if other:
        raise ValueError(f"{manifest}: {len(other)} {other[0].modality} row(s) (first: {other[0].path}), "
                         f"but the model reads {modality}")
    normalize = recognizer.info.normalizer
    counts = ErrorCounts()
    result = EvaluationResult(0.0, 0.0, 0)
    sink = open(output, "w", encoding="utf-8") if output is not None else None  # noqa: SIM115 (closed below)

    def write(row: dict) -> None:
        if sink is not None:
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()  # a stopped run keeps every scored row
    bar = tqdm(total=len(utterances), desc="evaluate", unit="utt", file=sys.stderr, disable=not progress,
               mininterval=1)
    for utt, t in zip(utterances, recognizer.iter_transcribe([u.address for u in utterances], batch_size),
                      strict=True):
        bar.update(1)
        if t.error is not None:
            result.failed.append((t.path, t.error))
            print(f"warning: not scored: {t.error}", file=sys.stderr)
            write({"path": t.path, "error": t.error})
            continue
        ref = normalize(utt.text)
        write(utterance_row(t.path, ref, t.text, counts.add(ref, t.text), utt.extra.get("id")))
        result.rows.append((t.path, ref, t.text))
        result.audio_seconds += t.duration
        if t.log_probs is not None:
            result.log_probs.append(t.log_probs)
    bar.close()
    if sink is not None:
        sink.close()
    result.wer, result.cer, result.utterances = counts.wer, counts.cer, counts.utterances
    result.substitutions, result.insertions, result.deletions = counts.substitutions, counts.insertions, counts.deletions
    result.seconds = time.time() - start
    return result


def save_log_probs(result: EvaluationResult, alphabet: Alphabet, path: str | Path) -> None:
    """Write an evaluation's log-probs for `recog bench decode --logprobs` and LM studies.

    Keys: `log_probs` (object array of [T', V] float32; [T', M, V] from an ensemble combined by
    sequence, its members'), `references` (normalized text),
    `paths`, `alphabet` (the non-blank tokens as one string, `Alphabet.to_string`), `units`.
    """
    if len(result.log_probs) != len(result.rows):
        raise ValueError("the evaluation kept no log-probs: build the Recognizer with keep_log_probs=True")
    arrays = np.empty(len(result.log_probs), dtype=object)
    arrays[:] = result.log_probs
    np.savez(path, log_probs=arrays, references=np.array([r[1] for r in result.rows]),
             paths=np.array([r[0] for r in result.rows]), alphabet=np.array(alphabet.to_string()),
             units=np.array(alphabet.units))
