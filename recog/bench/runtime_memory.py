"""Peak memory of transcribing one long recording, measured in a fresh process.

Run as `python -m recog.bench.runtime_memory MODEL.onnx AUDIO --threads N`: it
loads the model, warms up, transcribes AUDIO and prints one JSON line with its
peak resident memory (VmHWM, MB) before and after, the timing and whether torch
was loaded. A fresh process per measurement keeps one row's peak from another's.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_long_file(model: str, audio: str, threads: int) -> dict:
    """Transcribe `audio` with the ONNX `model`; the memory and timing figures as a dict."""
    from recog.runtime import Recognizer

    rec = Recognizer.from_onnx(model, threads=threads)
    rec.transcribe_wave(np.zeros(16000, np.float32))  # load everything lazy before the baseline
    base = peak_rss_mb()
    start = time.perf_counter()
    [t] = rec.transcribe([audio])
    wall = time.perf_counter() - start
    return {"peak_rss_mb": round(peak_rss_mb(), 1), "baseline_rss_mb": round(base, 1), "seconds": round(wall, 2),
            "duration": round(t.duration, 1), "rtf": round(wall / max(t.duration, 1e-9), 5),
            "words": len(t.words), "error": t.error, "torch_loaded": "torch" in sys.modules}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("audio")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    print(json.dumps(measure_long_file(args.model, args.audio, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
