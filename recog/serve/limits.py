"""What one request may ask of the service, checked before anything large is allocated.

`ServeLimits` holds the service's own bounds (the body, the audio length of one input,
the inputs of one batch call, the decoder options) and derives from them the
`InputLimits` that the readers check (`recog.features.limits`): an upload's header
(sample rate, channels, frames) and an ink's size, nesting and points are refused
before they are decoded.

    limits = ServeLimits(max_body_bytes=20 << 20, max_audio_seconds=300)
    limits.input_limits()      # what the audio and ink readers check before they allocate
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from starlette.requests import Request

from recog.features import limits as input_limits

# Content types of a raw audio body (the format itself is read from the bytes).
AUDIO_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/flac", "audio/x-flac",
               "audio/ogg", "audio/mpeg", "audio/mp3")
JSON_TYPES = ("application/json",)
MULTIPART_TYPE = "multipart/form-data"


@dataclass(frozen=True)
class ServeLimits:
    """Bounds on one request.

    Attributes:
        max_body_bytes: the request body (`--max-body-mb`); larger is 413, refused from
            `Content-Length` before reading when the client states it.
        max_audio_seconds: the decoded length of one audio input (`--max-audio-s`); a header
            that states more is refused before its samples are decoded.
        max_read_bytes: the decoded buffer of one audio input (frames x channels x 4 bytes).
        max_inputs: inputs of one `/v1/transcribe/batch` call.
        max_beam_width, max_nbest: the largest `beam_width` and `nbest` options.
        max_weight: the largest |alpha| and |beta|.
        timeout_s: a request's whole time, reading its body included (`--timeout-s`); 504 past it.
    """

    max_body_bytes: int = 20 << 20
    max_audio_seconds: float = 300.0
    max_read_bytes: int = 256 << 20
    max_inputs: int = 64
    max_beam_width: int = 256
    max_nbest: int = 32
    max_weight: float = 100.0
    timeout_s: float = 30.0

    def input_limits(self) -> input_limits.InputLimits:
        """The readers' limits: the process's `DEFAULT_LIMITS`, tightened by these."""
        base = input_limits.DEFAULT_LIMITS
        return replace(base, max_audio_seconds=min(base.max_audio_seconds, self.max_audio_seconds),
                       max_read_bytes=min(base.max_read_bytes, self.max_read_bytes),
                       max_file_bytes=min(base.max_file_bytes, self.max_body_bytes))


def media_type(request: Request) -> str:
    """The request's content type without parameters, lower case ("" when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def too_large(size: int, max_bytes: int, at_least: bool = False) -> str:
    return (f"request body of {'more than ' if at_least else ''}{size} bytes is above the limit of "
            f"{max_bytes} bytes (--max-body-mb {max_bytes / (1 << 20):g})")
