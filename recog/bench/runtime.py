"""Runtime benchmark: full-pipeline real-time factor and peak memory, measured side by side.

Engines, on the same files through the same `Recognizer` pipeline (read,
features, model, decode): PyTorch eager (torchaudio features; only when a
checkpoint is given), onnxruntime fp32 and onnxruntime dynamic int8
(numpy/librosa features). From a checkpoint both ONNX files are exported here;
from an ONNX file its int8 twin is made here. Decoders: greedy, and beam search
(width 16) with a word 3-gram LM built from the recipe's training transcripts
(skipped when they are not on this machine).

RTF = wall seconds / audio seconds (lower is faster), best of `repeats` runs
after a warm-up; for an ink model (no audio seconds) lines per second instead,
and no long-recording memory test. Peak memory: a child process (`recog.bench.runtime_memory`)
transcribes one long recording made of the files, for each length, so one
sees whether memory depends on the length.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from recog.text import TextNormalizer


@dataclass
class RuntimeBenchOptions:
    """What `recog bench runtime` measures.

    Attributes:
        checkpoint: a training checkpoint (.pt): torch, onnx-fp32 and onnx-int8 engines.
        model: an exported fp32 model (.onnx) instead: onnx-fp32 and onnx-int8 engines.
        manifest: audio manifest with references (the files timed).
        limit: use the first N files (0 = all).
        threads: threads of every engine (torch intra-op, onnxruntime intra-op).
        repeats: timed runs per engine and decoder; the best is kept.
        minutes: long-recording lengths (minutes) for the memory test; () skips it.
        keep: keep the work folder (exported models, LM) in /tmp.
    """

    checkpoint: Path | None = None
    model: Path | None = None
    manifest: Path = Path("pipelines/digits/data/fsdd/dev_strings.jsonl")
    limit: int = 0
    threads: int = 2
    repeats: int = 2
    minutes: tuple[float, ...] = (10.0, 60.0)
    keep: bool = False


def export_models(checkpoint: Path, folder: Path) -> tuple[Path, Path]:
    """fp32 export (parity-checked) and its int8 twin in `folder`."""
    from recog.export import export_onnx

    fp32 = export_onnx(checkpoint, folder / "model.onnx").path
    return fp32, int8_twin(fp32, folder)


def int8_twin(fp32: Path, folder: Path) -> Path:
    """Dynamic int8 quantization of `fp32` into `folder` (no accuracy gate: accuracy is measured here)."""
    import onnx

    from recog.export.onnx_file import save_atomic, write_metadata
    from recog.export.quantize import quantize_weights
    from recog.runtime import read_model_info

    int8 = folder / "model.int8.onnx"
    quantize_weights(fp32, int8)
    proto = onnx.load(str(int8))
    info = read_model_info(fp32)
    info.quantization = "int8"
    write_metadata(proto, info)
    save_atomic(proto, int8)
    return int8


def build_word_lm(config: dict, folder: Path) -> Path | None:
    """Word 3-gram from the recipe's training transcripts; None when none of them is on this machine."""
    from recog.data.manifest import read_manifest
    from recog.decode import build_lm

    norm = TextNormalizer(**config.get("text", {}).get("normalizer", {}))
    base = Path(config.get("base_dir", "."))
    manifests = [base / m for m in config.get("data", {}).get("train", [])]
    lines = [norm(u.text) for m in manifests if m.is_file() for u in read_manifest(m)]
    lines = [x for x in lines if x]
    if not lines:
        print(f"no training transcripts found ({', '.join(map(str, manifests)) or 'none listed'}): "
              "skipping the beam+lm rows", file=sys.stderr)
        return None
    text = folder / "lm_text.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    arpa = folder / "lm.arpa"
    build_lm(text, arpa, order=3, unit="word")
    return arpa


def make_recognizer(engine: str, paths: dict[str, Path], decoder: str, lm: Path | None, threads: int):
    """A `Recognizer` of `engine` ("torch", "onnx-fp32", "onnx-int8") with a greedy or beam decoder."""
    from recog.decode import DecoderConfig
    from recog.runtime import Recognizer, load_acoustic_model

    if engine == "torch":
        from recog.runtime.backends.torch_checkpoint import TorchAcousticModel

        model = TorchAcousticModel.from_checkpoint(paths["torch"], threads=threads, device="cpu")
    else:
        model = load_acoustic_model(paths[engine], threads=threads)
    return Recognizer(model, DecoderConfig(kind=decoder, lm=str(lm) if lm else None))


def run_speed(recognizer, files: list[str], refs: list[str], normalizer: TextNormalizer, repeats: int) -> dict:
    """Best-of-`repeats` wall time over `files` after a warm-up; WER/CER (percent) of the last run."""
    from recog.metrics import ErrorCounts

    list(recognizer.iter_transcribe(files[:8]))  # warm-up: onnxruntime, numba JIT, caches
    best, out = float("inf"), []
    for _ in range(repeats):
        start = time.perf_counter()
        out = list(recognizer.iter_transcribe(files, batch_size=16))
        best = min(best, time.perf_counter() - start)
    counts = ErrorCounts()
    for t, ref in zip(out, refs, strict=True):
        counts.add(normalizer(ref), t.text)
    audio = sum(t.duration for t in out)
    return {"seconds": round(best, 3), "audio_seconds": round(audio, 1),
            "rtf": round(best / audio, 5) if audio > 0 else None, "per_second": round(len(files) / best, 1),
            "wer": round(counts.wer, 2), "cer": round(counts.cer, 2), "failed": sum(t.error is not None for t in out)}


def synthesize_long(files: list[str], rate: int, minutes: float, target: Path) -> float:
    """Concatenate `files` (cycled, 0.3 s gaps) into a `minutes`-long 16-bit recording; returns its seconds."""
    from recog.features.io import load_audio

    need = int(minutes * 60 * rate)
    written = 0
    with sf.SoundFile(str(target), "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
        while written < need:
            for path in files:
                wave = load_audio(path, rate)[: need - written]
                f.write(np.concatenate([wave, np.zeros(int(0.3 * rate), np.float32)]))
                written += wave.shape[0] + int(0.3 * rate)
                if written >= need:
                    break
    return written / rate


def run_memory(model: Path, audio: Path, threads: int) -> dict:
    """Peak memory of one long file in a fresh process (see `recog.bench.runtime_memory`)."""
    cmd = [sys.executable, "-m", "recog.bench.runtime_memory", str(model), str(audio), "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory measurement of {model} on {audio} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    name = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "unknown")
    return f"{name}, {os.cpu_count()} cores"


def run_runtime_bench(opts: RuntimeBenchOptions) -> dict:
    """Speed of every (decoder, engine) and memory of the ONNX engines; the report as a dict.

    Keys: "speed" {(engine, decoder): {...}}, "memory" {(engine, minutes): {...}}, "meta".
    """
    from recog.data.manifest import read_manifest
    from recog.runtime import read_model_info

    if (opts.checkpoint is None) == (opts.model is None):
        raise ValueError("give either a checkpoint (.pt) or an ONNX model, not both and not neither")
    source = opts.checkpoint or opts.model
    assert source is not None
    if not source.is_file():
        raise FileNotFoundError(f"{source}: not found")
    utts = read_manifest(opts.manifest)[: opts.limit or None]
    if not utts:
        raise ValueError(f"{opts.manifest}: no utterances")
    files, refs = [str(u.path) for u in utts], [u.text for u in utts]
    work = Path(tempfile.mkdtemp(prefix="bench_runtime_"))
    try:
        if opts.checkpoint is not None:
            import torch

            torch.set_num_threads(opts.threads)
            fp32, int8 = export_models(opts.checkpoint, work)
            paths = {"torch": opts.checkpoint, "onnx-fp32": fp32, "onnx-int8": int8}
        else:
            fp32 = source
            if read_model_info(fp32).quantization != "none":
                raise ValueError(f"{fp32}: already quantized; give the fp32 model")
            paths = {"onnx-fp32": fp32, "onnx-int8": int8_twin(fp32, work)}
        info = read_model_info(fp32)
        # a word-unit model (its tokens are words) decodes without an LM: no beam+lm rows then
        lm = build_word_lm(info.config, work) if info.alphabet.units == "char" else None
        speed: dict[tuple[str, str], dict] = {}
        for decoder in ("greedy", "beam+lm") if lm else ("greedy",):
            for engine in paths:
                rec = make_recognizer(engine, paths, "beam" if decoder == "beam+lm" else "greedy",
                                      lm if decoder == "beam+lm" else None, opts.threads)
                speed[(engine, decoder)] = run_speed(rec, files, refs, info.normalizer, opts.repeats)
                print(engine, decoder, speed[(engine, decoder)], file=sys.stderr)
        memory: dict[tuple[str, float], dict] = {}
        for minutes in opts.minutes if info.modality == "audio" else ():
            audio = work / f"long_{minutes:g}min.wav"
            synthesize_long(files, info.features.sample_rate, minutes, audio)
            for name in ("onnx-fp32", "onnx-int8"):
                memory[(name, minutes)] = run_memory(paths[name], audio, opts.threads)
                print(name, minutes, memory[(name, minutes)], file=sys.stderr)
            audio.unlink()
        manifest = opts.manifest.resolve()
        meta = {"files": len(files), "audio_seconds": next(iter(speed.values()))["audio_seconds"],
                "manifest": str(manifest.relative_to(Path.cwd()) if manifest.is_relative_to(Path.cwd()) else manifest),
                "source": str(source), "reference": next(iter(paths)), "threads": opts.threads,
                "repeats": opts.repeats, "cpu": _cpu_name(), "modality": info.modality,
                "sizes_mb": {"fp32": round(fp32.stat().st_size / 1e6, 2),
                             "int8": round(paths["onnx-int8"].stat().st_size / 1e6, 2)}}
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    return {"speed": speed, "memory": memory, "meta": meta}


def markdown(report: dict) -> str:
    """The BENCHMARKS.md section: speed table (x column relative to the first engine) and memory table."""
    meta, speed = report["meta"], report["speed"]
    ref_engine = meta["reference"]
    ref_label = "torch eager" if ref_engine == "torch" else ref_engine
    ink = meta.get("modality") == "ink"
    unit = "lines/s" if ink else "RTF"
    rows = [f"| engine | decoder | {unit} | x {ref_label} | WER % | CER % |", "|---|---|---|---|---|---|"]
    for (engine, decoder), r in speed.items():
        ref = speed[(ref_engine, decoder)]
        if ink:  # throughput: higher is faster
            value, ratio = f"{r['per_second']:.1f}", r["per_second"] / ref["per_second"]
        else:  # real-time factor: lower is faster
            value, ratio = f"{r['rtf']:.4f}", ref["rtf"] / r["rtf"]
        rows.append(f"| {engine} | {decoder} | {value} | {ratio:.2f}x | {r['wer']:.2f} | {r['cer']:.2f} |")
    mem = ["| model | recording | peak RSS MB | RSS before MB | RTF | torch loaded |", "|---|---|---|---|---|---|"]
    for (name, minutes), r in report["memory"].items():
        mem.append(f"| {name} | {minutes:g} min | {r['peak_rss_mb']:.0f} | {r['baseline_rss_mb']:.0f} | "
                   f"{r['rtf']:.4f} | {r['torch_loaded']} |")
    beam = any(d == "beam+lm" for _, d in speed)
    what = (f"{meta['files']} ink lines" if ink else f"Files: {meta['files']} ({meta['audio_seconds']:.0f} s of audio)")
    speed_def = ("lines/s = lines / wall seconds" if ink else "RTF = wall / audio seconds")
    lines = [
        f"{what} from `{meta['manifest']}`; "
        f"model `{meta['source']}`; {meta['threads']} threads; CPU: {meta['cpu']}; "
        f"best of {meta['repeats']} runs after warm-up. {speed_def} for the full pipeline "
        "(read, features, model, decode)."
        + (" Beam: width 16 with a word 3-gram LM (alpha 0.5, beta 1.0)." if beam else ""),
        "", *rows, ""]
    if report["memory"]:
        lines += ["Peak memory of one long recording (a fresh process per row; VmHWM):", "", *mem, ""]
    return "\n".join(lines)


def write_json(report: dict, path: str | Path) -> None:
    """The report as JSON (tuple keys joined with '/')."""
    flat = {"speed": {f"{e}/{d}": r for (e, d), r in report["speed"].items()},
            "memory": {f"{n}/{m:g}min": r for (n, m), r in report["memory"].items()}, "meta": report["meta"]}
    Path(path).write_text(json.dumps(flat, indent=1))
