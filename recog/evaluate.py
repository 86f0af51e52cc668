"""Evaluate a model on a manifest: WER/CER (percent) of the decoded text."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from recog.data.manifest import Utterance, read_manifest
from recog.features.ink import InkError, load_ink
from recog.features.io import AudioReadError, load_audio
from recog.features.speaker import speaker_key, speaker_spectra
from recog.inference import AcousticModel, load_acoustic_model
from recog.inference.decoding import Decoder
from recog.metrics import ErrorCounts
from recog.text import Alphabet


@dataclass
class EvaluationResult:
    """Corpus error rates and the per-utterance output.

    Attributes:
        wer, cer: percent.
        utterances: utterances scored.
        failed: (path, reason) of inputs that could not be read (not scored).
        seconds: wall time of the evaluation.
        audio_seconds: total duration of the scored audio (0 for ink).
        rows: (path, reference, hypothesis) per scored utterance.
        log_probs: the model's output per scored utterance, [T', V] float32 (natural log).
    """

    wer: float
    cer: float
    utterances: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    log_probs: list[np.ndarray] = field(default_factory=list)


def featurize_utterance(
    model: AcousticModel, utt: Utterance, speaker_spectrum: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Features [T, F] of one manifest row and its audio seconds (0 for ink).

    speaker_spectrum [n_mels]: the row's speaker's, for `features.normalize = "speaker"` models.
    Raises `AudioReadError` / `InkError` naming the file when it cannot be used.
    """
    if getattr(model, "modality", "audio") == "ink":
        feats = model.featurize(load_ink(utt.path))
        if feats.shape[0] == 0:
            raise InkError(f"{utt.path}: ink has no points")
        return feats, 0.0
    rate = model.features.sample_rate
    wave = load_audio(utt.path, rate)
    return model.featurize(wave, speaker_spectrum), len(wave) / rate


def manifest_speaker_spectra(model: AcousticModel, utterances: list[Utterance]) -> dict[str, np.ndarray]:
    """Speaker key (`speaker_key`) -> mean spectrum [n_mels], for models normalized per speaker; else {}.

    Reads every audio file once more; unreadable files are left out here (reported by the main pass).
    """
    if getattr(model, "modality", "audio") != "audio" or model.features.normalize != "speaker":
        return {}
    rate = model.features.sample_rate

    def readable() -> Iterator[tuple[str, np.ndarray]]:
        for u in utterances:
            try:
                yield speaker_key(u), load_audio(u.path, rate)
            except AudioReadError:
                continue

    return speaker_spectra(readable(), model.features)


def compute_log_probs(
    model: AcousticModel | str | Path, manifest: str | Path, batch_size: int = 16, progress: bool = True
) -> tuple[list[np.ndarray], list[str], list[str], list[tuple[str, str]], float]:
    """Run the model over a manifest.

    Returns (log-probs [T', V] per utterance, normalized references, paths,
    failed (path, reason), total audio seconds). Unreadable files are reported and left out.
    Raises ValueError when the manifest's rows are of another modality than the model.
    """
    if not hasattr(model, "log_probs"):
        model = load_acoustic_model(model)
    utterances = read_manifest(manifest)
    modality = getattr(model, "modality", "audio")
    other = [u for u in utterances if u.modality != modality]
    if other:
        raise ValueError(f"{manifest}: {len(other)} {other[0].modality} row(s) (first: {other[0].path}), "
                         f"but the model reads {modality}")
    spectra = manifest_speaker_spectra(model, utterances)
    outputs, refs, paths, failed = [], [], [], []
    audio_seconds = 0.0
    for start in tqdm(range(0, len(utterances), batch_size), desc="evaluate", file=sys.stderr,
                      disable=not progress, mininterval=1):
        feats, kept = [], []
        for u in utterances[start : start + batch_size]:
            try:
                features, seconds = featurize_utterance(model, u, spectra.get(speaker_key(u)))
            except (AudioReadError, InkError) as err:
                failed.append((str(u.path), str(err)))
                continue
            audio_seconds += seconds
            feats.append(features)
            kept.append(u)
        if not feats:
            continue
        outputs.extend(model.log_probs(feats))
        refs.extend(model.normalizer(u.text) for u in kept)
        paths.extend(str(u.path) for u in kept)
    return outputs, refs, paths, failed, audio_seconds


def evaluate(model: AcousticModel, manifest: str | Path, decoder: Decoder, progress: bool = True) -> EvaluationResult:
    """Decode every utterance of `manifest` and score it against its reference."""
    start = time.time()
    log_probs, refs, paths, failed, audio_seconds = compute_log_probs(model, manifest, progress=progress)
    counts = ErrorCounts()
    rows = []
    for lp, ref, path in zip(log_probs, refs, paths, strict=True):
        hyp = decoder(lp).text
        counts.add(ref, hyp)
        rows.append((path, ref, hyp))
    for _path, why in failed:
        print(f"warning: not scored: {why}", file=sys.stderr)
    return EvaluationResult(counts.wer, counts.cer, counts.utterances, failed, time.time() - start, audio_seconds, rows,
                            log_probs)


def save_log_probs(result: EvaluationResult, alphabet: Alphabet, path: str | Path) -> None:
    """Write an evaluation's log-probs for `recog bench decode --logprobs` and `tune-lm`-style studies.

    Keys: `log_probs` (object array of [T', V] float32), `references` (normalized text),
    `paths`, `alphabet` (the non-blank tokens as one string, `Alphabet.to_string`), `units`.
    """
    arrays = np.empty(len(result.log_probs), dtype=object)
    arrays[:] = result.log_probs
    np.savez(path, log_probs=arrays, references=np.array([r[1] for r in result.rows]),
             paths=np.array([r[0] for r in result.rows]), alphabet=np.array(alphabet.to_string()), units=np.array(alphabet.units))
