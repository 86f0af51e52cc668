"""`Recognizer`: audio or ink in, transcripts out. The one transcription engine of recog.

    from recog.runtime import Recognizer
    rec = Recognizer.from_onnx("models/digits-en/model.onnx", threads=2)
    for t in rec.transcribe(["a.wav", "b.flac"]):
        print(t.path, t.text, t.words)

Short files are read whole, featurized, run through the model in
length-bucketed batches and decoded. Files longer than `chunk_seconds` are
read window by window (see `recog.runtime.chunking`), so memory stays bounded
whatever their length. A file that cannot be used gives a `Transcript` with
`error` set; nothing raises out of `iter_transcribe` for a bad input.

An ink model (modality "ink") reads JSON ink files, IAM-OnDB XML files and
`pack.npz#index` lines (see `recog.features.ink.io`) or `Ink` objects; a line is
never chunked, and word times are in feature vectors instead of seconds.

Works with any `AcousticModel`: the ONNX one (torch-free) or a checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recog.features.ink import Ink, InkError, load_ink
from recog.features.io import AudioReadError, load_audio
from recog.features.speaker import own_spectrum
from recog.inference import AcousticModel
from recog.inference.decoding import Decoder, DecodeResult, Word, build_decoder, words_from_frames
from recog.runtime.chunking import StreamingDecoder, plan_windows
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
    """

    path: str
    text: str = ""
    score: float = 0.0
    duration: float = 0.0
    words: list[Word] = field(default_factory=list)
    error: str | None = None

    def to_row(self) -> dict[str, Any]:
        """The JSONL row: {path, text, score, duration, words: [{word, start, end}]} or {path, error}."""
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        words = [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)} for w in self.words]
        return {"path": self.path, "text": self.text, "score": round(self.score, 4),
                "duration": round(self.duration, 3), "words": words}


class Recognizer:
    """Model + decoder + the policy for batching and long inputs.

    Args:
        model: any `AcousticModel`.
        decoder: log-probs [T', V] -> `DecodeResult` (default greedy).
        chunk_seconds: inputs longer than this are processed in windows of this length.
        context_seconds: overlap dropped at each inner window edge (BiLSTM context).
        min_seconds: shorter inputs are errors ("too short").
        windows_per_batch: windows of one long input run through the model together.

    A model trained with `features.normalize = "speaker"` normalizes every input by
    `speaker_spectrum` when it is set (`enroll` sets it from some of the speaker's
    audio), else each input (each window of a long one) by its own spectrum.
    """

    def __init__(
        self,
        model: AcousticModel,
        decoder: Decoder | None = None,
        chunk_seconds: float = 30.0,
        context_seconds: float = 2.0,
        min_seconds: float = 0.05,
        windows_per_batch: int = 4,
    ):
        self.model = model
        self.decoder = decoder or build_decoder("greedy", model.alphabet, model.frame_rate)
        self.modality = getattr(model, "modality", "audio")
        self.rate = model.features.sample_rate if self.modality == "audio" else 1
        self.frame_samples = int(round(self.rate / model.frame_rate))
        self.chunk_frames = max(1, int(round(chunk_seconds * model.frame_rate)))
        self.context_frames = int(round(context_seconds * model.frame_rate))
        self.chunk_seconds = chunk_seconds
        self.min_seconds = min_seconds
        self.windows_per_batch = max(1, windows_per_batch)
        self.speaker_spectrum: np.ndarray | None = None

    @classmethod
    def from_onnx(cls, path: str | Path, threads: int = 0, decoder: str = "greedy", beam_width: int = 16,
                  lm: str | None = None, alpha: float = 0.5, beta: float = 1.0, hotwords: str | None = None,
                  hotword_weight: float = 2.0, **options: Any) -> Recognizer:
        """An exported model with a greedy or beam (+ n-gram LM, + hotword file) decoder;
        `options` go to `__init__`."""
        from recog.runtime.onnx_model import OnnxAcousticModel

        model = OnnxAcousticModel(path, threads=threads)
        return cls(model, build_decoder(decoder, model.alphabet, model.frame_rate, beam_width, lm, alpha, beta,
                                        hotwords=hotwords, hotword_weight=hotword_weight), **options)

    # ---- public API ---------------------------------------------------------------
    @property
    def normalizes_per_speaker(self) -> bool:
        """True for an audio model trained with `features.normalize = "speaker"`."""
        return self.modality == "audio" and self.model.features.normalize == "speaker"

    def enroll(self, inputs: Iterable[str | Path | np.ndarray]) -> tuple[np.ndarray, list[str]]:
        """Set `speaker_spectrum` from audio of the speaker (paths, or waveforms at the model's rate).

        Returns (the spectrum [n_mels], errors of inputs that could not be read, each naming
        its file). Long files count window by window. Raises ValueError when the model
        does not normalize per speaker, or when no input could be read.
        """
        if not self.normalizes_per_speaker:
            raise ValueError("this model does not normalize per speaker (features.normalize is "
                             f"{getattr(self.model.features, 'normalize', 'ink')!r}); nothing to enroll")
        spectra, errors = [], []
        for item in inputs:
            try:
                spectra.extend(own_spectrum(w, self.model.features) for w in self._enrollment_waves(item))
            except Exception as err:
                errors.append(_describe(str(item), err))
        if not spectra:
            raise ValueError("no enrollment audio could be read" + (f": {errors[0]}" if errors else ""))
        self.speaker_spectrum = np.mean(spectra, 0).astype(np.float32)
        return self.speaker_spectrum, errors

    def _enrollment_waves(self, item: str | Path | np.ndarray) -> Iterator[np.ndarray]:
        """The input's audio, whole or (long files) window by window."""
        if isinstance(item, np.ndarray):
            yield np.asarray(item, np.float32)
            return
        if not self._is_long(str(item)):
            yield load_audio(item, self.rate, min_seconds=self.min_seconds)
            return
        source = FileSource(str(item), self.rate)
        try:
            step = int(self.chunk_seconds * self.rate)
            for start in range(0, source.num_samples, step):
                yield source.read(start, min(start + step, source.num_samples))
        finally:
            source.close()

    def transcribe(self, inputs: Iterable[str | Path | np.ndarray | Ink], batch_size: int = 16) -> list[Transcript]:
        """Paths, waveforms [N] float32 at the model's rate, or `Ink` lines -> one `Transcript` each, in order."""
        items = list(inputs)
        if items and all(isinstance(x, Ink) for x in items):
            return [self.transcribe_ink(ink, f"<ink {i}>") for i, ink in enumerate(items)]
        if all(isinstance(x, np.ndarray) for x in items):
            return [self.transcribe_wave(w, f"<array {i}>") for i, w in enumerate(items)]
        if any(isinstance(x, np.ndarray) for x in items):
            raise TypeError("pass either paths or waveforms, not both")
        return list(self.iter_transcribe([str(x) for x in items], batch_size))

    def iter_transcribe(self, paths: Iterable[str], batch_size: int = 16) -> Iterator[Transcript]:
        """Transcripts in input order, produced batch by batch (at most `batch_size` short files in memory)."""
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
        if self.modality != "ink":
            return Transcript(name, error=f"{name}: this is an {self.modality} model; it cannot read ink")
        feats = self.model.featurize(ink)
        if feats.shape[0] == 0:
            return Transcript(name, error=f"{name}: ink has no points")
        return self._transcript(name, self.decoder(self.model.log_probs([feats])[0]), 0.0)

    def transcribe_wave(self, wave: np.ndarray, name: str = "<array>") -> Transcript:
        """One waveform [N] float32 at the model's rate (chunked when long)."""
        wave = np.asarray(wave, np.float32)
        if wave.shape[0] < self.min_seconds * self.rate or wave.shape[0] == 0:
            return Transcript(name, error=f"{name}: audio too short ({wave.shape[0] / self.rate:.3f} s)")
        if wave.shape[0] > self.chunk_seconds * self.rate:
            return self._long(ArraySource(wave, self.rate, name))
        lp = self.model.log_probs([self.model.featurize(wave, self.speaker_spectrum)])[0]
        return self._transcript(name, self.decoder(lp), wave.shape[0] / self.rate)

    # ---- internals ----------------------------------------------------------------
    def _batch(self, paths: list[str]) -> list[Transcript]:
        results: list[Transcript | None] = [None] * len(paths)
        short: list[tuple[int, np.ndarray]] = []
        for i, path in enumerate(paths):
            try:
                if self.modality == "ink":
                    feats = self.model.featurize(load_ink(path))
                    if feats.shape[0] == 0:
                        raise InkError(f"{path}: ink has no points")
                    short.append((i, feats))
                    results[i] = Transcript(path)
                    continue
                if self._is_long(path):
                    results[i] = self._long_file(path)
                    continue
                wave = load_audio(path, self.rate, min_seconds=self.min_seconds)
                short.append((i, self.model.featurize(wave, self.speaker_spectrum)))
                results[i] = Transcript(path, duration=wave.shape[0] / self.rate)
            except Exception as err:  # every input gets a row, whatever went wrong
                results[i] = Transcript(path, error=_describe(path, err))
        for i, lp in self._log_probs(short, paths, results):
            try:
                done = self._transcript(paths[i], self.decoder(lp), results[i].duration)  # type: ignore[union-attr]
                results[i] = done
            except Exception as err:
                results[i] = Transcript(paths[i], error=_describe(paths[i], err))
        return results  # type: ignore[return-value]

    def _log_probs(self, short: list[tuple[int, np.ndarray]], paths: list[str],
                   results: list[Transcript | None]) -> Iterator[tuple[int, np.ndarray]]:
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
        import soundfile as sf

        try:
            info = sf.info(path)
        except Exception:
            return False  # load_audio reports the problem with a uniform message
        return info.frames > self.chunk_seconds * info.samplerate

    def _long_file(self, path: str) -> Transcript:
        source = FileSource(path, self.rate)
        try:
            return self._long(source)
        finally:
            source.close()

    def _long(self, source: ArraySource | FileSource) -> Transcript:
        """Windowed model runs + streaming decoding; memory bounded by the window."""
        stream = StreamingDecoder(self.decoder, segment_frames=self.chunk_frames)
        windows = list(plan_windows(source.num_samples, self.frame_samples, self.chunk_frames, self.context_frames))
        for first in range(0, len(windows), self.windows_per_batch):
            group = windows[first : first + self.windows_per_batch]
            feats = [self.model.featurize(source.read(w.start, w.stop), self.speaker_spectrum) for w in group]
            for w, lp in zip(group, self.model.log_probs(feats), strict=True):
                stream.push(lp[w.keep_from : w.keep_to])
        tokens, frames, score = stream.finish()
        chars, char_frames = self.model.alphabet.spell(tokens, frames)
        words = words_from_frames(chars, char_frames, self.model.frame_rate)
        result = DecodeResult(" ".join(w.word for w in words), score, tokens, frames, words)
        return self._transcript(source.name, result, source.num_samples / self.rate)

    def _transcript(self, path: str, result: DecodeResult, duration: float) -> Transcript:
        score = result.score if math.isfinite(result.score) else -1e30
        return Transcript(path, result.text, score, duration, result.words)


def _describe(path: str, err: Exception) -> str:
    """An error message that names the file."""
    if isinstance(err, (AudioReadError, InkError)):
        return str(err)
    return f"{path}: {type(err).__name__}: {err}"
