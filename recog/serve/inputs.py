"""Request bodies -> inputs: an audio body, a JSON ink, multipart files, a JSON batch.

    POST /v1/transcribe          audio/* body (AUDIO_TYPES), application/json ink
                                 `{"strokes": [[[x, y, t], ...], ...]}`, or multipart with one `file`
    POST /v1/transcribe/batch    multipart with several `file` fields, or application/json
                                 `{"inputs": [{"strokes": ...}, ...]}`

An `Item` is one input still undecoded: its name for messages, its kind ("audio" or "ink")
and its bytes (or, in a JSON batch, its parsed object). The body is read in chunks and
refused (413) once past the limit; nothing here decodes audio or builds ink arrays (the
model's reader does, after checking the limits).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import PurePath

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from recog.features.ink.io import JSON_OTHER_ARRAYS, parse_json_checked
from recog.features.ink.strokes import InkError
from recog.runtime.modality import AUDIO_EXTENSIONS
from recog.serve.errors import BadInput, PayloadTooLarge, ServeError, UnsupportedMediaType
from recog.serve.limits import (
    AUDIO_TYPES,
    JSON_TYPES,
    MULTIPART_TYPE,
    ServeLimits,
    media_type,
    too_large,
)

BODY = "<body>"
FIELD = "file"
MAX_NAME = 120  # characters of a client's file name kept for messages


@dataclass
class Item:
    """One input: `source` names it in messages, `kind` is "audio" or "ink", `raw` holds the
    file's bytes or a parsed JSON ink object."""

    source: str
    kind: str
    raw: bytes | object


def _expected() -> str:
    return (f"send audio as {', '.join(AUDIO_TYPES[:5])}..., ink as application/json, or files as "
            f"{MULTIPART_TYPE} (field '{FIELD}')")


async def limited_stream(request: Request, max_bytes: int) -> AsyncGenerator[bytes, None]:
    """The body's chunks; `PayloadTooLarge` as soon as they pass `max_bytes` (at once when
    `Content-Length` says so)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadInput(f"Content-Length {declared[:40]!r} is not a number") from None
        if size > max_bytes:
            raise PayloadTooLarge(too_large(size, max_bytes))
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLarge(too_large(total, max_bytes, at_least=True))
            yield chunk
    except ClientDisconnect:
        raise BadInput("the client closed the connection before sending the whole body") from None


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body (see `limited_stream`); `BadInput` when it is empty."""
    body = b"".join([chunk async for chunk in limited_stream(request, max_bytes)])
    if not body:
        raise BadInput(f"the request body is empty; {_expected()}")
    return body


def _kind_of_part(upload: UploadFile, data: bytes) -> str:
    ctype = (upload.content_type or "").split(";", 1)[0].strip().lower()
    suffix = PurePath(upload.filename or "").suffix.lower()
    if ctype in JSON_TYPES or suffix == ".json":
        return "ink"
    if ctype.startswith("audio/") or suffix in AUDIO_EXTENSIONS:
        return "audio"
    return "ink" if data.lstrip()[:1] == b"{" else "audio"


async def read_multipart(request: Request, limits: ServeLimits) -> list[Item]:
    """The `file` parts of a multipart body, in order (at most `limits.max_inputs`)."""
    from python_multipart.multipart import parse_options_header

    _, params = parse_options_header(request.headers.get("content-type", ""))
    if not params.get(b"boundary"):
        raise BadInput("multipart/form-data without a boundary parameter in its Content-Type")
    parser = MultiPartParser(request.headers, limited_stream(request, limits.max_body_bytes),
                             max_files=limits.max_inputs, max_fields=16, max_part_size=64 << 10)
    try:
        form = await parser.parse()
    except ServeError:
        raise
    except MultiPartException as err:
        if err.message.startswith("Too many files"):
            raise BadInput(f"more than {limits.max_inputs} files in one call (--max-inputs)") from None
        raise BadInput(f"malformed multipart body ({err.message})") from None
    except Exception as err:  # python-multipart's own parse errors: the body is malformed
        raise BadInput(f"malformed multipart body ({type(err).__name__}: {err})") from None
    items: list[Item] = []
    try:
        for key, value in form.multi_items():
            if not isinstance(value, UploadFile):
                raise BadInput(f"unexpected form field {key[:40]!r}: send each input as a file in the field '{FIELD}'")
            if key != FIELD:
                raise BadInput(f"unexpected file field {key[:40]!r}: send each input in the field '{FIELD}'")
            data = await value.read()
            name = (value.filename or f"{FIELD}[{len(items)}]")[:MAX_NAME]
            if not data:
                raise BadInput(f"{name}: the file is empty")
            items.append(Item(name, _kind_of_part(value, data), data))
    finally:
        await form.close()
    if not items:
        raise BadInput(f"the multipart body holds no '{FIELD}' field")
    return items


async def single_input(request: Request, limits: ServeLimits) -> Item:
    """The one input of `POST /v1/transcribe`."""
    ctype = media_type(request)
    if ctype == MULTIPART_TYPE:
        items = await read_multipart(request, limits)
        if len(items) > 1:
            raise BadInput(f"{len(items)} files in one request; send several to /v1/transcribe/batch")
        return items[0]
    if ctype in AUDIO_TYPES:
        return Item(BODY, "audio", await read_body(request, limits.max_body_bytes))
    if ctype in JSON_TYPES:
        return Item(BODY, "ink", await read_body(request, limits.max_body_bytes))
    raise UnsupportedMediaType(f"content type {ctype[:60]!r} is not read here; {_expected()}"
                               if ctype else f"no Content-Type; {_expected()}")


async def batch_inputs(request: Request, limits: ServeLimits) -> list[Item]:
    """The inputs of `POST /v1/transcribe/batch` (1 to `limits.max_inputs`)."""
    ctype = media_type(request)
    if ctype == MULTIPART_TYPE:
        return await read_multipart(request, limits)
    if ctype not in JSON_TYPES:
        raise UnsupportedMediaType(f"content type {ctype[:60]!r} is not read here; send files as "
                                   f"{MULTIPART_TYPE} (field '{FIELD}', repeated) or ink as application/json "
                                   '{"inputs": [{"strokes": ...}, ...]}')
    body = await read_body(request, limits.max_body_bytes)
    reader = limits.input_limits()
    most = limits.max_inputs * (reader.max_ink_points + reader.max_ink_strokes + 1) + JSON_OTHER_ARRAYS
    try:
        data = await asyncio.to_thread(parse_json_checked, body, BODY, reader, most)
    except InkError as err:
        raise BadInput(str(err)) from None
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), list):
        raise BadInput('<body>: expected {"inputs": [{"strokes": [[[x, y, t], ...], ...]}, ...]}')
    inputs = data["inputs"]
    if not inputs:
        raise BadInput("<body>: 'inputs' is empty")
    if len(inputs) > limits.max_inputs:
        raise BadInput(f"<body>: {len(inputs)} inputs above the limit of {limits.max_inputs} per call")
    return [Item(f"inputs[{i}]", "ink", value) for i, value in enumerate(inputs)]
