"""`recog serve --model M [--model M2 ...]`: the recognizer as an HTTP service (docs/deployment.md, "Service")."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

EPILOG = """\
endpoints:
  POST /v1/transcribe         audio body (audio/wav, audio/flac, audio/ogg, audio/mpeg), JSON ink
                              {"strokes": [[[x, y, t], ...], ...]}, or multipart with one 'file'
  POST /v1/transcribe/batch   multipart with several 'file' fields, or {"inputs": [{"strokes": ...}, ...]}
  query options               model, decoder=greedy|beam, beam_width, lm (a --lm NAME), alpha, beta, nbest
  GET  /v1/models, /healthz, /readyz (models warmed), /metrics (Prometheus)
  GET  /                      a demo page: write or speak in the browser (--no-demo: none)

examples:
  recog serve --model digits-en --model iam-ondb-en
  recog serve --model iam-ondb-en --lm char6=models/iam-ondb-en/char6.arpa --api-key-file /etc/recog/key
  curl -s --data-binary @a.wav -H 'Content-Type: audio/wav' http://127.0.0.1:8000/v1/transcribe

Concurrent requests for one model are batched: a batch runs when --max-batch inputs wait or
--max-wait-ms has passed since its first one; beyond --max-queue waiting inputs a request gets
503 with Retry-After. SIGTERM stops accepting connections, finishes the requests in flight
and exits 0.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve models over HTTP (FastAPI; pip install 'recog[serve]')",
                       description=__doc__, epilog=EPILOG)
    p.add_argument("--model", action="append", required=True, metavar="NAME_OR_PATH",
                   help="a shipped model's name, an .onnx file, or NAME=PATH (repeatable; requests pick one with "
                        "model=NAME, else the first that reads their input's kind)")
    p.add_argument("--lm", action="append", default=None, metavar="NAME=PATH",
                   help="an n-gram LM (ARPA) that requests may use with decoder=beam&lm=NAME (repeatable)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--max-batch", type=int, default=16, help="most inputs in one model call")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="longest wait for more inputs once one waits")
    p.add_argument("--max-queue", type=int, default=256, help="most inputs waiting per model (then 503)")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads per model (0 = all cores)")
    p.add_argument("--api-key-file", default=None, metavar="FILE",
                   help="file holding the API key that /v1 requests must send (Authorization: Bearer KEY or "
                        "X-API-Key: KEY)")
    p.add_argument("--cors-origin", action="append", default=None, metavar="ORIGIN",
                   help="allow browser requests from this origin (repeatable; default: CORS off)")
    p.add_argument("--max-body-mb", type=float, default=20.0, help="largest request body (then 413)")
    p.add_argument("--max-audio-s", type=float, default=300.0, help="longest audio input in seconds (then 422)")
    p.add_argument("--max-inputs", type=int, default=64, help="most inputs in one /v1/transcribe/batch call")
    p.add_argument("--timeout-s", type=float, default=30.0, help="longest time for a request (then 504)")
    p.add_argument("--no-demo", action="store_true", help="serve no demo page at / (the API only)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="uvicorn's log level")
    p.set_defaults(func=run)


def _api_key(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise SystemExit(f"error: --api-key-file {path}: {err}") from None
    if not key or any(c.isspace() for c in key):
        raise SystemExit(f"error: --api-key-file {path}: the file must hold one key without spaces")
    return key


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from recog.serve import ServeConfig, ServeLimits, create_app
    except ModuleNotFoundError as err:
        raise SystemExit(f"error: recog serve needs {err.name}: pip install 'recog[serve]'") from None
    from recog.runtime import ModelFormatError

    for flag, value in (("--max-batch", args.max_batch), ("--max-queue", args.max_queue),
                        ("--max-inputs", args.max_inputs)):
        if value < 1:
            raise SystemExit(f"error: {flag} must be at least 1, got {value}")
    for flag, value in (("--max-body-mb", args.max_body_mb), ("--max-audio-s", args.max_audio_s),
                        ("--timeout-s", args.timeout_s)):
        if not value > 0:
            raise SystemExit(f"error: {flag} must be above 0, got {value}")
    if args.max_wait_ms < 0:
        raise SystemExit(f"error: --max-wait-ms must not be negative, got {args.max_wait_ms}")
    limits = ServeLimits(max_body_bytes=int(args.max_body_mb * (1 << 20)), max_audio_seconds=args.max_audio_s,
                         max_inputs=args.max_inputs, timeout_s=args.timeout_s)
    config = ServeConfig(models=args.model, lms=args.lm or [], threads=args.threads, max_batch=args.max_batch,
                         max_wait_ms=args.max_wait_ms, max_queue=args.max_queue, api_key=_api_key(args.api_key_file),
                         cors_origins=args.cors_origin or [],
                         limits=limits, demo=not args.no_demo)
    try:
        app = create_app(config)
    except (ModelFormatError, OSError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                                           timeout_graceful_shutdown=int(args.timeout_s) + 5))
    # uvicorn drains the requests in flight on SIGTERM, then raises the signal again: this handler
    # takes it, so a graceful stop exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run()
    if not server.started:
        print("error: the server did not start (see the log above)", file=sys.stderr)
        return 1
    return 0
