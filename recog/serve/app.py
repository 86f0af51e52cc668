"""The HTTP application of `recog serve` (FastAPI): endpoints, API key, CORS, metrics, time limit.

    POST /v1/transcribe           one input: audio body, JSON ink or one multipart `file`
    POST /v1/transcribe/batch     several inputs: multipart `file` fields or {"inputs": [ink, ...]}
    GET  /v1/models               the models and their figures
    GET  /healthz                 the process answers
    GET  /readyz                  models loaded and warmed (decoders compiled): 200, else 503
    GET  /metrics                 Prometheus text
    GET  /                        the demo page (`recog.serve.demo`; off with ServeConfig(demo=False))

    from recog.serve import ServeConfig, create_app
    app = create_app(ServeConfig(models=["digits-en"]))       # uvicorn.run(app) or TestClient(app)

Errors are `{"error": "..."}` with a 4xx status that says what is wrong (`recog.serve.errors`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from recog import __version__
from recog.serve.demo import add_demo_page
from recog.serve.errors import ServeError, Timeout, install_handlers
from recog.serve.inputs import batch_inputs, single_input
from recog.serve.metrics import ServeMetrics
from recog.serve.options import parse_options
from recog.serve.service import ServeConfig, Service

ENDPOINTS = ("/v1/transcribe", "/v1/transcribe/batch", "/v1/models", "/healthz", "/readyz", "/metrics")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class MetricsMiddleware:
    """Counts every answered request by endpoint, model and status, and times it."""

    def __init__(self, app: Callable[..., Awaitable[None]], metrics: ServeMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = scope.get("path", "")
            endpoint = path if path in ENDPOINTS else "other"
            model = str(scope.get("state", {}).get("model", ""))
            self.metrics.requests.labels(endpoint=endpoint, model=model, status=str(status)).inc()
            self.metrics.latency.labels(endpoint=endpoint, model=model).observe(time.perf_counter() - start)


@asynccontextmanager
async def _time_limit(seconds: float) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise Timeout(f"the request took longer than {seconds:g} s (--timeout-s)") from None


def create_app(config: ServeConfig | None = None, service: Service | None = None) -> FastAPI:
    """The app serving `config`'s models (loaded now: errors name the file), or `service`'s."""
    if service is None:
        if config is None:
            raise ValueError("give a ServeConfig or a Service")
        service = Service.load(config)
    limits = service.limits

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="recog", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    # A client's malformed multipart body is its 422, not a warning in the server's log.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    app.state.service = service
    install_handlers(app)
    if config is not None and config.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"], max_age=600)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    if config is None or config.demo:
        add_demo_page(app)
    keyed = [Depends(service.check_key)]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        state = service.readiness()
        if state["ready"]:
            return JSONResponse(state)
        problems = "; ".join(f"{k}: {v}" for k, v in state["models"].items() if v != "ready")
        return JSONResponse({"error": f"not ready ({problems})", **state}, status_code=503,
                            headers={"Retry-After": "2"})

    @app.get("/metrics")
    async def metrics() -> Response:
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/v1/models", dependencies=keyed)
    async def models() -> dict[str, Any]:
        return {"models": [m.describe() for m in service.models.values()], "lms": sorted(service.lms)}

    @app.post("/v1/transcribe", dependencies=keyed)
    async def transcribe(request: Request) -> JSONResponse:
        start = time.perf_counter()
        async with _time_limit(limits.timeout_s):
            name, settings = parse_options(request.query_params, limits, service.lms)
            item = await single_input(request, limits)
            model = service.pick(name, item.kind)
            request.state.model = model.name
            [outcome] = await service.transcribe(model, [item], settings)
        if outcome.error is not None:
            raise ServeError(outcome.error, outcome.status)
        body = outcome.to_json(model)
        body["timings_ms"]["total"] = round(1000 * (time.perf_counter() - start), 2)
        return JSONResponse(body)

    @app.post("/v1/transcribe/batch", dependencies=keyed)
    async def transcribe_batch(request: Request) -> JSONResponse:
        start = time.perf_counter()
        async with _time_limit(limits.timeout_s):
            name, settings = parse_options(request.query_params, limits, service.lms)
            items = await batch_inputs(request, limits)
            if name is None and len({item.kind for item in items}) > 1:
                raise ServeError("the inputs are audio and ink; send one kind per call or name a model", 422)
            model = service.pick(name, None if name is not None else items[0].kind)
            request.state.model = model.name
            outcomes = await service.transcribe(model, items, settings)
        results = []
        for item, outcome in zip(items, outcomes, strict=True):
            row = outcome.to_json(model)
            row.pop("model", None)
            results.append({"input": item.source, **row})
        return JSONResponse({"model": model.name, "results": results,
                             "total_ms": round(1000 * (time.perf_counter() - start), 2)})

    return app
