"""`recog serve` as a real process for tests: a free local port, start, wait for /readyz, stop."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .conftest import ROOT


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen, base: str, seconds: float = 120.0) -> None:
    """Return once `base`/readyz answers 200; AssertionError with the process's output if it
    exits first or `seconds` pass."""
    import httpx

    deadline = time.time() + seconds
    while True:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"recog serve exited with {proc.returncode}:\n{out}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.time() < deadline, f"recog serve at {base} was not ready within {seconds:g} s"
        time.sleep(0.2)


@contextmanager
def serve_process(args: list[str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python -m recog serve ARGS --port P` on a free port: yields (process, "http://127.0.0.1:P")
    once ready; killed on exit if still running."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "recog", "serve", *args, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
