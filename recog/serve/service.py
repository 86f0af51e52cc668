"""The models a service runs: loading, reading inputs, batches in the worker thread, decoders, warm-up.

A `ServedModel` wraps one ONNX model with its `MicroBatcher`. Inputs go through the same
pieces as `Recognizer` (`recog.runtime`): the model's modality featurizes them, the model
gives log-probs for a whole batch in one `log_probs` call, and a decoder built from
`DecoderConfig` turns each into text, words and confidences. Audio longer than the
recognizer's window (30 s) goes through `Recognizer.transcribe_wave`, read window by window.

A `Service` holds the models, the LMs given at start (`--lm NAME=PATH`, loaded once and
shared by every decoder that names them), the limits, the API key and the metrics.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from starlette.requests import Request

from recog.decode.config import Decoder, DecoderConfig
from recog.decode.lm import NgramLM
from recog.decode.result import Alternative, DecodeResult, Word
from recog.features.ink.io import ink_from_json, ink_from_json_bytes
from recog.features.ink.strokes import Ink
from recog.features.io import decode_audio
from recog.features.limits import InputLimits
from recog.runtime.backends import AcousticModel
from recog.runtime.modality import AUDIO, INPUT_ERRORS
from recog.runtime.recognizer import Recognizer
from recog.serve.batcher import Job, MicroBatcher
from recog.serve.errors import BadInput, NotFound, Unauthorized
from recog.serve.inputs import Item
from recog.serve.limits import ServeLimits
from recog.serve.metrics import ServeMetrics
from recog.serve.options import DecodeSettings

log = logging.getLogger("recog.serve")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DECODER_CACHE = 64  # built decoders kept per model (settings beyond it are built again)
CHUNK_SECONDS = 30.0  # longer audio is read in windows (the `Recognizer` default)
MIN_SECONDS = 0.05  # shorter audio is refused, as by `Recognizer`


@dataclass
class ServeConfig:
    """What `recog serve` was started with (see `recog serve --help`).

    Attributes:
        models: `--model` values: a shipped model's name, a path, or NAME=PATH.
        lms: `--lm` values: NAME=PATH of ARPA files requests may name with `lm=NAME`.
        threads: onnxruntime threads per model (0 = all cores).
        max_batch, max_wait_ms, max_queue: micro-batching (`MicroBatcher`).
        api_key: the key requests must carry (None: no key).
        cors_origins: origins allowed by CORS (empty: CORS off).
        limits: the request limits.
        demo: serve the demo page at `/` (`recog.serve.demo`).
    """

    models: list[str]
    lms: list[str] = field(default_factory=list)
    threads: int = 0
    max_batch: int = 16
    max_wait_ms: float = 5.0
    max_queue: int = 256
    api_key: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    limits: ServeLimits = field(default_factory=ServeLimits)
    demo: bool = True


@dataclass
class Work:
    """One read input on its way to the model: its name, waveform or ink, audio seconds,
    decoder, whether it wants an N-best list, and the seconds its reading took."""

    name: str
    data: np.ndarray | Ink
    duration: float
    decoder: Decoder
    wants_nbest: bool
    read_s: float


@dataclass
class Outcome:
    """The result for one input, or why there is none (`error`, with the HTTP `status` it maps to)."""

    name: str
    text: str = ""
    score: float = 0.0
    duration: float = 0.0
    words: list[Word] = field(default_factory=list)
    nbest: list[Alternative] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    status: int = 200

    @classmethod
    def failed(cls, name: str, error: str, status: int = 422) -> Outcome:
        return cls(name, error=error, status=status)

    def to_json(self, model: ServedModel) -> dict[str, Any]:
        """{model, text, score, duration, time_unit, words, (nbest), timings_ms} or {error, status}."""
        if self.error is not None:
            return {"error": self.error, "status": self.status}
        out: dict[str, Any] = {
            "model": model.name, "text": self.text, "score": round(self.score, 4),
            "duration": round(self.duration, 3), "time_unit": model.time_unit,
            "words": [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3),
                       "confidence": round(w.confidence, 4)} for w in self.words],
        }
        if self.nbest:
            out["nbest"] = [{"text": a.text, "score": round(a.score, 4), "am_score": round(a.am_score, 4),
                             "lm_score": round(a.lm_score, 4)} for a in self.nbest]
        out["timings_ms"] = {k: round(v, 2) for k, v in self.timings.items()}
        return out


def _message(name: str, err: Exception) -> str:
    text = str(err)
    return text if text.startswith(name) else f"{name}: {text}"


class ServedModel:
    """One model of the service: reader, batcher, decoders (see the module docstring)."""

    def __init__(self, name: str, model: AcousticModel, source: str, metrics: ServeMetrics,
                 max_batch: int = 16, max_wait_s: float = 0.005, max_queue: int = 256):
        self.name = name
        self.model = model
        self.source = source
        self.info = model.info
        self.modality = model.modality
        self.kind = self.modality.name
        self.rate = self.modality.rate(self.info.features)
        self.time_unit = "seconds" if self.modality.timed_in_seconds else "vectors"
        self.metrics = metrics
        self.batcher = MicroBatcher(name, self._work, max_batch, max_wait_s, max_queue,
                                    on_batch=lambda n: metrics.batch_size.labels(model=name).observe(n))
        self._decoders: OrderedDict[DecodeSettings, Decoder] = OrderedDict()
        self._lock = threading.Lock()
        self.lm_problems: dict[str, str] = {}  # LM name -> why it cannot decode this model's output
        self.warm_error: str | None = None
        self.warmed = False

    def describe(self) -> dict[str, Any]:
        """The entry of `GET /v1/models`."""
        info = self.info
        return {"name": self.name, "modality": self.kind, "alphabet_size": len(info.alphabet),
                "units": info.alphabet.units, "sample_rate": self.rate if self.kind == AUDIO.name else None,
                "frame_rate": info.frame_rate, "time_unit": self.time_unit, "recipe": info.name,
                "metrics": info.metrics, "metrics_about": info.metrics_about, "quantization": info.quantization,
                "file": Path(self.source).name}

    # ---- decoders ----------------------------------------------------------------------
    def decoder(self, settings: DecodeSettings, lms: dict[str, NgramLM]) -> Decoder:
        """The decoder of `settings` (built once, kept among the last `DECODER_CACHE`); `BadInput`
        when the settings cannot decode this model's output (an LM that does not fit it)."""
        key = settings.key()
        with self._lock:
            if key in self._decoders:
                self._decoders.move_to_end(key)
                return self._decoders[key]
        if key.lm is not None and key.lm in self.lm_problems:
            raise BadInput(self.lm_problems[key.lm])
        try:
            config = DecoderConfig(kind=key.kind, beam_width=key.beam_width,
                                   lm=lms[key.lm] if key.lm else None,  # the loaded LM, shared
                                   alpha=key.alpha, beta=key.beta, nbest=key.nbest)
            built = config.build(self.info.alphabet, self.info.frame_rate)
        except ValueError as err:
            raise BadInput(f"model {self.name}: {err}") from None
        with self._lock:
            self._decoders[key] = built
            while len(self._decoders) > DECODER_CACHE:
                self._decoders.popitem(last=False)
        return built

    def cached_decoder(self, settings: DecodeSettings) -> Decoder | None:
        with self._lock:
            return self._decoders.get(settings.key())

    # ---- inputs ------------------------------------------------------------------------
    def read(self, item: Item, limits: InputLimits) -> tuple[np.ndarray | Ink, float]:
        """(waveform at the model's rate or Ink, audio seconds) of an item; the header or the
        JSON structure is checked against `limits` before anything is decoded. `BadInput`
        naming the item when it cannot be read."""
        try:
            if self.kind == AUDIO.name:
                if not isinstance(item.raw, bytes):
                    raise BadInput(f"{item.source}: expected audio bytes")
                wave = decode_audio(item.raw, self.rate, item.source, min_seconds=MIN_SECONDS, limits=limits)
                return wave, wave.shape[0] / self.rate
            if isinstance(item.raw, bytes):
                return ink_from_json_bytes(item.raw, item.source, limits), 0.0
            return ink_from_json(item.raw, item.source, limits), 0.0
        except INPUT_ERRORS as err:
            raise BadInput(_message(item.source, err)) from None

    # ---- the worker thread -------------------------------------------------------------
    def _work(self, jobs: list[Job]) -> list[Outcome]:
        """One batch: features, one model call, decoding; one `Outcome` per job, never raises."""
        start = time.perf_counter()
        works: list[Work] = [job.payload for job in jobs]
        outcomes: list[Outcome | None] = [None] * len(jobs)
        timings = [{"queue": 1000 * (start - job.enqueued), "features": 1000 * w.read_s}
                   for job, w in zip(jobs, works, strict=True)]
        feats: list[tuple[int, np.ndarray]] = []
        long: list[int] = []
        for i, w in enumerate(works):
            if self.kind == AUDIO.name and w.data.shape[0] > CHUNK_SECONDS * self.rate:
                long.append(i)
                continue
            t = time.perf_counter()
            try:
                feats.append((i, self.modality.featurize(w.data, self.info.features)))
            except INPUT_ERRORS as err:
                outcomes[i] = Outcome.failed(w.name, _message(w.name, err))
            except Exception as err:
                log.exception("features of %s failed", w.name)
                outcomes[i] = Outcome.failed(w.name, f"{w.name}: features failed ({type(err).__name__})", 500)
            timings[i]["features"] += 1000 * (time.perf_counter() - t)
        t = time.perf_counter()
        log_probs = self._log_probs(feats, works, outcomes)
        model_ms = 1000 * (time.perf_counter() - t)
        for i, lp in log_probs:
            timings[i]["model"] = model_ms
            t = time.perf_counter()
            try:
                result = works[i].decoder(lp)
            except Exception as err:
                log.exception("decoding %s failed", works[i].name)
                outcomes[i] = Outcome.failed(works[i].name, f"{works[i].name}: decoding failed "
                                             f"({type(err).__name__})", 500)
                continue
            timings[i]["decode"] = 1000 * (time.perf_counter() - t)
            outcomes[i] = self._outcome(works[i], result, timings[i])
        for i in long:
            outcomes[i] = self._long(works[i], timings[i])
        done = [o if o is not None else Outcome.failed(works[k].name, f"{works[k].name}: not transcribed", 500)
                for k, o in enumerate(outcomes)]
        for o in done:
            self.metrics.inputs.labels(model=self.name, outcome="ok" if o.error is None else "error").inc()
            for stage, ms in o.timings.items():
                self.metrics.stage.labels(model=self.name, stage=stage).observe(ms / 1000)
        return done

    def _log_probs(self, feats: list[tuple[int, np.ndarray]], works: list[Work],
                   outcomes: list[Outcome | None]) -> list[tuple[int, np.ndarray]]:
        """One `log_probs` call for the batch; when it fails, one call per input to find the culprit."""
        if not feats:
            return []
        try:
            outs = self.model.log_probs([f for _, f in feats])
            return [(i, lp) for (i, _), lp in zip(feats, outs, strict=True)]
        except Exception:
            log.exception("model %s failed on a batch of %d; retrying one by one", self.name, len(feats))
        kept = []
        for i, f in feats:
            try:
                kept.append((i, self.model.log_probs([f])[0]))
            except Exception as err:
                log.exception("model %s failed on %s", self.name, works[i].name)
                outcomes[i] = Outcome.failed(works[i].name, f"{works[i].name}: the model failed on this input "
                                             f"({type(err).__name__})", 500)
        return kept

    def _outcome(self, w: Work, result: DecodeResult, timings: dict[str, float]) -> Outcome:
        score = result.score if math.isfinite(result.score) else -1e30
        nbest = result.nbest or ([Alternative(result.text, score, score)] if w.wants_nbest else [])
        return Outcome(w.name, result.text, score, w.duration, result.words, nbest, timings)

    def _long(self, w: Work, timings: dict[str, float]) -> Outcome:
        """Audio longer than the window: `Recognizer.transcribe_wave` reads it window by window."""
        t = time.perf_counter()
        rec = Recognizer(self.model, w.decoder, chunk_seconds=CHUNK_SECONDS, min_seconds=MIN_SECONDS)
        transcript = rec.transcribe_wave(w.data, w.name)
        timings["model"] = 1000 * (time.perf_counter() - t)  # features, model and decoding, window by window
        if transcript.error is not None:
            return Outcome.failed(w.name, transcript.error)
        return Outcome(w.name, transcript.text, transcript.score, transcript.duration, transcript.words, [], timings)

    # ---- warm-up -----------------------------------------------------------------------
    def warm(self, lms: dict[str, NgramLM]) -> None:
        """Run a tiny input through the features, the model, the greedy decoder and the beam
        search (without an LM and with each LM), so that the first request compiles nothing.
        An LM that cannot decode this model's output is noted in `lm_problems`."""
        try:
            if self.kind == AUDIO.name:
                data: Any = 0.01 * np.random.default_rng(0).standard_normal(int(0.5 * self.rate)).astype(np.float32)
            else:
                a = np.linspace(0, 2 * np.pi, 40)
                data = Ink([np.column_stack([100 + 30 * np.cos(a), 100 + 30 * np.sin(a), 10 * np.arange(40)]),
                            np.column_stack([150 + np.zeros(10), np.linspace(60, 140, 10), 500 + 10 * np.arange(10)])],
                           "<warm-up>")
            lp = self.model.log_probs([self.modality.featurize(data, self.info.features)])[0]
            self.decoder(DecodeSettings(), lms)(lp)
            self.decoder(DecodeSettings("beam"), lms)(lp)
        except Exception as err:
            log.exception("warm-up of model %s failed", self.name)
            self.warm_error = f"model {self.name}: warm-up failed ({type(err).__name__}: {err})"
            return
        for name in lms:
            try:
                self.decoder(DecodeSettings("beam", lm=name), lms)(lp)
            except Exception as err:
                message = err.message.removeprefix(f"model {self.name}: ") if isinstance(err, BadInput) \
                    else f"{type(err).__name__}: {err}"
                self.lm_problems[name] = f"lm {name} cannot decode the output of model {self.name}: {message}"
        self.warmed = True


def split_spec(value: str, what: str) -> tuple[str | None, str]:
    """`NAME=PATH` -> (NAME, PATH); a value without a name part -> (None, value)."""
    name, sep, rest = value.partition("=")
    if sep and NAME.match(name) and "/" not in name:
        return name, rest
    if what == "--lm":
        raise ValueError(f"--lm {value!r}: give NAME=PATH (requests name the LM with lm=NAME)")
    return None, value


def model_name(given: str, path: Path) -> str:
    """The API name of a `--model` value without NAME=: a shipped model's name as given; for a
    path, its folder's name when the file is called model*.onnx (models/digits-en/model.int8.onnx ->
    digits-en), else the file's stem."""
    if given == path.as_posix() or os.sep in given or "." in given:
        stem = path.name.split(".")[0]
        name = path.parent.name if stem == "model" and path.parent.name else stem
        return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64] or "model"
    return given


class Service:
    """The models, LMs, limits, API key and metrics of one app."""

    def __init__(self, models: dict[str, ServedModel], lms: dict[str, NgramLM], limits: ServeLimits,
                 metrics: ServeMetrics, api_key: str | None = None):
        if not models:
            raise ValueError("no model to serve: give --model at least once")
        self.models = models
        self.lms = lms
        self.limits = limits
        self.metrics = metrics
        self.api_key = api_key.encode("utf-8") if api_key else None
        self.ready = False
        self._warm_task: asyncio.Task | None = None
        self._reads: asyncio.Semaphore | None = None  # readers at a time (made in the running loop)
        for name, m in models.items():
            metrics.watch_queue(name, lambda m=m: m.batcher.depth)

    @classmethod
    def load(cls, config: ServeConfig, metrics: ServeMetrics | None = None) -> Service:
        """Open every model and LM of `config`; ValueError, OSError or `ModelFormatError` naming
        the file when one cannot be opened."""
        from recog.runtime.backends.onnx import OnnxAcousticModel
        from recog.runtime.model_index import resolve_model

        metrics = metrics or ServeMetrics()
        lms: dict[str, NgramLM] = {}
        for value in config.lms:
            name, path = split_spec(value, "--lm")
            assert name is not None
            if name in lms:
                raise ValueError(f"--lm {name} is given twice")
            if not Path(path).is_file():
                raise ValueError(f"--lm {name}: {path}: file not found")
            lms[name] = NgramLM.from_arpa(path)
        models: dict[str, ServedModel] = {}
        for value in config.models:
            name, target = split_spec(value, "--model")
            path = resolve_model(target)
            if path.suffix != ".onnx":
                raise ValueError(f"{path}: recog serve runs exported ONNX models; export a checkpoint with "
                                 "`recog export CKPT -o model.onnx`")
            name = name or model_name(target, path)
            if name in models:
                raise ValueError(f"two models are called {name!r}; name them with --model NAME=PATH")
            model = OnnxAcousticModel(path, threads=config.threads)
            models[name] = ServedModel(name, model, str(path), metrics, config.max_batch,
                                       config.max_wait_ms / 1000.0, config.max_queue)
        return cls(models, lms, config.limits, metrics, config.api_key)

    # ---- life cycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Start every batcher, then warm the models in their worker threads (in the background:
        `GET /readyz` says when they are done)."""
        self.ready = False
        self._reads = asyncio.Semaphore(max(2, os.cpu_count() or 1))
        for m in self.models.values():
            await m.batcher.start()
        self._warm_task = asyncio.create_task(self._warm())

    async def _warm(self) -> None:
        for m in self.models.values():
            await m.batcher.run_in_worker(m.warm, self.lms)
        self.ready = all(m.warmed for m in self.models.values())
        log.info("ready" if self.ready else "warm-up failed: %s",
                 "; ".join(m.warm_error for m in self.models.values() if m.warm_error))

    async def stop(self) -> None:
        """Finish the queued inputs and stop the workers (after uvicorn has drained the requests)."""
        if self._warm_task is not None:
            await asyncio.gather(self._warm_task, return_exceptions=True)
        for m in self.models.values():
            await m.batcher.stop(self.limits.timeout_s)
        self.ready = False

    def readiness(self) -> dict[str, Any]:
        return {"ready": self.ready,
                "models": {name: ("ready" if m.warmed else m.warm_error or "warming up")
                           for name, m in self.models.items()}}

    # ---- requests ----------------------------------------------------------------------
    def check_key(self, request: Request) -> None:
        """`Unauthorized` unless the request carries the API key (`Authorization: Bearer KEY` or
        `X-API-Key: KEY`), compared in constant time."""
        if self.api_key is None:
            return
        given = request.headers.get("x-api-key")
        if given is None:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else None
        if not given:
            raise Unauthorized("missing API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
        if not hmac.compare_digest(given.encode("latin-1"), self.api_key):
            raise Unauthorized("wrong API key")

    def pick(self, name: str | None, kind: str | None) -> ServedModel:
        """The model named `name` (`NotFound` if none; `BadInput` if it reads another kind than
        `kind`, when given), or the first model reading `kind`."""
        if name is not None:
            model = self.models.get(name)
            if model is None:
                raise NotFound(f"unknown model {name[:64]!r} (models: {', '.join(self.models)})")
            if kind is not None and model.kind != kind:
                raise BadInput(f"model {name} reads {model.kind}; this request sends {kind}")
            return model
        for model in self.models.values():
            if model.kind == kind:
                return model
        raise BadInput(f"no model here reads {kind} (models: "
                       + ", ".join(f"{n} ({m.kind})" for n, m in self.models.items()) + ")")

    def _refused(self, model: ServedModel, outcome: Outcome) -> Outcome:
        self.metrics.inputs.labels(model=model.name, outcome="error").inc()
        return outcome

    async def transcribe(self, model: ServedModel, items: list[Item], settings: DecodeSettings) -> list[Outcome]:
        """Read the items (concurrently, in threads), queue the readable ones for the model as one
        submission (`Busy` when they do not fit), and wait for their outcomes."""
        decoder = model.cached_decoder(settings) or await asyncio.to_thread(model.decoder, settings, self.lms)
        reader = self.limits.input_limits()
        wants_nbest = settings.nbest > 0

        slots = self._reads or asyncio.Semaphore(1)

        async def read(item: Item) -> Work | Outcome:
            if item.kind != model.kind:
                return self._refused(model, Outcome.failed(
                    item.source, f"{item.source}: model {model.name} reads {model.kind}, this input is {item.kind}"))
            async with slots:
                t = time.perf_counter()
                try:
                    data, duration = await asyncio.to_thread(model.read, item, reader)
                except BadInput as err:
                    return self._refused(model, Outcome.failed(item.source, err.message))
            return Work(item.source, data, duration, decoder, wants_nbest, time.perf_counter() - t)

        read_items = await asyncio.gather(*(read(item) for item in items))
        works = [r for r in read_items if isinstance(r, Work)]
        futures = iter(model.batcher.submit(works))
        pending = [r if isinstance(r, Outcome) else next(futures) for r in read_items]
        results = await asyncio.gather(*(p for p in pending if not isinstance(p, Outcome)))
        done = iter(results)
        return [p if isinstance(p, Outcome) else next(done) for p in pending]
