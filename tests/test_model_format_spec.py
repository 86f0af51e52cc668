"""docs/model-format.md is enough to write a client: audio features, decoding and metadata from the spec alone.

The feature code below is written from the document with numpy/scipy (none of recog's feature
code) and must match the runtime's numpy features (`recog.features.audio_np`); a client built
from it must transcribe the shipped digits samples. The metadata keys are read from the
document's tables, so the document is the one list of keys.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from math import gcd
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from recog.features.audio_np import log_mel
from recog.runtime import read_model_info

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "model-format.md"
DIGITS = ROOT / "models" / "digits-en" / "model.int8.onnx"
INK = ROOT / "models" / "iam-ondb-en" / "model.int8.onnx"
SAMPLES = sorted((ROOT / "models" / "digits-en" / "samples").glob("*.wav"))

# Normalized features are O(1): an absolute 1e-4 is ~50x the float32-vs-float64 differences seen
# on the samples (<= 2e-6), while a wrong documented detail moves them by >= 0.04 (see the mutants).
NORM_ATOL = 1e-4
# Raw log-mel values reach -13.8 (the floor): compare relative to magnitude. The float32 runtime
# differs from an exact computation by ~half an ulp of the value (5e-7 at 13.8) plus the rounding
# of the mel energy itself (a few 1e-7 in the log), so rtol 1e-5 with an atol of 1e-5 for values
# near 0 leaves a 15x margin on any x86-64 BLAS/FFT kernel.
RAW_RTOL, RAW_ATOL = 1e-5, 1e-5


# ---- the document's tables ----------------------------------------------------------------------
def _section(title_prefix: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title_prefix}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def documented_metadata_keys() -> dict[str, bool]:
    """`recog.*` key -> required?, from the table of section 3."""
    rows = re.findall(r"^\| `(recog\.[a-z_]+)` \| [^|]+ \| (required|optional)", _section("3 Metadata"), re.M)
    return {key: need == "required" for key, need in rows}


def documented_audio_feature_keys() -> list[str]:
    """The keys of `recog.features` for audio, from section 3's second table."""
    table = _section("3 Metadata").split("**`recog.features` for audio**")[1].split("**`recog.features` for ink**")[0]
    return re.findall(r"^\| `([a-z_]+)` \|", table, re.M)


def metadata(path: Path) -> dict[str, str]:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map


# ---- a client written from the document ---------------------------------------------------------
def spec_read_audio(path: Path, rate: int) -> np.ndarray:
    """Section 5.1: float32 samples, channel mean, polyphase resampling."""
    data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    wave = data.mean(axis=1)
    if file_rate != rate:
        g = gcd(file_rate, rate)
        wave = resample_poly(wave, rate // g, file_rate // g)
    return wave.astype(np.float32)


def _hz_to_mel(f: np.ndarray, htk: bool = False) -> np.ndarray:
    f = np.asarray(f, np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    return np.where(f < 1000.0, f / (200.0 / 3), 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) / (np.log(6.4) / 27))


def _mel_to_hz(m: np.ndarray, htk: bool = False) -> np.ndarray:
    m = np.asarray(m, np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(m < 15.0, m * (200.0 / 3), 1000.0 * np.exp((np.log(6.4) / 27) * (m - 15.0)))


def spec_log_mel(wave: np.ndarray, p: dict, mutate: str = "") -> np.ndarray:
    """Sections 5.2-5.7 in float64 from the `recog.features` JSON `p`: [T, n_mels] float32.

    `mutate` swaps one documented choice for a plausible wrong one (the tests show each is caught).
    """
    sr = p["sample_rate"]
    win, hop = int(round(sr * p["win_ms"] / 1000)), int(round(sr * p["hop_ms"] / 1000))
    n_fft = p["n_fft"] or 1 << (win - 1).bit_length()
    f_max = p["f_max"] or sr / 2
    # 5.2 periodic Hann, centred in n_fft; zero padding of n_fft / 2 on both sides
    n = np.arange(win)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (win - 1 if mutate == "symmetric window" else win))
    window = np.zeros(n_fft)
    window[(n_fft - win) // 2 : (n_fft - win) // 2 + win] = hann
    padded = np.pad(wave.astype(np.float64), n_fft // 2, mode="reflect" if mutate == "reflect padding" else "constant")
    T = 1 + len(wave) // hop
    frames = np.stack([padded[t * hop : t * hop + n_fft] for t in range(T)])
    # 5.3 power spectrum
    spectrum = np.fft.rfft(frames * window, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    # 5.4 Slaney mel filters, unit area
    htk = mutate == "htk mel"
    edges = _mel_to_hz(np.linspace(_hz_to_mel(p["f_min"], htk), _hz_to_mel(f_max, htk), p["n_mels"] + 2), htk)
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    filters = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    if mutate != "no area norm":
        filters *= 2.0 / (hi - lo)
    # 5.5 log with the floor; 5.7 normalization
    feats = np.log(power @ filters.T + p["log_floor"])
    eps = 1e-5
    if p["normalize"] == "utterance":
        feats = (feats - feats.mean(0)) / (np.sqrt(((feats - feats.mean(0)) ** 2).mean(0)) + eps)
    elif p["normalize"] == "scalar":
        feats = (feats - feats.mean()) / (np.sqrt(((feats - feats.mean()) ** 2).mean()) + eps)
    else:
        assert p["normalize"] == "none", p["normalize"]
    return feats.astype(np.float32)


def greedy(lp: np.ndarray) -> list[tuple[int, int]]:
    """Section 4: (token, first frame of its run) along the best path."""
    out, prev = [], 0
    for t, k in enumerate(lp.argmax(axis=1).tolist()):
        if k != 0 and k != prev:
            out.append((k, t))
        prev = k
    return out


def spec_ctc_log_likelihood(lp: np.ndarray, tokens: list[int]) -> float:
    """Section 4, ensembles: log P(tokens) summed over the CTC paths (forward algorithm, float64)."""
    states = [0]
    for k in tokens:
        states += [k, 0]
    lp = lp.astype(np.float64)
    alpha = np.full(len(states), -np.inf)
    alpha[:2] = lp[0, states[:2]]
    for t in range(1, len(lp)):
        prev = alpha.copy()
        for s, k in enumerate(states):
            terms = [prev[s]] + ([prev[s - 1]] if s >= 1 else [])
            if s >= 2 and k != 0 and k != states[s - 2]:
                terms.append(prev[s - 2])
            alpha[s] = np.logaddexp.reduce(terms) + lp[t, k]
    return float(np.logaddexp.reduce(alpha[-2:]))


def spec_choose(members: list[np.ndarray]) -> list[tuple[int, int]]:
    """Section 4, ensembles: each member's greedy path; the one the members together score highest."""
    paths = [greedy(lp) for lp in members]
    scores = [sum(spec_ctc_log_likelihood(lp, [k for k, _ in path]) for lp in members) for path in paths]
    return paths[int(np.argmax(scores))]  # the first maximum: the lowest member on a tie


@pytest.fixture(scope="module")
def digits():
    """(metadata, `recog.features` JSON, ort_model with 1 thread, runtime feature config)."""
    meta = metadata(DIGITS)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    ort_model = ort.InferenceSession(str(DIGITS), opts, providers=["CPUExecutionProvider"])
    return meta, json.loads(meta["recog.features"]), ort_model, read_model_info(DIGITS).features


# ---- metadata -----------------------------------------------------------------------------------
def test_shipped_digits_metadata_keys_are_exactly_the_documented_ones(digits):
    """The shipped file carries every documented key (a single network may lack the ensemble keys)."""
    documented = documented_metadata_keys()
    assert len(documented) >= 12 and "recog.format" in documented  # the table parsed
    meta, features, ort_model, _ = digits
    members = json.loads(meta.get("recog.members", "[]"))
    ensemble_keys = {"recog.members", "recog.combine"}
    keys = {k for k in meta if k.startswith("recog.")}
    assert keys == set(documented) if members else keys | ensemble_keys == set(documented)
    assert sorted(features) == sorted(documented_audio_feature_keys())
    assert meta["recog.format"] == "recog-onnx-1" and meta["recog.modality"] == "audio"
    # the documented relations between the values and the graph
    hop = int(round(features["sample_rate"] * features["hop_ms"] / 1000))
    assert float(meta["recog.frame_rate"]) == features["sample_rate"] / hop / int(meta["recog.subsampling"])
    alphabet = json.loads(meta["recog.alphabet"])
    inputs, outputs = ort_model.get_inputs(), ort_model.get_outputs()
    assert [(i.name, i.type, i.shape) for i in inputs] == [
        ("features", "tensor(float)", ["batch", "time", features["n_mels"]]),
        ("lengths", "tensor(int32)", ["batch"]),
    ]
    expected = [("log_probs", "tensor(float)", ["batch", "frames", len(alphabet) + 1]),
                ("out_lengths", "tensor(int32)", ["batch"])]
    if members and meta["recog.combine"] == "sequence":
        expected.append(("member_log_probs", "tensor(float)", ["batch", "frames", len(members), len(alphabet) + 1]))
    assert [(o.name, o.type, o.shape) for o in outputs] == expected
    info = read_model_info(DIGITS)  # the reference reader agrees with the raw strings
    assert info.alphabet.tokens[1:] == alphabet and info.alphabet.units == meta["recog.units"] == "word"


def test_shipped_ink_model_has_the_documented_keys():
    documented = documented_metadata_keys()
    keys = {k for k in metadata(INK) if k.startswith("recog.")}
    assert keys <= set(documented)
    assert {k for k, required in documented.items() if required} <= keys
    info = read_model_info(INK)
    assert info.modality == "ink" and info.alphabet.units == "char" and info.frame_rate == 1.0


# ---- features -----------------------------------------------------------------------------------
@pytest.mark.parametrize("normalize", ["scalar", "utterance", "none"])
def test_spec_features_match_the_runtime_on_the_samples(digits, normalize):
    _, features, _, config = digits
    p = {**features, "normalize": normalize}
    config = dataclasses.replace(config, normalize=normalize)
    for path in SAMPLES:
        wave = spec_read_audio(path, p["sample_rate"])
        ours, runtime = spec_log_mel(wave, p), log_mel(wave, config)
        assert runtime.dtype == np.float32 and ours.shape == runtime.shape == (1 + len(wave) // 80, 40)
        if normalize == "none":
            np.testing.assert_allclose(runtime, ours, rtol=RAW_RTOL, atol=RAW_ATOL, err_msg=path.name)
        else:
            np.testing.assert_allclose(runtime, ours, rtol=0, atol=NORM_ATOL, err_msg=path.name)


@pytest.mark.parametrize("normalize", ["utterance", "none"])
def test_spec_features_match_the_runtime_at_16khz_with_80_mels(digits, normalize):
    """A 16 kHz / 80-mel config (n_fft 512) on the samples upsampled, with a -60 dBFS noise floor
    so that no band above the samples' 4 kHz bandwidth is digitally silent (section 5.6)."""
    _, features, _, config = digits
    p = {**features, "sample_rate": 16000, "n_mels": 80, "normalize": normalize}
    config = dataclasses.replace(config, sample_rate=16000, n_mels=80, normalize=normalize)
    rng = np.random.default_rng(0)
    for path in SAMPLES:
        up = resample_poly(spec_read_audio(path, 8000), 2, 1)
        wave = (up + 1e-3 * rng.standard_normal(len(up))).astype(np.float32)
        ours, runtime = spec_log_mel(wave, p), log_mel(wave, config)
        assert ours.shape == runtime.shape == (1 + len(wave) // 160, 80)
        assert spec_log_mel(wave, {**p, "normalize": "none"}).std(0).min() > 0.1  # no ill-conditioned band
        if normalize == "none":
            np.testing.assert_allclose(runtime, ours, rtol=RAW_RTOL, atol=RAW_ATOL, err_msg=path.name)
        else:
            np.testing.assert_allclose(runtime, ours, rtol=0, atol=NORM_ATOL, err_msg=path.name)


@pytest.mark.parametrize("mutate", ["symmetric window", "reflect padding", "htk mel", "no area norm"])
def test_each_documented_choice_is_pinned_by_the_tolerance(digits, mutate):
    _, features, _, config = digits
    wave = spec_read_audio(SAMPLES[0], features["sample_rate"])
    runtime = log_mel(wave, config)
    wrong = spec_log_mel(wave, features, mutate)
    assert np.abs(wrong - runtime).max() > 100 * NORM_ATOL, mutate


# ---- decoding -----------------------------------------------------------------------------------
def _transcribe(ort_model, meta, feats: list[np.ndarray], pad_value: float = 0.0):
    """Section 2 and 4: one padded batch -> [(text, words with times)] per input."""
    lengths = np.array([len(f) for f in feats], np.int32)
    batch = np.full((len(feats), lengths.max(), feats[0].shape[1]), pad_value, np.float32)
    for i, f in enumerate(feats):
        batch[i, : len(f)] = f
    log_probs, out_lengths, *members = ort_model.run(None, {"features": batch, "lengths": lengths})
    by_sequence = meta.get("recog.combine") == "sequence"
    assert bool(members) == by_sequence
    s = int(meta["recog.subsampling"])
    expected = [n if s == 1 else math.ceil(n / 2) if s == 2 else math.ceil(math.ceil(n / 2) / 2) for n in lengths]
    assert out_lengths.tolist() == expected and log_probs.shape[1] == max(expected)
    tokens = json.loads(meta["recog.alphabet"])
    rate = float(meta["recog.frame_rate"])
    results = []
    for b, (row, n) in enumerate(zip(log_probs, out_lengths, strict=True)):
        np.testing.assert_allclose(np.logaddexp.reduce(row[:n], axis=1), 0.0, atol=1e-4)  # log-softmax
        if by_sequence:
            each = [members[0][b, :n, m] for m in range(members[0].shape[2])]
            assert all(np.allclose(np.logaddexp.reduce(lp, axis=1), 0.0, atol=1e-4) for lp in each)
            path = spec_choose(each)
        else:
            path = greedy(row[:n])
        words = [(tokens[k - 1], t / rate, (t + 1) / rate) for k, t in path]  # word units: one token a word
        results.append((" ".join(w for w, _, _ in words), words))
    return results


def test_a_client_from_the_spec_transcribes_the_samples(digits):
    meta, features, ort_model, _ = digits
    feats = [spec_log_mel(spec_read_audio(p, features["sample_rate"]), features) for p in SAMPLES]
    alone = [_transcribe(ort_model, meta, [f])[0] for f in feats]
    assert [text for text, _ in alone] == [p.stem.replace("_", " ") for p in SAMPLES]
    for _, words in alone:
        assert all(end - start == pytest.approx(0.04) for _, start, end in words)
        assert [start for _, start, _ in words] == sorted(start for _, start, _ in words)
    # a padded batch, with garbage in the padding, reads the same (section 2)
    assert _transcribe(ort_model, meta, feats, pad_value=99.0) == alone


def test_worked_example_numbers(digits):
    meta, features, ort_model, _ = digits
    wave = spec_read_audio(ROOT / "models" / "digits-en" / "samples" / "nine_four_three.wav", 8000)
    raw = spec_log_mel(wave, {**features, "normalize": "none"}).astype(np.float64)
    assert len(wave) == 17129 and raw.shape == (215, 40)
    assert raw.mean() == pytest.approx(-9.1282, abs=1e-4) and raw.std() == pytest.approx(3.8035, abs=1e-4)
    feats = spec_log_mel(wave, features)
    np.testing.assert_allclose(feats[0, :4], [-0.6374, -0.9421, -0.9568, -0.9208], atol=1e-4)
    [(text, words)] = _transcribe(ort_model, meta, [feats])
    assert text == "nine four three"
    assert [(w, round(a, 2), round(b, 2)) for w, a, b in words] == [
        ("nine", 0.0, 0.04), ("four", 1.04, 1.08), ("three", 1.64, 1.68)]


def test_reading_a_16khz_stereo_file_by_the_spec(digits, tmp_path):
    """Section 5.1: channel mean and resampling to the model rate give the same transcript."""
    meta, features, ort_model, _ = digits
    path = SAMPLES[2]
    wave = spec_read_audio(path, 8000)
    up = resample_poly(wave, 2, 1).astype(np.float32)
    stereo = tmp_path / "stereo16k.wav"
    sf.write(stereo, np.stack([0.6 * up, 0.4 * up], axis=1), 16000, subtype="FLOAT")
    back = spec_read_audio(stereo, 8000)
    assert abs(len(back) - len(wave)) <= 1
    [(text, _)] = _transcribe(ort_model, meta, [spec_log_mel(back, features)])
    assert text == path.stem.replace("_", " ")
