"""The demo page of `recog serve` in a real browser: Debian's Chromium (/usr/bin/chromium, installed
by `make sysdeps`) driven by playwright, against `recog serve --model digits-en --model iam-ondb-en`
started on a free local port with an API key.

The page asks for the key, fills its model pickers from /v1/models, recognizes a handwritten
line drawn on its canvas with the mouse (an IAM-OnDB val2 line from ../shared, else generated
lines), with undo and clear, and transcribes an uploaded digits recording and one recorded from
a (fake) microphone. Each text shown must equal what the offline `Recognizer` gives for the very
input the page posted (captured from the browser's requests). The time from pen-up to the text
is read from the page and written with the screenshots to the test's folder and tests/output/.
"""

from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                               "(make setup installs it from requirements/dev.txt)")

from recog.features.ink import Ink  # noqa: E402
from recog.features.ink.io import ink_from_json  # noqa: E402
from recog.metrics import error_rates  # noqa: E402
from recog.runtime import Recognizer  # noqa: E402

from .conftest import ROOT  # noqa: E402
from .ink_support import IAM_DIR, synth_ink  # noqa: E402
from .serve_support import serve_process  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is not installed (make sysdeps "
                                "installs Debian's chromium)")

KEY = "demo-k3y"
SAMPLES = sorted((ROOT / "models" / "digits-en" / "samples").glob("*.wav"))
MIC_SAMPLE = ROOT / "models" / "digits-en" / "samples" / "two_four_three_two_nine.wav"
OUTPUT = ROOT / "tests" / "output"  # git-ignored: the last run's screenshots and latencies
VIEWPORT = {"width": 1280, "height": 720}
# No frame-rate limit: each synthetic mouse move is then acknowledged without waiting for a
# frame (16.7 ms a move otherwise). The fake microphone plays MIC_SAMPLE once.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-frame-rate-limit", "--use-fake-ui-for-media-stream",
                 "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={MIC_SAMPLE}%noloop"]
GENERATED = ["oil cox", "lilo", "coil ox"]
DOCS_LINE = "cool oil cox lil"  # generated (no IAM-OnDB ink in the docs): the picture of docs/deployment.md


# ---- the server, the browser, the page ----------------------------------------------------------
@pytest.fixture(scope="module")
def base(tmp_path_factory):
    key = tmp_path_factory.mktemp("key") / "key"
    key.write_text(KEY + "\n")
    args = ["--model", "digits-en", "--model", "iam-ondb-en", "--api-key-file", str(key), "--log-level", "warning"]
    with serve_process(args) as (_proc, url):
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Demo:
    """The open page, what it posted to /v1/transcribe, its script errors, and what it said
    before the key was given."""

    def __init__(self, page):
        self.page = page
        self.posted: list = []
        self.errors: list[str] = []
        self.key_prompt = ""
        page.on("request", self._request)
        page.on("pageerror", lambda err: self.errors.append(f"page error: {err}"))
        page.on("console", self._console)

    def _request(self, request) -> None:
        if request.method == "POST" and "/v1/transcribe" in request.url:
            self.posted.append(request)

    def _console(self, message) -> None:
        # the one 401 is the page's first /v1/models call, before the key is given
        if message.type == "error" and "401 (Unauthorized)" not in message.text:
            self.errors.append(f"console: {message.text}")

    def ink_bodies(self) -> list[dict]:
        return [json.loads(r.post_data) for r in self.posted
                if r.headers.get("content-type", "").startswith("application/json")]


@pytest.fixture(scope="module")
def demo(browser, base):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = context.new_page()
    d = Demo(page)
    page.goto(f"{base}/")
    page.wait_for_selector("body[data-ready=key]", timeout=30_000)
    d.key_prompt = page.text_content("#service-state")
    page.fill("#key-input", KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("body[data-ready=yes]", timeout=30_000)
    yield d
    context.close()


@pytest.fixture(scope="module")
def offline():
    return {"ink": Recognizer.from_onnx("iam-ondb-en"), "digits": Recognizer.from_onnx("digits-en")}


def save_screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    OUTPUT.mkdir(exist_ok=True)
    shutil.copy(path, OUTPUT / name)
    return path


# ---- ink on the canvas --------------------------------------------------------------------------
def lines(n: int) -> list[tuple[str, Ink]]:
    """(text, ink) of the first `n` IAM-OnDB val2 lines, or of generated lines without ../shared."""
    if (IAM_DIR / "strokes.npy").is_file():
        from recog.features.ink.iam_ondb import IamOnDb

        db = IamOnDb(IAM_DIR)
        return [(db.rows[i].text, db.ink(i)) for i in db.splits()["val2"][:n]]
    return [(text, synth_ink(text, seed=i)) for i, text in enumerate(GENERATED[:n])]


def on_canvas(ink: Ink, box: dict, margin: float = 12.0, step: float = 3.0) -> list[np.ndarray]:
    """The strokes scaled into the canvas's page box (aspect kept, centred vertically), in their
    order, each thinned to points at least `step` px apart (its last point kept)."""
    pts = np.concatenate(ink.strokes)[:, :2]
    low, span = pts.min(axis=0), np.maximum(np.ptp(pts, axis=0), 1e-9)
    scale = min((box["width"] - 2 * margin) / span[0], (box["height"] - 2 * margin) / span[1])
    origin = np.array([box["x"] + margin, box["y"] + (box["height"] - scale * span[1]) / 2])
    out = []
    for stroke in ink.strokes:
        xy = (stroke[:, :2] - low) * scale + origin
        kept = [xy[0]]
        for p in xy[1:]:
            if np.hypot(*(p - kept[-1])) >= step:
                kept.append(p)
        if len(xy) > 1 and not np.array_equal(kept[-1], xy[-1]):
            kept.append(xy[-1])
        out.append(np.array(kept))
    return out


def wait_ink(page, strokes: int) -> None:
    page.wait_for_function("n => { const s = document.querySelector('#ink');"
                           " return s.dataset.state === 'shown' && s.dataset.strokes === String(n); }",
                           arg=strokes, timeout=15_000)


def draw(page, strokes: list[np.ndarray], pause: bool) -> list[float]:
    """Draw the strokes with the mouse (move, down, moves, up). With `pause`, wait after each
    pen-up for its text and return the page's pen-up-to-text times (ms)."""
    times = []
    for k, stroke in enumerate(strokes, 1):
        page.mouse.move(*stroke[0])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(x, y)
        page.mouse.up()
        if pause:
            wait_ink(page, k)
            times.append(float(page.get_attribute("#ink", "data-latency-ms")))
    return times


def clear_ink(page) -> None:
    if page.is_enabled("#ink-clear"):
        page.click("#ink-clear")
    page.wait_for_selector("#ink[data-state=empty]")


def check_ink_text(demo: Demo, offline, strokes: int) -> tuple[str, dict]:
    """The text and words shown equal the offline result for the last ink posted (of `strokes` strokes)."""
    body = demo.ink_bodies()[-1]
    assert len(body["strokes"]) == strokes
    result = offline["ink"].transcribe_ink(ink_from_json(body, "<posted>"))
    page = demo.page
    assert page.text_content("#ink-text") == result.text
    assert page.locator("#ink-words .word").all_text_contents() == [w.word for w in result.words]
    assert page.locator("#ink-words .conf").all_text_contents() == [f"{round(100 * w.confidence)} %"
                                                                    for w in result.words]
    return result.text, body


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# ---- tests --------------------------------------------------------------------------------------
def test_page_asks_for_the_key_and_fills_the_pickers_by_modality(demo):
    assert demo.key_prompt.startswith("This service needs an API key: missing API key")
    page = demo.page
    assert page.locator("#ink-model option").all_text_contents() == ["iam-ondb-en (int8)"]
    assert page.locator("#speech-model option").evaluate_all("os => os.map(o => o.value)") == ["digits-en"]
    assert page.evaluate("localStorage.getItem('recog.apiKey')") == KEY
    assert page.text_content("#service-state") == "Ready: 1 handwriting model, 1 speech model."
    assert not demo.errors


def test_writing_without_pauses_ends_with_the_text_of_the_whole_line(demo, offline):
    page = demo.page
    clear_ink(page)
    _, ink = lines(2)[1]
    strokes = on_canvas(ink, page.locator("#ink-canvas").bounding_box())
    draw(page, strokes, pause=False)
    wait_ink(page, len(strokes))
    text, _ = check_ink_text(demo, offline, len(strokes))
    assert text.strip()
    assert not demo.errors


def test_undo_and_clear(demo, offline):
    page = demo.page
    clear_ink(page)
    _, ink = lines(1)[0]
    strokes = on_canvas(ink, page.locator("#ink-canvas").bounding_box())[:6]
    draw(page, strokes, pause=False)
    wait_ink(page, 6)
    page.click("#ink-undo")
    wait_ink(page, 5)
    check_ink_text(demo, offline, 5)
    page.focus("#ink-canvas")
    page.keyboard.press("Control+z")
    wait_ink(page, 4)
    check_ink_text(demo, offline, 4)
    page.click("#ink-clear")
    page.wait_for_selector("#ink[data-state=empty]")
    assert page.text_content("#ink-text") == "" and page.locator("#ink-words li").count() == 0
    assert page.is_disabled("#ink-undo") and page.is_disabled("#ink-clear")
    painted = page.evaluate("""() => { const c = document.querySelector('#ink-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }""")
    assert painted == 0
    assert not demo.errors


def test_a_written_line_shows_the_offline_text_soon_after_each_pen_up(demo, offline, base, tmp_path):
    import httpx

    page = demo.page
    clear_ink(page)
    [(truth, ink)] = lines(1)
    strokes = on_canvas(ink, page.locator("#ink-canvas").bounding_box())
    first = len(demo.posted)
    times = draw(page, strokes, pause=True)
    text, body = check_ink_text(demo, offline, len(strokes))
    save_screenshot(page, tmp_path, "demo_ink.png")
    # the ink posted is the line as drawn: the strokes in order, each point inside the canvas
    assert [len(s) for s in body["strokes"]] == [len(s) for s in strokes]
    assert all(len(p) == 3 for s in body["strokes"] for p in s)
    cer = error_rates([truth], [text]).cer if (IAM_DIR / "strokes.npy").is_file() else None
    assert cer is None or cer < 30, (truth, text)  # percent
    # every pen-up was answered, and soon: the page's own times (pen-up to the text in the page)
    assert len(times) == len(strokes) and len(demo.posted) - first >= len(strokes)
    p50, p95 = percentile(times, 50), percentile(times, 95)
    assert p50 < 2000, times
    # beside it, the same inks posted straight to the service (no browser, no debounce)
    direct = []
    with httpx.Client(base_url=base, headers={"X-API-Key": KEY}) as client:
        for b in demo.ink_bodies()[-len(strokes):]:
            start = time.perf_counter()
            r = client.post("/v1/transcribe", json=b)
            direct.append(1000 * (time.perf_counter() - start))
            assert r.status_code == 200
    report = {"line": truth, "shown": text, "cer": cer, "strokes": len(strokes),
              "points": sum(len(s) for s in strokes), "pen_up_to_text_ms": times,
              "p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
              "direct_post_p50_ms": round(percentile(direct, 50), 1),
              "direct_post_p95_ms": round(percentile(direct, 95), 1),
              "debounce_ms": int(page.evaluate("import('/static/ink.js').then(m => m.DEBOUNCE_MS)"))}
    for folder in (tmp_path, OUTPUT):
        (folder / "demo_latency.json").write_text(json.dumps(report, indent=1))
    assert not demo.errors


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_an_uploaded_recording_shows_the_digits_with_word_times(demo, offline, path, tmp_path):
    page = demo.page
    with page.expect_response(lambda r: "/v1/transcribe" in r.url) as response:
        page.set_input_files("#speech-file", str(path))
    assert response.value.status == 200
    page.wait_for_selector("#speech[data-state=shown]")
    [t] = offline["digits"].transcribe([str(path)])
    assert page.text_content("#speech-text") == t.text == path.stem.replace("_", " ")
    rows = page.locator("#speech-words tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert rows == [[w.word, f"{w.start:.2f}", f"{w.end:.2f}", f"{round(100 * w.confidence)} %"] for w in t.words]
    save_screenshot(page, tmp_path, "demo_speech.png")
    assert not demo.errors


def test_a_microphone_recording_is_a_16_bit_wav_read_like_offline(demo, offline, tmp_path):
    page = demo.page
    page.click("#speech-record")
    page.wait_for_selector("#speech[data-state=recording]")
    assert page.get_attribute("#speech-record", "aria-pressed") == "true"
    seconds = sf.info(MIC_SAMPLE).duration + 0.6
    page.wait_for_timeout(1000 * seconds)
    with page.expect_request(lambda r: r.method == "POST" and "/v1/transcribe" in r.url) as request:
        page.click("#speech-record")
    page.wait_for_selector("#speech[data-state=shown]")
    wav = request.value.post_data_buffer
    assert request.value.headers["content-type"] == "audio/wav"
    info = sf.info(io.BytesIO(wav))
    assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
    assert seconds - 0.5 < info.duration < seconds + 1.5
    path = tmp_path / "recorded.wav"
    path.write_bytes(wav)
    [t] = offline["digits"].transcribe([str(path)])
    assert page.text_content("#speech-text") == t.text
    assert t.text.endswith("three two nine")  # the start may lose a few ms while the microphone opens
    assert page.get_attribute("#speech-audio", "src").startswith("blob:")
    assert not demo.errors


def test_a_generated_line_beside_a_transcript(demo, offline, tmp_path):
    """The picture of docs/deployment.md ("Demo page"): a generated line (IAM-OnDB ink stays out
    of the repository) and a digits transcript."""
    page = demo.page
    clear_ink(page)
    strokes = on_canvas(synth_ink(DOCS_LINE, seed=0), page.locator("#ink-canvas").bounding_box())
    draw(page, strokes, pause=False)
    wait_ink(page, len(strokes))
    text, _ = check_ink_text(demo, offline, len(strokes))
    assert text == DOCS_LINE
    page.set_input_files("#speech-file", str(MIC_SAMPLE))
    page.wait_for_function("() => document.querySelector('#speech-text').textContent === 'two four three two nine'")
    page.locator("#ink-canvas").hover()
    save_screenshot(page, tmp_path, "demo_page.png")
    assert not demo.errors
