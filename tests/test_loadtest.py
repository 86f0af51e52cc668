"""tools/loadtest.py with tiny counts: it starts `recog serve`, measures, and reports every field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def test_loadtest_small_run(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "loadtest.py"), "--kinds", "audio",
                           "--concurrency", "1,2", "--requests", "10", "--duration", "10", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report["configs"]) == {"batched", "naive"}
    assert len(report["points"]) == 4  # 2 configs x 1 kind x 2 concurrencies
    for p in report["points"]:
        assert p["kind"] == "audio" and p["concurrency"] in (1, 2)
        assert p["requests"] == 10 and p["errors"] == 0
        assert p["rps"] > 0 and 0 < p["p50_ms"] <= p["p95_ms"] <= p["p99_ms"]
    for m in report["memory"]:
        assert m["rss_ready_mb"] > 0 and m["rss_after_mb"] > 0 and m["growth"] is not None
    assert "audio: batched c=2 / naive c=2" in report["ratios"]
    assert report["targets"]["0 errors"] is True
    table = proc.stdout
    assert "| config | input | concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms |" in table
    assert "| batched | audio | 2 | 10 | 0 |" in table and "RSS" in table


def test_loadtest_refuses_other_hosts() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "loadtest.py"), "--url", "http://10.0.0.1:8000",
                           "--kinds", "audio", "--requests", "1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0 and "127.0.0.1" in proc.stderr
