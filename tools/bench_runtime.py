"""Runtime benchmark: full-pipeline real-time factor and peak memory, measured side by side.

    .venv/bin/python tools/bench_runtime.py --checkpoint exp/digits/best.pt \
        --manifest pipelines/digits/data/fsdd/dev_strings.jsonl --threads 2 --markdown out.md

Engines (same checkpoint, same files, same `Recognizer` pipeline: read, features,
model, decode): PyTorch eager (torchaudio features), onnxruntime fp32 and
onnxruntime dynamic int8 (numpy/librosa features). Decoders: greedy, and
beam search with a word 3-gram LM built from the recipe's training transcripts.

RTF = wall seconds / audio seconds (lower is faster), best of `--repeats` runs
after a warm-up. Peak memory: a child process transcribes one synthesized long
recording (dev files concatenated) and reports its peak RSS (ru_maxrss); the
same for two lengths shows whether memory depends on the length. Peak RSS is
VmHWM from /proc (ru_maxrss would include the parent's, kept across exec).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def export_models(checkpoint: Path, folder: Path) -> tuple[Path, Path]:
    """fp32 export (parity-checked) + int8 twin (no accuracy gate here: accuracy is measured below)."""
    import onnx

    from recog.export import export_onnx
    from recog.export.onnx_file import save_atomic, write_metadata
    from recog.export.quantize import quantize_weights
    from recog.runtime import read_model_info

    fp32 = export_onnx(checkpoint, folder / "model.onnx").path
    int8 = folder / "model.int8.onnx"
    quantize_weights(fp32, int8)
    proto = onnx.load(str(int8))
    info = read_model_info(fp32)
    info.quantization = "int8"
    write_metadata(proto, info)
    save_atomic(proto, int8)
    return fp32, int8


def build_word_lm(config: dict, folder: Path) -> Path:
    """Word 3-gram from the recipe's training transcripts."""
    from recog.data.manifest import read_manifest
    from recog.decode import build_lm
    from recog.text import TextNormalizer

    norm = TextNormalizer(**config["text"]["normalizer"])
    base = Path(config["base_dir"])
    lines = [norm(u.text) for m in config["data"]["train"] if (base / m).is_file() for u in read_manifest(base / m)]
    text = folder / "lm_text.txt"
    text.write_text("\n".join(x for x in lines if x) + "\n", encoding="utf-8")
    arpa = folder / "lm.arpa"
    build_lm(text, arpa, order=3, unit="word")
    return arpa


def make_recognizer(engine: str, paths: dict[str, Path], decoder: str, lm: Path | None, threads: int):
    from recog.inference.decoding import build_decoder
    from recog.runtime import OnnxAcousticModel, Recognizer

    if engine == "torch":
        from recog.inference.torch_model import TorchAcousticModel

        model = TorchAcousticModel.from_checkpoint(paths["torch"], threads=threads, device="cpu")
    else:
        model = OnnxAcousticModel(paths[engine], threads=threads)
    dec = build_decoder(decoder, model.alphabet, model.frame_rate, beam_width=16,
                        lm_path=str(lm) if lm else None, alpha=0.5, beta=1.0)
    return Recognizer(model, dec)


def run_speed(recognizer, files: list[str], refs: list[str], normalizer, repeats: int) -> dict:
    """Best-of-`repeats` wall time over `files` after a warm-up; WER/CER of the last run."""
    from recog.metrics import ErrorCounts

    list(recognizer.iter_transcribe(files[:8]))  # warm-up: sessions, numba JIT, caches
    best, out = float("inf"), []
    for _ in range(repeats):
        start = time.perf_counter()
        out = list(recognizer.iter_transcribe(files, batch_size=16))
        best = min(best, time.perf_counter() - start)
    counts = ErrorCounts()
    for t, ref in zip(out, refs, strict=True):
        counts.add(normalizer(ref), t.text)
    audio = sum(t.duration for t in out)
    return {"seconds": round(best, 3), "audio_seconds": round(audio, 1), "rtf": round(best / audio, 5),
            "wer": round(counts.wer, 2), "cer": round(counts.cer, 2), "failed": sum(t.error is not None for t in out)}


def synthesize_long(files: list[str], rate: int, minutes: float, target: Path) -> float:
    """Concatenate `files` (cycled) into a `minutes`-long recording, written block by block."""
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


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(model: str, audio: str, threads: int) -> None:
    """Run in a fresh process: transcribe one long file; print JSON with peak RSS (MB) and timing."""
    from recog.runtime import Recognizer

    rec = Recognizer.from_onnx(model, threads=threads)
    rec.transcribe_wave(np.zeros(16000, np.float32))  # load everything lazy before the baseline
    base = peak_rss_mb()
    start = time.perf_counter()
    [t] = rec.transcribe([audio])
    wall = time.perf_counter() - start
    peak = peak_rss_mb()
    print(json.dumps({"peak_rss_mb": round(peak, 1), "baseline_rss_mb": round(base, 1), "seconds": round(wall, 2),
                      "duration": round(t.duration, 1), "rtf": round(wall / max(t.duration, 1e-9), 5),
                      "words": len(t.words), "error": t.error, "torch_loaded": "torch" in sys.modules}))


def run_memory(model: Path, audio: Path, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--memory-child", str(model), str(audio), "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(report: dict) -> str:
    """The BENCHMARKS.md section."""
    rows = ["| engine | decoder | RTF | x torch eager | WER % | CER % |", "|---|---|---|---|---|---|"]
    speed = report["speed"]
    for (engine, decoder), r in speed.items():
        ref = speed[("torch", decoder)]["rtf"]
        rows.append(f"| {engine} | {decoder} | {r['rtf']:.4f} | {ref / r['rtf']:.2f}x | {r['wer']:.2f} | {r['cer']:.2f} |")
    mem = ["| model | recording | peak RSS MB | RSS before MB | RTF | torch loaded |", "|---|---|---|---|---|---|"]
    for (name, minutes), r in report["memory"].items():
        mem.append(f"| {name} | {minutes:g} min | {r['peak_rss_mb']:.0f} | {r['baseline_rss_mb']:.0f} | "
                   f"{r['rtf']:.4f} | {r['torch_loaded']} |")
    meta = report["meta"]
    return "\n".join([
        f"Files: {meta['files']} ({meta['audio_seconds']:.0f} s of audio) from `{meta['manifest']}`; "
        f"model `{meta['checkpoint']}`; {meta['threads']} threads; CPU: {meta['cpu']}; "
        f"best of {meta['repeats']} runs after warm-up. RTF = wall / audio seconds for the full pipeline "
        "(read, features, model, decode). Beam: width 16 with a word 3-gram LM (alpha 0.5, beta 1.0).",
        "", *rows, "", "Peak memory of one long recording (a fresh process per row; VmHWM):", "", *mem, ""])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=ROOT / "exp/digits/best.pt")
    p.add_argument("--manifest", type=Path, default=ROOT / "pipelines/digits/data/fsdd/dev_strings.jsonl")
    p.add_argument("--limit", type=int, default=0, help="use the first N files (0 = all)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--minutes", default="10,60", help="long-recording lengths for the memory test")
    p.add_argument("--markdown", type=Path, default=None, help="write the markdown section here")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--keep", action="store_true", help="keep the work folder (models, LM) in /tmp")
    p.add_argument("--memory-child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_child:
        memory_child(*args.memory_child, threads=args.threads)
        return 0

    import torch

    from recog.data.manifest import read_manifest
    from recog.runtime import read_model_info

    torch.set_num_threads(args.threads)
    utts = read_manifest(args.manifest)[: args.limit or None]
    files, refs = [str(u.path) for u in utts], [u.text for u in utts]
    work = Path(tempfile.mkdtemp(prefix="bench_runtime_"))
    fp32, int8 = export_models(args.checkpoint, work)
    info = read_model_info(fp32)
    lm = build_word_lm(info.config, work)
    paths = {"torch": args.checkpoint, "onnx-fp32": fp32, "onnx-int8": int8}
    speed = {}
    for decoder in ("greedy", "beam+lm"):
        for engine in paths:
            rec = make_recognizer(engine, paths, "beam" if decoder == "beam+lm" else "greedy",
                                  lm if decoder == "beam+lm" else None, args.threads)
            speed[(engine, decoder)] = run_speed(rec, files, refs, info.normalizer, args.repeats)
            print(engine, decoder, speed[(engine, decoder)], file=sys.stderr)
    memory = {}
    for minutes in (float(m) for m in args.minutes.split(",")):
        audio = work / f"long_{minutes:g}min.wav"
        synthesize_long(files, info.features.sample_rate, minutes, audio)
        for name, model in (("onnx-fp32", fp32), ("onnx-int8", int8)):
            memory[(name, minutes)] = run_memory(model, audio, args.threads)
            print(name, minutes, memory[(name, minutes)], file=sys.stderr)
        audio.unlink()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")
    report = {"speed": speed, "memory": memory,
              "meta": {"files": len(files), "audio_seconds": speed[("torch", "greedy")]["audio_seconds"],
                       "manifest": str(args.manifest.relative_to(ROOT) if args.manifest.is_relative_to(ROOT) else args.manifest),
                       "checkpoint": str(args.checkpoint), "threads": args.threads, "repeats": args.repeats,
                       "cpu": f"{cpu}, {os.cpu_count()} cores", "sizes_mb": {
                           "fp32": round(fp32.stat().st_size / 1e6, 2), "int8": round(int8.stat().st_size / 1e6, 2)}}}
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    text = markdown(report)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        flat = {"speed": {f"{e}/{d}": r for (e, d), r in speed.items()},
                "memory": {f"{n}/{m:g}min": r for (n, m), r in memory.items()}, "meta": report["meta"]}
        args.json.write_text(json.dumps(flat, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
