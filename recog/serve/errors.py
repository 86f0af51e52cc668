"""Errors of the service: each is an HTTP status and a JSON body `{"error": "..."}` that says what is wrong.

Input problems are 4xx (`BadInput` 422, `NotFound` 404, `PayloadTooLarge` 413,
`UnsupportedMediaType` 415, `Unauthorized` 401); a full queue is 503 with `Retry-After`
(`Busy`), a request that runs past `--timeout-s` is 504 (`Timeout`). `install_handlers`
turns them, and the framework's own errors (unknown path 404, wrong method 405), into
that JSON shape. A last handler answers anything unexpected with 500 and logs it: a bug,
never the way an input is refused.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("recog.serve")


class ServeError(Exception):
    """A request that cannot be answered with a result: `status` and a message for the client."""

    status = 500

    def __init__(self, message: str, status: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}


class BadInput(ServeError):
    """The input or an option is malformed, unreadable or out of range (422)."""

    status = 422


class NotFound(ServeError):
    """An unknown model or LM name (404)."""

    status = 404


class PayloadTooLarge(ServeError):
    """The body is larger than `--max-body-mb` (413)."""

    status = 413


class UnsupportedMediaType(ServeError):
    """A content type the endpoint does not read (415)."""

    status = 415


class Unauthorized(ServeError):
    """No API key, or a wrong one (401)."""

    status = 401

    def __init__(self, message: str):
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Busy(ServeError):
    """The model's queue is full (503, with `Retry-After` in seconds)."""

    status = 503

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})


class Timeout(ServeError):
    """The request ran longer than `--timeout-s` (504)."""

    status = 504


def error_body(message: str) -> dict[str, str]:
    return {"error": message}


def install_handlers(app: FastAPI) -> None:
    """Every error response of `app` as `{"error": message}` with its status."""

    @app.exception_handler(ServeError)
    async def _serve_error(_request: Request, err: ServeError) -> JSONResponse:
        return JSONResponse(error_body(err.message), status_code=err.status, headers=err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 404:
            message = f"no endpoint {request.url.path} (see GET /v1/models, POST /v1/transcribe)"
        elif err.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(err.detail)
        return JSONResponse(error_body(message), status_code=err.status_code, headers=getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, err: RequestValidationError) -> JSONResponse:
        parts = ["/".join(str(p) for p in e.get("loc", ())) + ": " + str(e.get("msg", "")) for e in err.errors()]
        return JSONResponse(error_body("; ".join(parts) or "invalid request"), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(f"internal error ({type(err).__name__}); the server log has the details"),
                            status_code=500)
