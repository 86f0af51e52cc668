"""`recog serve`: the HTTP service on the shipped models, through the app object (TestClient) and,
once, as a real process on a local port. Each endpoint, the offline parity of its results, each
error class with its status and message, the API key, micro-batching under concurrent requests,
the bounded queue and the time limit."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")
with warnings.catch_warnings():  # starlette prefers httpx2; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from recog.decode import DecoderConfig  # noqa: E402
from recog.features.ink import ink_to_json  # noqa: E402
from recog.runtime import Recognizer  # noqa: E402
from recog.serve import ServeConfig, ServeLimits, create_app  # noqa: E402

from .conftest import ROOT  # noqa: E402
from .ink_support import synth_ink  # noqa: E402
from .serve_support import serve_process  # noqa: E402

SAMPLES = sorted((ROOT / "models" / "digits-en" / "samples").glob("*.wav"))
LM = ROOT / "models" / "iam-ondb-en" / "char6.arpa"
INK_TEXTS = ["oil cox", "lilo", "coil ox"]


def expected(path: Path) -> str:
    return path.stem.replace("_", " ")


def wait_ready(client: TestClient, seconds: float = 120.0) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"not ready: {client.get('/readyz').json()}")


def started(config: ServeConfig):
    """A TestClient running the app of `config` (lifespan included), once it is ready."""
    client = TestClient(create_app(config))
    client.__enter__()
    wait_ready(client)
    return client


@pytest.fixture(scope="module")
def client():
    c = started(ServeConfig(models=["digits-en", "iam-ondb-en"], lms=[f"char6={LM}"], max_wait_ms=50.0,
                            max_batch=16))
    yield c
    c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def guarded():
    """Digits only, with an API key, CORS for one origin and small limits."""
    limits = ServeLimits(max_body_bytes=200_000, max_audio_seconds=5.0, max_inputs=3)
    c = started(ServeConfig(models=["digits-en"], api_key="s3cret-key", cors_origins=["https://app.example"],
                            limits=limits))
    yield c
    c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def offline():
    return {"digits": Recognizer.from_onnx("digits-en"), "ink": Recognizer.from_onnx("iam-ondb-en")}


def ink_body(text: str, seed: int = 0) -> dict:
    return ink_to_json(synth_ink(text, seed=seed, with_time=True), decimals=None)


def wav_bytes(wave: np.ndarray, rate: int = 8000, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, wave, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


# ---- results ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_wav_upload_gives_the_digits_and_the_offline_result(client, offline, path):
    r = client.post("/v1/transcribe", files={"file": (path.name, path.read_bytes(), "audio/wav")})
    assert r.status_code == 200, r.text
    body = r.json()
    [t] = offline["digits"].transcribe([str(path)])
    assert body["text"] == expected(path) == t.text
    assert body["model"] == "digits-en" and body["time_unit"] == "seconds"
    assert body["duration"] == pytest.approx(t.duration, abs=1e-3)
    assert [(w["word"], w["start"], w["end"]) for w in body["words"]] == \
        [(w.word, round(w.start, 3), round(w.end, 3)) for w in t.words]
    assert body["words"][0]["confidence"] == pytest.approx(t.words[0].confidence, abs=1e-3)
    assert set(body["timings_ms"]) == {"queue", "features", "model", "decode", "total"}


@pytest.mark.parametrize("ctype", ["audio/wav", "audio/x-wav", "audio/wav; charset=binary"])
def test_raw_audio_body(client, ctype):
    path = SAMPLES[0]
    r = client.post("/v1/transcribe", content=path.read_bytes(), headers={"Content-Type": ctype})
    assert r.status_code == 200, r.text
    assert r.json()["text"] == expected(path)


def test_flac_and_other_rates_read_like_the_offline_reader(client, offline, tmp_path):
    wave, rate = sf.read(SAMPLES[1], dtype="float32")
    up = np.interp(np.arange(len(wave) * 2) / 2, np.arange(len(wave)), wave).astype(np.float32)
    path = tmp_path / "sixteen_k.flac"
    sf.write(path, np.stack([up, up], axis=1), 2 * rate, format="FLAC")  # stereo 16 kHz FLAC
    r = client.post("/v1/transcribe", content=path.read_bytes(), headers={"Content-Type": "audio/flac"})
    assert r.status_code == 200, r.text
    assert r.json()["text"] == offline["digits"].transcribe([str(path)])[0].text


def test_ink_json_gives_the_offline_text(client, offline):
    for i, text in enumerate(INK_TEXTS):
        ink = synth_ink(text, seed=i, with_time=True)
        r = client.post("/v1/transcribe", json=ink_to_json(ink, decimals=None))
        assert r.status_code == 200, r.text
        body = r.json()
        t = offline["ink"].transcribe_ink(ink)
        assert body["text"] == t.text and body["model"] == "iam-ondb-en" and body["time_unit"] == "vectors"
        assert [w["word"] for w in body["words"]] == [w.word for w in t.words]


def test_beam_lm_and_nbest_match_the_offline_decoder(client):
    ink = synth_ink("coil ox", seed=3, with_time=True)
    config = DecoderConfig(kind="beam", beam_width=8, lm=str(LM), alpha=0.75, beta=0.0, nbest=3)
    t = Recognizer.from_onnx("iam-ondb-en", decoder=config).transcribe_ink(ink)
    r = client.post("/v1/transcribe?decoder=beam&beam_width=8&lm=char6&alpha=0.75&beta=0&nbest=3",
                    json=ink_to_json(ink, decimals=None))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == t.text
    assert [a["text"] for a in body["nbest"]] == [a.text for a in t.nbest]
    assert body["nbest"][0]["lm_score"] == pytest.approx(t.nbest[0].lm_score, abs=1e-3)


def test_batch_endpoint_multipart_and_json(client, offline):
    files = [("file", (p.name, p.read_bytes(), "audio/wav")) for p in SAMPLES]
    files.insert(2, ("file", ("noise.wav", b"RIFF\x00\x00junk", "audio/wav")))
    r = client.post("/v1/transcribe/batch", files=files)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["input"] for x in results] == [f[1][0] for f in files]
    bad = results.pop(2)
    assert bad["status"] == 422 and bad["error"].startswith("noise.wav: cannot read audio")
    assert [x["text"] for x in results] == [expected(p) for p in SAMPLES]

    inks = [ink_body(t, seed=i) for i, t in enumerate(INK_TEXTS)]
    r = client.post("/v1/transcribe/batch", json={"inputs": [inks[0], {"strokes": "no"}, *inks[1:]]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "iam-ondb-en"
    assert body["results"][1] == {"input": "inputs[1]", "error": "inputs[1]: expected an object with a 'strokes' list",
                                  "status": 422}
    texts = [x["text"] for k, x in enumerate(body["results"]) if k != 1]
    assert texts == [offline["ink"].transcribe_ink(synth_ink(t, seed=i, with_time=True)).text
                     for i, t in enumerate(INK_TEXTS)]


def test_long_audio_is_read_in_windows_like_the_recognizer(client, offline, tmp_path):
    wave = np.concatenate([sf.read(p, dtype="float32")[0] for p in SAMPLES * 4])  # about 38 s
    path = tmp_path / "long.wav"
    sf.write(path, wave, 8000, subtype="PCM_16")
    r = client.post("/v1/transcribe", content=path.read_bytes(), headers={"Content-Type": "audio/wav"})
    assert r.status_code == 200, r.text
    assert r.json()["duration"] > 30
    assert r.json()["text"] == offline["digits"].transcribe([str(path)])[0].text


# ---- the other endpoints --------------------------------------------------------------------
def test_models_health_ready_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["models"] == {"digits-en": "ready", "iam-ondb-en": "ready"}
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["digits-en"]["modality"] == "audio" and models["digits-en"]["sample_rate"] == 8000
    assert models["digits-en"]["alphabet_size"] == 11 and models["digits-en"]["quantization"] == "int8"
    assert models["iam-ondb-en"]["modality"] == "ink" and models["iam-ondb-en"]["quantization"] == "int8"
    assert "val1_cer" in models["iam-ondb-en"]["metrics"]
    assert client.get("/v1/models").json()["lms"] == ["char6"]
    client.post("/v1/transcribe", content=SAMPLES[0].read_bytes(), headers={"Content-Type": "audio/wav"})
    client.post("/v1/transcribe?model=nope", content=SAMPLES[0].read_bytes(), headers={"Content-Type": "audio/wav"})
    m = client.get("/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    text = m.text
    assert metric(text, "recog_requests_total", endpoint="/v1/transcribe", model="digits-en", status="200") >= 1
    assert metric(text, "recog_requests_total", endpoint="/v1/transcribe", status="404") >= 1
    assert metric(text, "recog_request_seconds_count", endpoint="/v1/transcribe", model="digits-en") >= 1
    assert metric(text, "recog_batch_size_count", model="digits-en") >= 1
    assert metric(text, "recog_stage_seconds_count", model="digits-en", stage="model") >= 1
    assert "recog_queue_depth" in text


def test_a_wrong_lm_for_a_model_is_refused_with_the_reason(client):
    r = client.post("/v1/transcribe?decoder=beam&lm=char6", content=SAMPLES[0].read_bytes(),
                    headers={"Content-Type": "audio/wav"})
    assert r.status_code == 422
    assert r.json()["error"].startswith("lm char6 cannot decode the output of model digits-en: a word-unit alphabet")


# ---- errors ---------------------------------------------------------------------------------
WAV = SAMPLES[0].read_bytes()


def _wav_header(rate: int, channels: int, frames_bytes: int) -> bytes:
    """A PCM_16 WAV header that declares what it likes (the data do not follow)."""
    import struct

    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + frames_bytes) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", frames_bytes) + b"\x00" * 64)


ERRORS = [
    # (query, content type, body, status, what the message says)
    ("", "text/plain", b"hello", 415, "content type 'text/plain' is not read here"),
    ("", None, WAV, 415, "no Content-Type"),
    ("", "audio/wav", b"", 422, "the request body is empty"),
    ("", "audio/wav", WAV[:30], 422, "<body>: cannot read audio"),
    ("", "audio/wav", WAV[:2000], 200, ""),  # a truncated file is read as far as it goes
    ("", "audio/wav", np.random.default_rng(0).bytes(5000), 422, "<body>: cannot read audio"),
    ("", "audio/wav", WAV[:44] + b"\x00" * 100, 422, "<body>: audio too short"),
    ("", "audio/wav", _wav_header(10_000_000, 1, 1000), 422, "sample rate 10000000 Hz above the limit"),
    ("", "audio/wav", _wav_header(8000, 1, 0xFFFFFF00), 422, "<body>: audio too short"),  # frames as found
    ("", "audio/wav", wav_bytes(np.zeros(301_000, np.float32), 1000, subtype="PCM_U8"), 422,
     "<body>: duration 301.0 s above the limit of 300.0 s (InputLimits.max_audio_seconds)"),
    ("", "audio/wav", _wav_header(8000, 200, 4000), 422, "<body>: channel count 200 above the limit of 64"),
    ("", "application/json", b'{"strokes": [[[1, 2, 3]', 422, "<body>: not valid JSON"),
    ("", "application/json", b"\xff\xfe", 422, "<body>: not valid JSON"),
    ("", "application/json", b'{"strokes": []}', 422, "<body>: ink has no points"),
    ("", "application/json", b'{"strokes": [[], []]}', 422, "<body>: ink has no points"),
    ("", "application/json", b'{"strokes": [[[NaN, 1, 0]]]}', 422, "NaN or infinite coordinates"),
    ("", "application/json", b'{"strokes": [[[1, Infinity, 0]]]}', 422, "NaN or infinite coordinates"),
    ("", "application/json", b'{"strokes": [[[1e400, 1, 0]]]}', 422, "NaN or infinite coordinates"),
    ("", "application/json", b'{"strokes": [[[1' + b"0" * 400 + b', 1]]]}', 422, "points must be"),
    ("", "application/json", b'{"strokes": [[[1' + b"0" * 5000 + b', 1]]]}', 422, "not usable JSON"),
    ("", "application/json", b'{"strokes": [[["a", 1]]]}', 422, "points must be [x, y] or [x, y, t] numbers"),
    ("", "application/json", b'{"strokes": [[[1, 2, 3, 4]]]}', 422, "points must be [x, y] or [x, y, t]"),
    ("", "application/json", b'{"strokes": [[[1, 2]], [[1, 2, 3]]]}', 422, "some strokes have timestamps"),
    ("", "application/json", b'{"ink": 1}', 422, "expected an object with a 'strokes' list"),
    ("", "application/json", b"[" * 40 + b"]" * 40, 422, "JSON nesting depth 40 above the limit of 32"),
    ("model=nope", "audio/wav", WAV, 404, "unknown model 'nope' (models: digits-en, iam-ondb-en)"),
    ("model=digits-en", "application/json", json.dumps(ink_body("ox")).encode(), 422,
     "model digits-en reads audio; this request sends ink"),
    ("colour=red", "audio/wav", WAV, 422, "unknown option 'colour'"),
    ("decoder=viterbi", "audio/wav", WAV, 422, "option decoder must be one of greedy, beam"),
    ("decoder=beam&beam_width=0", "audio/wav", WAV, 422, "option beam_width must be between 1 and 256, got 0"),
    ("decoder=beam&beam_width=abc", "audio/wav", WAV, 422, "option beam_width must be a whole number"),
    ("decoder=beam&beam_width=100000", "audio/wav", WAV, 422, "option beam_width must be between 1 and 256"),
    ("decoder=beam&alpha=nan", "audio/wav", WAV, 422, "option alpha must be a finite number"),
    ("decoder=beam&alpha=-1", "audio/wav", WAV, 422, "option alpha must be between 0 and 100"),
    ("decoder=beam&beta=1e9", "audio/wav", WAV, 422, "option beta must be between -100 and 100"),
    ("nbest=2", "audio/wav", WAV, 422, "option nbest above 1 needs decoder=beam"),
    ("decoder=beam&beam_width=2&nbest=3", "audio/wav", WAV, 422, "option nbest 3 exceeds the beam width 2"),
    ("nbest=-1", "audio/wav", WAV, 422, "option nbest must be between 0 and 32"),
    ("decoder=beam&lm=word9", "audio/wav", WAV, 422, "option lm 'word9' is not an LM of this service (LMs: char6)"),
    ("lm=char6", "audio/wav", WAV, 422, "option lm needs decoder=beam"),
    ("model=a&model=b", "audio/wav", WAV, 422, "option model is given 2 times"),
]


@pytest.mark.parametrize(("query", "ctype", "body", "status", "message"), ERRORS,
                         ids=[f"{i}-{e[3]}" for i, e in enumerate(ERRORS)])
def test_each_error_has_its_status_and_says_what_is_wrong(client, query, ctype, body, status, message):
    headers = {"Content-Type": ctype} if ctype else {}
    r = client.post(f"/v1/transcribe?{query}", content=body, headers=headers)
    assert r.status_code == status, r.text
    if status != 200:
        assert message in r.json()["error"], r.json()


def test_multipart_errors(client):
    r = client.post("/v1/transcribe", files=[("file", ("a.wav", WAV, "audio/wav")), ("file", ("b.wav", WAV, "audio/wav"))])
    assert r.status_code == 422 and "send several to /v1/transcribe/batch" in r.json()["error"]
    r = client.post("/v1/transcribe", files={"audio": ("a.wav", WAV, "audio/wav")})
    assert r.status_code == 422 and "unexpected file field 'audio'" in r.json()["error"]
    r = client.post("/v1/transcribe", data={"file": "not a file"}, files={"other": ("a.wav", WAV, "audio/wav")})
    assert r.status_code == 422 and "unexpected form field 'file'" in r.json()["error"]
    r = client.post("/v1/transcribe", content=b"--x\r\nnonsense", headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 422 and "without a boundary" in r.json()["error"]
    r = client.post("/v1/transcribe", content=b"garbage", headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert r.status_code == 422 and r.json()["error"].startswith("malformed multipart body")
    r = client.post("/v1/transcribe", content=b"--zz--\r\n", headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert r.status_code == 422 and "the multipart body holds no 'file' field" in r.json()["error"]
    r = client.post("/v1/transcribe", files={"file": ("a.wav", b"", "audio/wav")})
    assert r.status_code == 422 and r.json()["error"] == "a.wav: the file is empty"
    r = client.post("/v1/transcribe", files={"file": ("line.json", json.dumps(ink_body("ox")), "application/json")})
    assert r.status_code == 200 and r.json()["model"] == "iam-ondb-en"


def test_batch_errors(client):
    r = client.post("/v1/transcribe/batch", json={"inputs": []})
    assert r.status_code == 422 and "'inputs' is empty" in r.json()["error"]
    r = client.post("/v1/transcribe/batch", json=[1, 2])
    assert r.status_code == 422 and "expected {\"inputs\"" in r.json()["error"]
    r = client.post("/v1/transcribe/batch", json={"inputs": [ink_body("ox")] * 65})
    assert r.status_code == 422 and "65 inputs above the limit of 64" in r.json()["error"]
    r = client.post("/v1/transcribe/batch", content=WAV, headers={"Content-Type": "audio/wav"})
    assert r.status_code == 415
    r = client.post("/v1/transcribe/batch", files=[("file", ("a.wav", WAV, "audio/wav")),
                                                   ("file", ("b.json", json.dumps(ink_body("ox")), "application/json"))])
    assert r.status_code == 422 and "audio and ink" in r.json()["error"]
    r = client.post("/v1/transcribe/batch?model=digits-en", files=[
        ("file", ("a.wav", WAV, "audio/wav")), ("file", ("b.json", json.dumps(ink_body("ox")), "application/json"))])
    assert r.status_code == 200
    assert r.json()["results"][1]["error"] == "b.json: model digits-en reads audio, this input is ink"


def test_unknown_paths_and_methods_answer_json(client):
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and "no endpoint /v1/nothing" in r.json()["error"]
    r = client.get("/v1/transcribe")
    assert r.status_code == 405 and r.json()["error"] == "GET is not allowed on /v1/transcribe"



def test_demo_page_and_its_files_need_no_key(guarded):
    """/ and every file it loads (scripts, their imports, the worklet) are served without the key,
    with their types and a same-origin CSP; the list of served files is exactly what the page uses."""
    from recog.serve.demo import ASSETS

    page = guarded.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert "s3cret-key" not in page.text
    used, todo = {"index.html"}, re.findall(r'(?:src|href)="/static/([^"]+)"', page.text)
    while todo:
        name = todo.pop()
        if name in used:
            continue
        used.add(name)
        r = guarded.get(f"/static/{name}")
        assert r.status_code == 200, (name, r.text)
        assert r.headers["content-type"].split(";")[0] == ("text/css" if name.endswith(".css") else "text/javascript")
        todo += re.findall(r'from "\./([\w.-]+)"', r.text) + re.findall(r'"/static/([\w.-]+)"', r.text)
    assert used == set(ASSETS)
    r = guarded.get("/static/../app.py")
    assert r.status_code == 404
    r = guarded.get("/static/nothing.js")
    assert r.status_code == 404 and r.json()["error"].startswith("no file /static/nothing.js")


def test_no_demo_page_when_turned_off():
    client = TestClient(create_app(ServeConfig(models=["digits-en"], demo=False)))
    r = client.get("/")
    assert r.status_code == 404 and r.json()["error"].startswith("no endpoint /")
    assert client.get("/static/demo.js").status_code == 404

def test_body_size_audio_length_and_batch_size_limits(guarded):
    key = {"X-API-Key": "s3cret-key"}
    big = b"\x00" * 300_000
    r = guarded.post("/v1/transcribe", content=big, headers={"Content-Type": "audio/wav", **key})
    assert r.status_code == 413
    assert r.json()["error"] == ("request body of 300000 bytes is above the limit of 200000 bytes "
                                 "(--max-body-mb 0.190735)")

    def chunks():  # no Content-Length: refused while reading
        for _ in range(40):
            yield b"\x00" * 10_000

    r = guarded.post("/v1/transcribe", content=chunks(), headers={"Content-Type": "audio/wav", **key})
    assert r.status_code == 413 and "more than" in r.json()["error"]
    six_seconds = wav_bytes(np.zeros(6 * 8000, np.float32))
    r = guarded.post("/v1/transcribe", content=six_seconds, headers={"Content-Type": "audio/wav", **key})
    assert r.status_code == 422 and "duration 6.0 s above the limit of 5.0 s" in r.json()["error"]
    r = guarded.post("/v1/transcribe/batch", headers=key,
                     files=[("file", (f"{i}.wav", WAV, "audio/wav")) for i in range(4)])
    assert r.status_code == 422 and r.json()["error"] == "more than 3 files in one call (--max-inputs)"


def test_api_key(guarded):
    wav = {"content": WAV, "headers": {"Content-Type": "audio/wav"}}
    r = guarded.post("/v1/transcribe", **wav)
    assert r.status_code == 401 and r.json()["error"].startswith("missing API key")
    assert r.headers["www-authenticate"] == "Bearer"
    r = guarded.post("/v1/transcribe", content=WAV, headers={"Content-Type": "audio/wav", "X-API-Key": "wrong"})
    assert r.status_code == 401 and r.json()["error"] == "wrong API key"
    r = guarded.post("/v1/transcribe", content=WAV, headers={"Content-Type": "audio/wav", "Authorization": "Bearer s3cret"})
    assert r.status_code == 401
    r = guarded.post("/v1/transcribe", content=WAV, headers={"Content-Type": "audio/wav", "Authorization": "Basic s3cret-key"})
    assert r.status_code == 401
    r = guarded.post("/v1/transcribe", content=WAV,
                     headers={"Content-Type": "audio/wav", "Authorization": "Bearer s3cret-key"})
    assert r.status_code == 200 and r.json()["text"] == expected(SAMPLES[0])
    r = guarded.post("/v1/transcribe", content=WAV, headers={"Content-Type": "audio/wav", "X-API-Key": "s3cret-key"})
    assert r.status_code == 200
    assert guarded.get("/v1/models").status_code == 401
    assert guarded.get("/v1/models", headers={"X-API-Key": "s3cret-key"}).status_code == 200
    assert guarded.get("/healthz").status_code == 200 and guarded.get("/readyz").status_code == 200


def test_cors_only_for_the_given_origins(client, guarded):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "x-api-key"}
    r = guarded.options("/v1/transcribe", headers=preflight)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
    r = guarded.options("/v1/transcribe", headers={**preflight, "Origin": "https://evil.example"})
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    r = client.get("/healthz", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in r.headers  # CORS is off unless asked for


# ---- concurrency, queue, time limit ---------------------------------------------------------------
def test_concurrent_requests_are_batched_and_all_answered(client):
    before = client.get("/metrics").text
    jobs = [SAMPLES[i % len(SAMPLES)] for i in range(20)]

    def send(path: Path) -> str:
        r = client.post("/v1/transcribe", files={"file": (path.name, path.read_bytes(), "audio/wav")})
        assert r.status_code == 200, r.text
        return r.json()["text"]

    with ThreadPoolExecutor(20) as pool:
        texts = list(pool.map(send, jobs))
    assert texts == [expected(p) for p in jobs]
    after = client.get("/metrics").text
    calls = (metric(after, "recog_batch_size_count", model="digits-en")
             - metric(before, "recog_batch_size_count", model="digits-en"))
    singles = (metric(after, "recog_batch_size_bucket", model="digits-en", le="1.0")
               - metric(before, "recog_batch_size_bucket", model="digits-en", le="1.0"))
    inputs = (metric(after, "recog_batch_size_sum", model="digits-en")
              - metric(before, "recog_batch_size_sum", model="digits-en"))
    assert inputs == 20 and calls < 20 and singles < calls, (calls, singles)


@pytest.fixture()
def blocked():
    """Digits with a queue of one, batches of one and a 1.5 s time limit; `gate` holds the worker."""
    client = started(ServeConfig(models=["digits-en"], max_queue=1, max_batch=1, max_wait_ms=0,
                                 limits=ServeLimits(timeout_s=1.5)))
    served = client.app.state.service.models["digits-en"]
    gate, running = threading.Event(), threading.Event()
    work = served.batcher.work

    def held(jobs):
        running.set()
        gate.wait(30)
        return work(jobs)

    served.batcher.work = held
    yield client, served, gate, running
    gate.set()
    client.__exit__(None, None, None)


def test_a_full_queue_is_503_with_retry_after(blocked):
    client, served, gate, running = blocked

    def send():
        return client.post("/v1/transcribe", content=WAV, headers={"Content-Type": "audio/wav"})

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(send)
        assert running.wait(10)  # taken by the worker, which holds it
        second = pool.submit(send)
        deadline = time.time() + 10
        while served.batcher.depth < 1 and time.time() < deadline:
            time.sleep(0.01)
        r = send()
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert "model digits-en is busy: 1 inputs are waiting (queue limit 1, --max-queue)" in r.json()["error"]
        gate.set()
        assert first.result().status_code == 200 and second.result().status_code == 200
    assert send().json()["text"] == expected(SAMPLES[0])


def test_a_request_past_the_time_limit_is_504(blocked):
    client, _served, gate, running = blocked
    start = time.time()
    r = client.post("/v1/transcribe", content=WAV, headers={"Content-Type": "audio/wav"})
    assert r.status_code == 504 and r.json()["error"] == "the request took longer than 1.5 s (--timeout-s)"
    assert time.time() - start < 10
    gate.set()
    r = client.post("/v1/transcribe", content=WAV, headers={"Content-Type": "audio/wav"})
    assert r.status_code == 200 and r.json()["text"] == expected(SAMPLES[0])


# ---- the real process -----------------------------------------------------------------------
def test_recog_serve_process_answers_and_exits_0_on_sigterm(tmp_path):
    import httpx

    key = tmp_path / "key"
    key.write_text("k3y\n")
    args = ["--model", "digits-en", "--api-key-file", str(key), "--log-level", "warning"]
    with serve_process(args) as (proc, base):
        headers = {"Content-Type": "audio/wav", "Authorization": "Bearer k3y"}
        r = httpx.post(f"{base}/v1/transcribe", content=WAV, timeout=30, headers=headers)
        assert r.status_code == 200 and r.json()["text"] == expected(SAMPLES[0])
        # a request in flight when SIGTERM comes is finished before the process exits
        long = wav_bytes(np.concatenate([sf.read(p, dtype="float32")[0] for p in SAMPLES * 20]))  # 250 s
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.post, f"{base}/v1/transcribe", content=long, timeout=60, headers=headers)
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            r = pending.result()
        assert r.status_code == 200, r.text
        assert r.json()["duration"] > 200
        assert proc.wait(60) == 0


def test_serve_refuses_bad_start_options(tmp_path, capsys):
    from recog.cli import main

    with pytest.raises(SystemExit, match="not a model name"):
        main(["serve", "--model", "no-such-model"])
    with pytest.raises(SystemExit, match="give NAME=PATH"):
        main(["serve", "--model", "digits-en", "--lm", str(LM)])
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SystemExit, match="one key without spaces"):
        main(["serve", "--model", "digits-en", "--api-key-file", str(tmp_path / "empty")])
    with pytest.raises(SystemExit, match="two models are called 'digits-en'"):
        main(["serve", "--model", "digits-en", "--model", "digits-en"])


def test_the_service_imports_no_torch():
    code = ("import sys, warnings; warnings.simplefilter('ignore')\n"
            "from starlette.testclient import TestClient\n"
            "from recog.serve import ServeConfig, create_app\n"
            "with TestClient(create_app(ServeConfig(models=['digits-en']))) as c:\n"
            f"    r = c.post('/v1/transcribe', content=open({str(SAMPLES[0])!r}, 'rb').read(),"
            " headers={'Content-Type': 'audio/wav'})\n"
            "    assert r.status_code == 200, r.text\n"
            "assert 'torch' not in sys.modules and 'recog.train' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
