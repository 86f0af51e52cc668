"""`Recognizer`: audio or ink in, transcripts out. The one path every caller runs a model through.

    from recog.runtime import Recognizer
    rec = Recognizer.from_onnx("models/digits-en/model.int8.onnx", threads=2)
    for t in rec.transcribe(["a.wav", "b.flac"]):
        print(t.path, t.text, t.words)

`recog transcribe` (`recog.runtime.batch_job`), `recog evaluate` and `recog tune-lm`
(`recog.runtime.evaluation`) and the benchmarks all call `iter_transcribe`.

Short inputs are read whole, featurized, run through the model in
length-bucketed batches and decoded. Audio longer than `chunk_seconds` is read
window by window (`recog.runtime.chunking`), so memory stays bounded whatever
its length. An input that cannot be used gives a `Transcript` with `error` set;
nothing raises out of `iter_transcribe` for a bad input.

An ink model reads JSON ink files, IAM-OnDB XML files and `pack.npz#index`
lines (`recog.features.ink.io`) or `Ink` objects; a line is never chunked, and
word times are in feature vectors instead of seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recog.decode.config import Decoder, DecoderConfig
from recog.decode.result import Alternative, DecodeResult, Word, words_from_frames
from recog.features.ink.strokes import Ink
from recog.features.io import AudioReadError, split_segment_address
from recog.runtime.backends import AcousticModel, load_acoustic_model
from recog.runtime.chunking import StreamingDecoder, plan_windows
from recog.runtime.modality import AUDIO, INPUT_ERRORS
from recog.runtime.sources import ArraySource, FileSource


@dataclass
class Transcript:
    """The result for one input.

    Attributes:
        path: the input as given (or "<array i>" for waveforms, "<ink i>" for Ink objects).
        text: recognized text ("" on error).
        score: total log score of the best hypothesis (natural log).
        duration: audio seconds (0 for ink).
        words: words with start/end seconds (ink: feature-vector indices).
        error: why the input could not be transcribed (None on success); names the file.
        log_probs: the model's output [T', V] float32 ([T', M, V] from an ensemble combined by
            sequence: its members'), kept only when the recognizer's `keep_log_probs` is set
            (evaluation, LM tuning, alignment); never written to rows.
        nbest: the N best hypotheses when the decoder was asked for them (`DecoderConfig.nbest`;
            a long input read in windows gets its best one only).
    """

    path: str
    text: str = ""
    score: float = 0.0
    duration: float = 0.0
    words: list[Word] = field(default_factory=list)
    error: str | None = None
    log_probs: np.ndarray | None = field(default=None, repr=False)
    nbest: list[Alternative] = field(default_factory=list)

    def to_row(self) -> dict[str, Any]:
        """The JSONL row: {path, text, score, duration, words: [{word, start, end, confidence}]
        (+ nbest: [{text, score, am_score, lm_score}] when asked for)} or {path, error}."""
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        words = [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3),
                  "confidence": round(w.confidence, 4)} for w in self.words]
        row = {"path": self.path, "text": self.text, "score": round(self.score, 4),
               "duration": round(self.duration, 3), "words": words}
        if self.nbest:
            row["nbest"] = [{"text": a.text, "score": round(a.score, 4), "am_score": round(a.am_score, 4),
                             "lm_score": round(a.lm_score, 4)} for a in self.nbest]
        return row


class Recognizer:
    """Model + decoder + the policy for batching and long inputs.

    Args:
        model: an `AcousticModel` (ONNX file or checkpoint).
        decoder: a `DecoderConfig` (default greedy) or a ready decoder function.
        chunk_seconds: audio longer than this is processed in windows of this length.
        context_seconds: overlap dropped at each inner window edge (BiLSTM context).
        min_seconds: shorter audio is an error ("too short").
        windows_per_batch: windows of one long input run through the model together.
        keep_log_probs: keep each input's log-probs on its `Transcript` (evaluation, tuning).
    """

    def __init__(
        self,
        model: AcousticModel,
        decoder: DecoderConfig | Decoder | None = None,
        chunk_seconds: float = 30.0,
        context_seconds: float = 2.0,
        min_seconds: float = 0.05,
        windows_per_batch: int = 4,
        keep_log_probs: bool = False,
    ):
        self.model = model
        self.info = model.info
        self.modality = model.modality
        self.alphabet = self.info.alphabet
        self.frame_rate = self.info.frame_rate
        config = decoder if isinstance(decoder, DecoderConfig) else DecoderConfig()
        self.decoder = decoder if callable(decoder) else config.build(self.alphabet, self.frame_rate)
        self.wants_nbest = config.nbest > 0
        self.rate = self.modality.rate(self.info.features)
        self.frame_samples = int(round(self.rate / self.frame_rate))
        self.chunk_frames = max(1, int(round(chunk_seconds * self.frame_rate)))
        self.context_frames = int(round(context_seconds * self.frame_rate))
        self.chunk_seconds = chunk_seconds
        self.min_seconds = min_seconds
        self.windows_per_batch = max(1, windows_per_batch)
        self.keep_log_probs = keep_log_probs

    @classmethod
    def load(cls, path: str | Path, threads: int = 0, decoder: DecoderConfig | str = "greedy",
             **options: Any) -> Recognizer:
        """A model file (`.onnx`, torch-free) or checkpoint (`.pt`, needs torch) with a decoder
        (`DecoderConfig`, or "greedy"/"beam" with default settings); `options` go to `__init__`."""
        config = DecoderConfig(kind=decoder) if isinstance(decoder, str) else decoder
        return cls(load_acoustic_model(path, threads=threads), config, **options)

    @classmethod
    def from_onnx(cls, path: str | Path, threads: int = 0, decoder: DecoderConfig | str = "greedy",
                  **options: Any) -> Recognizer:
        """An exported ONNX model, whatever its suffix (see `load`); raises `ModelFormatError` naming the file."""
        from recog.runtime.backends.onnx import OnnxAcousticModel
        from recog.runtime.model_index import resolve_model

        config = DecoderConfig(kind=decoder) if isinstance(decoder, str) else decoder
        return cls(OnnxAcousticModel(resolve_model(path), threads=threads), config, **options)

    # ---- public API ---------------------------------------------------------------
    def transcribe(self, inputs: str | Path | np.ndarray | Ink | Iterable[str | Path | np.ndarray | Ink],
                   batch_size: int = 16) -> list[Transcript]:
        """One `Transcript` per input, in order; never raises for a bad input.

        `inputs`: one input or an iterable of them. An input is a path (audio or ink file), a
        waveform (float array at the model's rate: [N] mono, or [C, N] / [N, C] with C <= 8
        channels, averaged) or an `Ink` line. Paths are read in batches of `batch_size`.
        """
        items = [inputs] if isinstance(inputs, str | Path | np.ndarray | Ink) else list(inputs)
        results: list[Transcript] = []
        paths: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, str | Path):
                paths.append(str(item))
                continue
            results.extend(self.iter_transcribe(paths, batch_size))
            paths = []
            if isinstance(item, Ink):
                results.append(self.transcribe_ink(item, f"<ink {i}>"))
            elif isinstance(item, np.ndarray):
                results.append(self.transcribe_wave(item, f"<array {i}>"))
            else:
                results.append(Transcript(f"<input {i}>", error=f"<input {i}>: a {type(item).__name__} is not a "
                                          "path, a waveform array or an Ink line"))
        results.extend(self.iter_transcribe(paths, batch_size))
        return results

    def iter_transcribe(self, paths: Iterable[str], batch_size: int = 16) -> Iterator[Transcript]:
        """Transcripts in input order, produced batch by batch (at most `batch_size` short inputs in memory)."""
        batch: list[str] = []
        for path in paths:
            batch.append(path)
            if len(batch) >= batch_size:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    def transcribe_ink(self, ink: Ink, name: str = "<ink>") -> Transcript:
        """One ink line (ink models only)."""
        if self.modality is AUDIO:
            return Transcript(name, error=f"{name}: this is an audio model; it cannot read ink")
        try:
            feats = self.modality.featurize(ink, self.info.features)
            return self._decoded(name, self.model.log_probs([feats])[0], 0.0)
        except Exception as err:
            return Transcript(name, error=_describe(name, err))

    def transcribe_wave(self, wave: np.ndarray, name: str = "<array>") -> Transcript:
        """One waveform at the model's rate ([N], or [C, N] / [N, C] with C <= 8 channels; chunked
        when long). A bad array becomes a `Transcript` with `error`."""
        if self.modality is not AUDIO:
            return Transcript(name, error=f"{name}: this is an {self.modality.name} model; it cannot read audio")
        try:
            wave = _mono(wave, name)
            if wave.shape[0] < self.min_seconds * self.rate or wave.shape[0] == 0:
                raise AudioReadError(f"{name}: audio too short ({wave.shape[0] / self.rate:.3f} s)")
            if wave.shape[0] > self.chunk_seconds * self.rate:
                return self._long(ArraySource(wave, self.rate, name))
            lp = self.model.log_probs([self.modality.featurize(wave, self.info.features)])[0]
            return self._decoded(name, lp, wave.shape[0] / self.rate)
        except Exception as err:
            return Transcript(name, error=_describe(name, err))

    # ---- internals ----------------------------------------------------------------
    def _read(self, path: str) -> tuple[np.ndarray, float]:
        """Features [T, F] of one short input and its audio seconds (0 for ink)."""
        data = self.modality.read(path, self.info.features)
        if self.modality is AUDIO:
            seconds = data.shape[0] / self.rate
            if seconds < self.min_seconds:
                raise AudioReadError(f"{path}: audio too short ({seconds:.3f} s < {self.min_seconds} s)")
            return self.modality.featurize(data, self.info.features), seconds
        return self.modality.featurize(data, self.info.features), 0.0

    def _batch(self, paths: list[str]) -> list[Transcript]:
        results: list[Transcript] = [Transcript(p) for p in paths]
        short: list[tuple[int, np.ndarray]] = []
        for i, path in enumerate(paths):
            try:
                if self.modality is AUDIO and self._is_long(path):
                    results[i] = self._long_file(path)
                    continue
                feats, results[i].duration = self._read(path)
                short.append((i, feats))
            except Exception as err:  # every input gets a row, whatever went wrong
                results[i] = Transcript(path, error=_describe(path, err))
        for i, lp in self._log_probs(short, paths, results):
            try:
                results[i] = self._decoded(paths[i], lp, results[i].duration)
            except Exception as err:
                results[i] = Transcript(paths[i], error=_describe(paths[i], err))
        return results

    def _log_probs(self, short: list[tuple[int, np.ndarray]], paths: list[str],
                   results: list[Transcript]) -> Iterator[tuple[int, np.ndarray]]:
        """Run the model on the batch; when the batch fails, retry one by one to isolate the culprit."""
        if not short:
            return
        try:
            outs = self.model.log_probs([f for _, f in short])
        except Exception:
            for i, feats in short:
                try:
                    yield i, self.model.log_probs([feats])[0]
                except Exception as err:
                    results[i] = Transcript(paths[i], error=_describe(paths[i], err))
            return
        yield from ((i, lp) for (i, _), lp in zip(short, outs, strict=True))

    def _is_long(self, path: str) -> bool:
        """Audio (or an audio segment, `a.wav#t=START,END`) longer than `chunk_seconds`, from its header."""
        import soundfile as sf

        segment = split_segment_address(path)
        file = segment[0] if segment else path
        if not Path(file).is_file():
            return False  # missing, a directory or a FIFO (opening one would block): the reader says which
        try:
            info = sf.info(file)
        except Exception:
            return False  # the reader reports the problem with a uniform message
        if segment:
            start, end = segment[1], segment[2]
            return min(info.frames / info.samplerate, end if end is not None else math.inf) - start > self.chunk_seconds
        return info.frames > self.chunk_seconds * info.samplerate

    def _long_file(self, path: str) -> Transcript:
        source = FileSource(path, self.rate)
        try:
            return self._long(source)
        finally:
            source.close()

    def _long(self, source: ArraySource | FileSource) -> Transcript:
        """Windowed model runs + streaming decoding; memory bounded by the window
        (plus the kept log-probs [T', V] when `keep_log_probs` is set)."""
        stream = StreamingDecoder(self.decoder, segment_frames=self.chunk_frames)
        kept: list[np.ndarray] = []
        windows = list(plan_windows(source.num_samples, self.frame_samples, self.chunk_frames, self.context_frames))
        for first in range(0, len(windows), self.windows_per_batch):
            group = windows[first : first + self.windows_per_batch]
            feats = [self.modality.featurize(source.read(w.start, w.stop), self.info.features) for w in group]
            for w, lp in zip(group, self.model.log_probs(feats), strict=True):
                stream.push(lp[w.keep_from : w.keep_to])
                if self.keep_log_probs:
                    kept.append(lp[w.keep_from : w.keep_to])
        tokens, frames, score = stream.finish()
        chars, char_frames = self.alphabet.spell(tokens, frames)
        _, char_confidences = self.alphabet.spell(tokens, stream.confidences)
        words = words_from_frames(chars, char_frames, self.frame_rate, confidences=char_confidences)
        result = DecodeResult(" ".join(w.word for w in words), score, tokens, frames, words, stream.confidences)
        log_probs = np.concatenate(kept) if kept else None
        return self._transcript(source.name, result, source.num_samples / self.rate, log_probs)

    def _decoded(self, path: str, log_probs: np.ndarray, duration: float) -> Transcript:
        return self._transcript(path, self.decoder(log_probs), duration, log_probs)

    def _transcript(self, path: str, result: DecodeResult, duration: float,
                    log_probs: np.ndarray | None) -> Transcript:
        score = result.score if math.isfinite(result.score) else -1e30
        nbest = result.nbest or ([Alternative(result.text, score, score)] if self.wants_nbest else [])
        return Transcript(path, result.text, score, duration, result.words,
                          log_probs=log_probs if self.keep_log_probs else None, nbest=nbest)


def _mono(wave: np.ndarray, name: str) -> np.ndarray:
    """A waveform array as mono float32 [N]; AudioReadError naming `name` when it cannot be one."""
    arr = np.asarray(wave)
    if arr.dtype.kind not in "fiu":
        raise AudioReadError(f"{name}: a waveform must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim == 2 and min(arr.shape) <= 8:
        arr = arr.mean(axis=0 if arr.shape[0] <= arr.shape[1] else 1)  # channels are the short axis
    if arr.ndim != 1:
        raise AudioReadError(f"{name}: a waveform must be [N] or [channels, N], got shape {arr.shape}")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise AudioReadError(f"{name}: audio holds NaN or infinite samples")
    return arr


def _describe(path: str, err: Exception) -> str:
    """An error message that names the file."""
    if isinstance(err, INPUT_ERRORS):
        return str(err)
    return f"{path}: {type(err).__name__}: {err}"
