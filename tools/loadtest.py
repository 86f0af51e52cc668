"""Load test of `recog serve`: throughput and latency at several concurrencies, batching on and off.

    python tools/loadtest.py                              # starts the server itself, prints a markdown table
    python tools/loadtest.py --kinds audio --concurrency 1,2 --requests 10 --json out.json
    python tools/loadtest.py --url http://127.0.0.1:8000 [--pid PID]   # a server already running

Without `--url` the tool starts `python -m recog serve` on a free 127.0.0.1 port once per
configuration, waits for `GET /readyz`, and sends `POST /v1/transcribe` requests from
`--concurrency` workers (httpx, async) until `--requests` have been answered or `--duration`
seconds have passed, whichever comes first. Configurations:

    batched   --max-batch 16 --max-wait-ms 5   micro-batching (the service's defaults)
    naive     --max-batch 1  --max-wait-ms 0   batching off: one onnxruntime call per request,
                                               no waiting; this is the naive per-request baseline
                                               (with --max-batch 1 the wait never applies)

Inputs: audio is `models/digits-en/samples/*.wav` (raw body, audio/wav) for `digits-en`; ink is
a few real IAM-OnDB lines from `../shared/data/iam_ondb` when that folder is there, else lines
drawn by `tests/ink_support.synth_ink`, sent as JSON strokes to `iam-ondb-en`. Errors (any answer
but 200, or no answer) are counted. The server's resident memory (VmRSS of /proc/PID/status) is
read when it is ready, after a short warm-up, and after the last measurement.

Only 127.0.0.1 (or localhost) is ever contacted. Latencies are measured by the client, which
shares the machine with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_IAM = ROOT.parent / "shared" / "data" / "iam_ondb"
AUDIO_MODEL = "digits-en"
INK_MODEL = "iam-ondb-en"
CONFIGS = {"batched": (16, 5.0), "naive": (1, 0.0)}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@dataclass
class Point:
    """One measurement: a configuration, an input kind, a concurrency."""

    config: str
    kind: str
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    error_examples: list[str] = field(default_factory=list)


@dataclass
class Memory:
    config: str
    rss_ready_mb: float | None = None
    rss_warm_mb: float | None = None
    rss_after_mb: float | None = None

    @property
    def growth(self) -> float | None:
        """RSS growth over the measurements (after the warm-up -> after the last one), as a fraction."""
        if self.rss_warm_mb and self.rss_after_mb is not None:
            return self.rss_after_mb / self.rss_warm_mb - 1.0
        return None


# ---- inputs ---------------------------------------------------------------------------------

def audio_bodies() -> list[bytes]:
    files = sorted((ROOT / "models" / AUDIO_MODEL / "samples").glob("*.wav"))
    if not files:
        raise SystemExit(f"no samples in {ROOT / 'models' / AUDIO_MODEL / 'samples'}")
    return [f.read_bytes() for f in files]


def ink_bodies(n: int = 8) -> tuple[list[bytes], str]:
    """JSON ink lines: real IAM-OnDB lines when the shared data is there, else generated ones."""
    strokes_lists: list[list[list[list[float]]]] = []
    source = ""
    if (SHARED_IAM / "strokes.npy").is_file():
        try:
            from recog.features.ink.iam_ondb import IamOnDb

            db = IamOnDb(SHARED_IAM)
            test = db.splits().get("test") or list(range(len(db)))
            for i in test[:n]:
                ink = db.ink(i)
                strokes_lists.append([np.round(s[:, :2], 1).tolist() for s in ink.strokes])
            source = f"IAM-OnDB ({len(strokes_lists)} lines of {SHARED_IAM})"
        except Exception as err:  # fall back to generated lines
            print(f"(could not read {SHARED_IAM}: {err}; using generated lines)", file=sys.stderr)
            strokes_lists = []
    if not strokes_lists:
        sys.path.insert(0, str(ROOT))
        from tests.ink_support import synth_ink

        texts = ["lol ox cil", "cool oil ox", "loci ox lil", "xi col oil", "ill cox loo", "oil lol ci",
                 "cox oil lil", "olio xi col"]
        for i, text in enumerate(texts[:n]):
            ink = synth_ink(text, seed=i, with_time=True)
            strokes_lists.append([np.round(s, 1).tolist() for s in ink.strokes])
        source = f"generated ({len(strokes_lists)} lines of tests/ink_support.synth_ink)"
    return [json.dumps({"strokes": s}).encode() for s in strokes_lists], source


# ---- the server -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def check_local(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS or parts.port is None:
        raise SystemExit(f"--url {url!r}: give http://127.0.0.1:PORT (this tool only talks to this machine)")
    return f"http://127.0.0.1:{parts.port}"


class Server:
    """`python -m recog serve` on a free 127.0.0.1 port, stopped on exit."""

    def __init__(self, models: list[str], max_batch: int, max_wait_ms: float, threads: int, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "recog", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--max-batch", str(max_batch), "--max-wait-ms", f"{max_wait_ms:g}", "--threads", str(threads)]
        for m in models:
            cmd += ["--model", m]
        self.cmd = cmd
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self._log_file, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


async def wait_ready(client: httpx.AsyncClient, url: str, timeout_s: float, server: Server | None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server is not None and server.proc.poll() is not None:
            tail = server.log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"the server stopped (exit {server.proc.returncode}):\n{tail}")
        try:
            r = await client.get(f"{url}/readyz", timeout=5.0)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.25)
    raise SystemExit(f"{url}/readyz did not answer 200 within {timeout_s:g} s")


# ---- load -----------------------------------------------------------------------------------

async def one(client: httpx.AsyncClient, url: str, body: bytes, content_type: str) -> tuple[float, str | None]:
    start = time.perf_counter()
    try:
        r = await client.post(url, content=body, headers={"Content-Type": content_type})
        error = None if r.status_code == 200 else f"{r.status_code}: {r.text[:200]}"
    except httpx.HTTPError as err:
        error = f"{type(err).__name__}: {err}"
    return time.perf_counter() - start, error


async def measure(client: httpx.AsyncClient, base: str, config: str, kind: str, bodies: list[bytes],
                  concurrency: int, max_requests: int, max_seconds: float) -> Point:
    model, content_type = (AUDIO_MODEL, "audio/wav") if kind == "audio" else (INK_MODEL, "application/json")
    url = f"{base}/v1/transcribe?model={model}"
    latencies: list[float] = []
    point = Point(config, kind, concurrency)
    issued = 0
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker() -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            body = bodies[issued % len(bodies)]
            issued += 1
            seconds, error = await one(client, url, body, content_type)
            latencies.append(seconds)
            if error is not None:
                point.errors += 1
                if len(point.error_examples) < 3:
                    point.error_examples.append(error)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    point.seconds = time.perf_counter() - start
    point.requests = len(latencies)
    if latencies:
        ms = 1000 * np.asarray(latencies)
        point.rps = point.requests / point.seconds
        point.p50_ms, point.p95_ms, point.p99_ms = (float(np.percentile(ms, q)) for q in (50, 95, 99))
    return point


async def warm_up(client: httpx.AsyncClient, base: str, kinds: dict[str, list[bytes]], concurrency: int) -> None:
    """A few requests per kind at the highest concurrency, so the first point pays for no first use."""
    for kind, bodies in kinds.items():
        await measure(client, base, "warm-up", kind, bodies, concurrency, 2 * concurrency, 30.0)


async def run_config(config: str, base: str, pid: int | None, inputs: dict[str, list[bytes]],
                     concurrencies: list[int], args: argparse.Namespace,
                     server: Server | None) -> tuple[list[Point], Memory]:
    limits = httpx.Limits(max_connections=max(concurrencies) + 4, max_keepalive_connections=max(concurrencies) + 4)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0), limits=limits, trust_env=False) as client:
        await wait_ready(client, base, args.ready_timeout, server)
        memory = Memory(config, rss_ready_mb=rss_mb(pid))
        await warm_up(client, base, inputs, max(concurrencies))
        memory.rss_warm_mb = rss_mb(pid)
        points = []
        for kind, bodies in inputs.items():
            for c in concurrencies:
                p = await measure(client, base, config, kind, bodies, c, args.requests, args.duration)
                print(f"  {config:8s} {kind:5s} c={c:<3d} {p.requests:5d} req  {p.rps:7.1f} req/s  "
                      f"p50 {p.p50_ms:7.1f}  p99 {p.p99_ms:7.1f} ms  errors {p.errors}", file=sys.stderr)
                points.append(p)
        memory.rss_after_mb = rss_mb(pid)
    return points, memory


# ---- report ---------------------------------------------------------------------------------

def find(points: list[Point], config: str, kind: str, c: int) -> Point | None:
    return next((p for p in points if (p.config, p.kind, p.concurrency) == (config, kind, c)), None)


def summary(points: list[Point], memories: list[Memory], concurrencies: list[int]) -> dict:
    """Ratios and the targets (where the points they need were measured)."""
    lo, hi = min(concurrencies), max(concurrencies)
    ratios: dict[str, float] = {}
    for kind in ("audio", "ink"):
        b_lo, b_hi, n_hi = find(points, "batched", kind, lo), find(points, "batched", kind, hi), \
            find(points, "naive", kind, hi)
        if b_lo and b_hi and b_lo.rps:
            ratios[f"{kind}: batched c={hi} / batched c={lo}"] = b_hi.rps / b_lo.rps
        if b_hi and n_hi and n_hi.rps:
            ratios[f"{kind}: batched c={hi} / naive c={hi}"] = b_hi.rps / n_hi.rps
    targets: dict[str, bool] = {}
    for kind in ("audio", "ink"):
        if (r := ratios.get(f"{kind}: batched c={hi} / batched c={lo}")) is not None:
            targets[f"{kind}: throughput batched c={hi} >= 3x c={lo}"] = r >= 3.0
        if (r := ratios.get(f"{kind}: batched c={hi} / naive c={hi}")) is not None:
            targets[f"{kind}: throughput batched c={hi} >= 2x naive c={hi}"] = r >= 2.0
    ink8 = find(points, "batched", "ink", 8)
    if ink8 is not None:
        targets["ink: p99 of one line at c=8 (batched) < 250 ms"] = ink8.p99_ms < 250.0
    targets["0 errors"] = sum(p.errors for p in points) == 0
    growths = [m.growth for m in memories if m.growth is not None]
    if growths:
        targets["RSS growth < 10 %"] = max(growths) < 0.10
    return {"ratios": ratios, "targets": targets}


def markdown(points: list[Point], memories: list[Memory], result: dict) -> str:
    out = ["| config | input | concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for p in points:
        out.append(f"| {p.config} | {p.kind} | {p.concurrency} | {p.requests} | {p.errors} | {p.rps:.1f} | "
                   f"{p.p50_ms:.1f} | {p.p95_ms:.1f} | {p.p99_ms:.1f} |")
    out += ["", "| config | RSS ready MB | RSS after warm-up MB | RSS after the run MB | growth |",
            "|---|---:|---:|---:|---:|"]

    def mb(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1f}"

    for m in memories:
        g = "n/a" if m.growth is None else f"{100 * m.growth:+.1f} %"
        out.append(f"| {m.config} | {mb(m.rss_ready_mb)} | {mb(m.rss_warm_mb)} | {mb(m.rss_after_mb)} | {g} |")
    if result["ratios"]:
        out += ["", "| ratio of throughputs | value |", "|---|---:|"]
        out += [f"| {k} | {v:.2f}x |" for k, v in result["ratios"].items()]
    out += ["", "| target | holds |", "|---|---|"]
    out += [f"| {k} | {'yes' if v else 'NO'} |" for k, v in result["targets"].items()]
    return "\n".join(out)


# ---- main -----------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="a running server, http://127.0.0.1:PORT (default: start one per config)")
    ap.add_argument("--pid", type=int, help="with --url: the server's process id, for its RSS")
    ap.add_argument("--configs", default="batched,naive", help="batched,naive (default both)")
    ap.add_argument("--max-batch", type=int, default=16, help="the batched config's --max-batch (16)")
    ap.add_argument("--max-wait-ms", type=float, default=5.0, help="the batched config's --max-wait-ms (5)")
    ap.add_argument("--kinds", default="audio,ink", help="audio,ink (default both)")
    ap.add_argument("--concurrency", default="1,8,32", help="comma-separated (default 1,8,32)")
    ap.add_argument("--requests", type=int, default=500, help="most requests per point (500)")
    ap.add_argument("--duration", type=float, default=20.0, help="most seconds per point (20)")
    ap.add_argument("--threads", type=int, default=0, help="the server's --threads (0: all cores)")
    ap.add_argument("--ready-timeout", type=float, default=180.0, help="seconds to wait for /readyz (180)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    if args.requests < 1 or args.duration <= 0 or args.max_batch < 1 or args.max_wait_ms < 0:
        ap.error("--requests, --duration and --max-batch must be positive, --max-wait-ms at least 0")
    return args


async def main_async(args: argparse.Namespace) -> dict:
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not kinds or set(kinds) - {"audio", "ink"}:
        raise SystemExit("--kinds: audio, ink or both")
    concurrencies = sorted({int(c) for c in args.concurrency.split(",")})
    if min(concurrencies) < 1:
        raise SystemExit("--concurrency: positive numbers")
    inputs: dict[str, list[bytes]] = {}
    ink_source = None
    if "audio" in kinds:
        inputs["audio"] = audio_bodies()
    if "ink" in kinds:
        inputs["ink"], ink_source = ink_bodies()
    models = ([AUDIO_MODEL] if "audio" in kinds else []) + ([INK_MODEL] if "ink" in kinds else [])
    configs = dict(CONFIGS, batched=(args.max_batch, args.max_wait_ms))
    points: list[Point] = []
    memories: list[Memory] = []
    started = time.perf_counter()
    if args.url:
        base = check_local(args.url)
        p, m = await run_config("server", base, args.pid, inputs, concurrencies, args, None)
        points += p
        memories.append(m)
        config_flags = {"server": "as started by its owner"}
    else:
        names = [c.strip() for c in args.configs.split(",") if c.strip()]
        if not names or set(names) - set(CONFIGS):
            raise SystemExit(f"--configs: some of {', '.join(CONFIGS)}")
        config_flags = {}
        with tempfile.TemporaryDirectory(prefix="recog-loadtest-") as tmp:
            for name in names:
                max_batch, max_wait_ms = configs[name]
                config_flags[name] = f"--max-batch {max_batch} --max-wait-ms {max_wait_ms:g}"
                server = Server(models, max_batch, max_wait_ms, args.threads, Path(tmp) / f"{name}.log")
                print(f"{name}: {' '.join(server.cmd[1:])} (pid {server.pid})", file=sys.stderr)
                try:
                    p, m = await run_config(name, server.url, server.pid, inputs, concurrencies, args, server)
                finally:
                    server.stop()
                points += p
                memories.append(m)
    result = summary(points, memories, concurrencies)
    return {"configs": config_flags, "ink_source": ink_source, "concurrency": concurrencies,
            "requests_per_point": args.requests, "seconds_per_point": args.duration,
            "wall_s": round(time.perf_counter() - started, 1), "cpus": os.cpu_count(),
            "points": [asdict(p) for p in points],
            "memory": [{**asdict(m), "growth": m.growth} for m in memories], **result,
            "markdown": markdown(points, memories, result)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = asyncio.run(main_async(args))
    for name, flags in report["configs"].items():
        print(f"- {name}: {flags}")
    if report["ink_source"]:
        print(f"- ink: {report['ink_source']}")
    print(f"- wall time {report['wall_s']} s\n")
    print(report["markdown"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0 if all(p["errors"] == 0 for p in report["points"]) else 1


if __name__ == "__main__":
    sys.exit(main())
