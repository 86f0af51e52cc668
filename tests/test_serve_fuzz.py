"""Fuzzing the service (seeded, bounded): random bytes, truncated and mutated WAVs, mutated ink
JSON, headers that declare huge sizes, and wrong types at every endpoint. No request may
get a 500 (or crash the app), every error is `{"error": ...}` with a 4xx status, and a
valid request is still answered correctly afterwards."""

from __future__ import annotations

import json
import struct
import time
import warnings

import numpy as np
import pytest

pytest.importorskip("fastapi")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from recog.features.ink import ink_to_json  # noqa: E402
from recog.serve import ServeConfig, ServeLimits, create_app  # noqa: E402

from .conftest import ROOT  # noqa: E402
from .fuzz_support import mutate  # noqa: E402
from .ink_support import synth_ink  # noqa: E402

SAMPLE = ROOT / "models" / "digits-en" / "samples" / "nine_four_three.wav"
WAV = SAMPLE.read_bytes()
INK = json.dumps(ink_to_json(synth_ink("oil cox", seed=1, with_time=True), decimals=None)).encode()
LM = ROOT / "models" / "iam-ondb-en" / "char6.arpa"


@pytest.fixture(scope="module")
def client():
    limits = ServeLimits(max_body_bytes=2 << 20, timeout_s=60)
    c = TestClient(create_app(ServeConfig(models=["digits-en", "iam-ondb-en"], lms=[f"char6={LM}"], limits=limits)),
                   raise_server_exceptions=False)
    c.__enter__()
    deadline = time.time() + 120
    while c.get("/readyz").status_code != 200:
        assert time.time() < deadline
        time.sleep(0.1)
    yield c
    c.__exit__(None, None, None)


def huge_headers() -> list[bytes]:
    """WAV and FLAC headers that declare absurd rates, channels, sizes and sample formats."""
    out = []
    for rate, channels, bits, size in [(0, 1, 16, 100), (1, 1, 16, 100), (0xFFFFFFFF, 1, 16, 100),
                                       (8000, 0, 16, 100), (8000, 0xFFFF, 16, 100), (8000, 1, 0, 100),
                                       (8000, 1, 0xFFFF, 100), (8000, 1, 16, 0xFFFFFFFF), (384_000, 64, 32, 1 << 30),
                                       (8000, 2, 24, 7)]:
        fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * channels * bits // 8) & 0xFFFFFFFF,
                          (channels * bits // 8) & 0xFFFF, bits)
        out.append(b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
                   + b"data" + struct.pack("<I", size) + bytes(200))
    # FLAC STREAMINFO: 2^36-1 samples at 655350 Hz, 8 channels
    info = bytearray(34)
    info[10:18] = ((655350 << 44) | (7 << 41) | (15 << 36) | ((1 << 36) - 1)).to_bytes(8, "big")
    out.append(b"fLaC" + bytes([0x80, 0, 0, 34]) + bytes(info) + bytes(100))
    out.append(b"OggS" + bytes(200))
    out.append(b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + bytes(100))  # an MP3 tag that claims 256 MB
    return out


def wrong_inks(rng: np.random.Generator) -> list[bytes]:
    """JSON of the wrong shape, type or size in every place of an ink."""
    values = [None, True, 0, -1, 1.5, "x", "", [], {}, [[]], [[[]]], 1e308, -1e308, 10 ** 30, [1, 2], {"x": 1},
              [[1, 2, 3]], [[None, None]], [["1", "2"]], [[1e308, -1e308]], [[0, 0, -1e308]]]
    out = [json.dumps(v).encode() for v in values]
    out += [json.dumps({"strokes": v}).encode() for v in values]
    out += [json.dumps({"strokes": [v]}).encode() for v in values]
    out += [json.dumps({"strokes": [[v]]}).encode() for v in values]
    out += [json.dumps({"strokes": [[[0, 0, 0], [0, 0, 0]] * 50]}).encode(),  # one place, many times
            json.dumps({"strokes": [[[0, 0]]] * 3000}).encode(),  # many one-point strokes
            json.dumps({"strokes": [[[0, 0], [1e300, 0]]]}).encode(),  # a stroke to the end of the world
            json.dumps({"strokes": [[[0, 0], [1e-300, 1e-300]]]}).encode(),
            json.dumps({"strokes": [[[x, 0, 1e300 * x] for x in range(5)]]}).encode(),
            b"[" * 10_000 + b"]" * 10_000, b'{"strokes": ' + b"[" * 100 + b"]" * 100 + b"}",
            b'{"strokes": [[[1, 2]]], "strokes": 5}', b'{"strokes": [[[1' + b"9" * 4400 + b', 2]]]}']
    out += [mutate(INK, rng, k % 5) for k in range(40)]
    return out


def check(r, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"
    if r.status_code >= 400:
        body = r.json()
        assert set(body) >= {"error"} and isinstance(body["error"], str) and body["error"], (what, body)


def test_no_input_gives_a_500_and_the_service_still_works(client):
    rng = np.random.default_rng(7)
    sent = 0
    audio_bodies = [mutate(WAV, rng, k % 5) for k in range(60)] + huge_headers()
    for k, body in enumerate(audio_bodies):
        ctype = ["audio/wav", "audio/flac", "audio/ogg", "audio/mpeg"][k % 4]
        check(client.post("/v1/transcribe", content=body, headers={"Content-Type": ctype}), f"audio {k}")
        sent += 1
    for k, body in enumerate(wrong_inks(rng)):
        check(client.post("/v1/transcribe", content=body, headers={"Content-Type": "application/json"}), f"ink {k}")
        check(client.post("/v1/transcribe/batch", content=b'{"inputs": [' + body + b"]}",
                          headers={"Content-Type": "application/json"}), f"batch ink {k}")
        sent += 2
    # multipart: files of every kind, damaged bodies, odd part headers
    for k, body in enumerate(audio_bodies[:20] + wrong_inks(rng)[:20]):
        files = [("file", (f"f{k}.{['wav', 'json', 'bin'][k % 3]}", body, ["audio/wav", "application/json",
                                                                           "application/octet-stream"][k % 3]))]
        check(client.post("/v1/transcribe/batch", files=files * (1 + k % 3)), f"multipart {k}")
        sent += 1
    form = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'
    for k in range(30):
        body = mutate(form + WAV[:3000] + b"\r\n--b--\r\n", rng, k % 5)
        for path in ("/v1/transcribe", "/v1/transcribe/batch"):
            check(client.post(path, content=body, headers={"Content-Type": "multipart/form-data; boundary=b"}),
                  f"damaged multipart {k}")
            sent += 1
    # wrong types at every endpoint: methods, content types, options, headers
    for path in ("/v1/transcribe", "/v1/transcribe/batch", "/v1/models", "/healthz", "/readyz", "/metrics", "/",
                 "/v1", "/v1/transcribe/", "/v1/models/digits-en", "/%00", "/v1/transcribe/batch/x"):
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
            r = client.request(method, path, content=rng.bytes(50), headers={"Content-Type": "audio/wav"})
            assert r.status_code < 500, (method, path, r.status_code)
            sent += 1
    for ctype in ("", "audio", "audio/", "application/json; charset=latin-1", "multipart/form-data; boundary=",
                  "multipart/form-data; boundary=" + "x" * 5000, "image/png", "*/*", "\x7f", "audio/wav;;;;"):
        for path in ("/v1/transcribe", "/v1/transcribe/batch"):
            check(client.post(path, content=WAV, headers={"Content-Type": ctype}), f"content type {ctype[:30]!r}")
            sent += 1
    for k in range(40):
        name = ["model", "decoder", "beam_width", "lm", "alpha", "beta", "nbest", "x"][k % 8]
        value = [rng.bytes(8).hex(), str(rng.integers(-10**12, 10**12)), "1e999", "-0", "", " 3", "nan", "inf",
                 "0x10", "٣"][k % 10]
        check(client.post("/v1/transcribe", params={name: value, "decoder": "beam"} if name != "decoder"
                          else {name: value}, content=WAV, headers={"Content-Type": "audio/wav"}), f"{name}={value!r}")
        sent += 1
    for headers in ({"Content-Length": "abc"}, {"Content-Length": "99999999999"}, {"Content-Length": "-5"},
                    {"Content-Type": "application/json", "Content-Length": str(3 << 20)}):
        try:
            r = client.post("/v1/transcribe", content=INK, headers={"Content-Type": "application/json", **headers})
        except Exception:  # the HTTP client itself may refuse a lying Content-Length
            continue
        check(r, f"headers {headers}")
        sent += 1
    assert sent > 400
    # still serving, with correct results
    r = client.post("/v1/transcribe", content=WAV, headers={"Content-Type": "audio/wav"})
    assert r.status_code == 200 and r.json()["text"] == "nine four three"
    r = client.post("/v1/transcribe?decoder=beam&lm=char6&alpha=0.75&beta=0", content=INK,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["text"]
    assert client.get("/readyz").status_code == 200
    assert "status=\"500\"" not in client.get("/metrics").text
