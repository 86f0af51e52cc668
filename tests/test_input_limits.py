"""Hostile input files are refused, or handled in bounded memory, before anything big is allocated.

Every file here is small; what it claims (a header's sample rate, a coordinate, a
point count, a nesting) would cost gigabytes without the limits. Each refusal is
an `AudioReadError` / `InkError` whose message names the file and the limit's field.
"""

from __future__ import annotations

import json
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import recog.features.limits as input_limits
from recog.features.config import AudioFeatureConfig
from recog.features.ink import InkFeatureConfig, load_ink, write_iam_xml
from recog.features.ink.extract import ink_features
from recog.features.ink.io import json_structure
from recog.features.ink.normalize import theil_sen_slope
from recog.features.ink.pack import write_pack
from recog.features.ink.strokes import Ink, InkError
from recog.features.io import (
    MAX_RESAMPLE_FACTOR,
    AudioReadError,
    load_audio,
    resample,
    resample_factors,
)
from recog.features.limits import InputLimits
from recog.runtime.modality import AUDIO, INK
from recog.runtime.sources import FileSource

from .ink_support import synth_ink

AUDIO_FEATURES = AudioFeatureConfig(sample_rate=16000)
INK_CONFIGS = [InkFeatureConfig(), InkFeatureConfig(encoding="bezier", slant=True)]  # points; the shipped model's


def _peak_mb(fn):
    """(result or raised exception, tracemalloc peak in MB) of fn()."""
    tracemalloc.start()
    try:
        out = fn()
    except (AudioReadError, InkError) as err:
        out = err
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out, peak


def _refused(err: object, path: Path | str, field: str) -> str:
    assert isinstance(err, (AudioReadError, InkError)), err
    message = str(err)
    assert str(path) in message and f"InputLimits.{field}" in message, message
    return message


def _wav_claiming(path: Path, rate: int, frames: int = 8000) -> Path:
    """A valid 16-bit mono wav of `frames` samples whose header then claims `rate` Hz."""
    sf.write(path, np.zeros(frames, np.int16), 16000, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    assert raw[12:16] == b"fmt "
    struct.pack_into("<II", raw, 24, rate, rate * 2)  # sample rate, byte rate
    path.write_bytes(bytes(raw))
    return path


def _write_json(path: Path, strokes: list) -> Path:
    path.write_text(json.dumps({"strokes": strokes}, separators=(",", ":")))
    return path


def _zigzag(n: int) -> np.ndarray:
    """One stroke bouncing between y = 0 and y = 100: every other point is a turning point."""
    return np.column_stack([np.arange(n) * 3.0, np.where(np.arange(n) % 2 == 0, 0.0, 100.0)])


# ---- audio --------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [10_000_000, 9_999_991])
def test_wav_claiming_megahertz_is_refused_before_resampling(tmp_path, rate):
    path = _wav_claiming(tmp_path / "fast.wav", rate)
    assert path.stat().st_size < 20_000
    err, peak = _peak_mb(lambda: load_audio(path, 16000))
    message = _refused(err, path, "max_sample_rate")
    assert f"sample rate {rate} Hz above the limit of 384000 Hz" in message
    assert peak < 5, peak  # was 9.7 GB (9 999 991 Hz: a 200M-tap filter)
    _refused(_peak_mb(lambda: AUDIO.read(path, AUDIO_FEATURES))[0], path, "max_sample_rate")
    with pytest.raises(AudioReadError, match=r"fast\.wav.*InputLimits\.max_sample_rate"):
        FileSource(path, 16000)


def test_wav_claiming_one_hertz_is_refused(tmp_path):
    """8000 samples 'at 1 Hz' would be 8000 s, upsampled to 128M samples."""
    path = _wav_claiming(tmp_path / "slow.wav", 1)
    _refused(_peak_mb(lambda: load_audio(path, 16000))[0], path, "min_sample_rate")
    with pytest.raises(AudioReadError, match=r"slow\.wav.*InputLimits\.min_sample_rate"):
        FileSource(path, 16000)


def test_audio_duration_channels_and_read_size_limits(tmp_path):
    path = tmp_path / "three.wav"
    sf.write(path, np.zeros((16000, 3), np.float32), 16000)  # 1 s, 3 channels
    assert load_audio(path, 16000).shape == (16000,)
    _refused(_peak_mb(lambda: load_audio(path, 16000, limits=InputLimits(max_audio_seconds=0.5)))[0],
             path, "max_audio_seconds")
    with pytest.raises(AudioReadError, match=r"three\.wav: duration 1\.0 s.*InputLimits\.max_audio_seconds"):
        FileSource(path, 16000, limits=InputLimits(max_audio_seconds=0.5))
    _refused(_peak_mb(lambda: load_audio(path, 16000, limits=InputLimits(max_channels=2)))[0], path, "max_channels")
    # A whole-file read: 16000 x 3 channels x 4 bytes decoded, or 4 x 48000 resampled to 48 kHz.
    _refused(_peak_mb(lambda: load_audio(path, 16000, limits=InputLimits(max_read_bytes=100_000)))[0],
             path, "max_read_bytes")
    err, _ = _peak_mb(lambda: load_audio(path, 48000, limits=InputLimits(max_read_bytes=190_000)))
    assert "resampled to 48000 Hz" in _refused(err, path, "max_read_bytes")
    # Windowed reading is bounded by the window, not by max_read_bytes.
    source = FileSource(path, 16000, limits=InputLimits(max_read_bytes=1000))
    assert source.read(0, 800).shape == (800,)
    source.close()


def test_runtime_reads_through_the_default_limits(tmp_path, monkeypatch):
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(16000, np.float32), 16000)
    ink = tmp_path / "a.json"
    _write_json(ink, [[[0, 0], [1, 1], [2, 0]]])
    assert AUDIO.read(wav, AUDIO_FEATURES).shape == (16000,)
    assert INK.read(ink, INK_CONFIGS[0]).num_points == 3
    monkeypatch.setattr(input_limits, "DEFAULT_LIMITS", InputLimits(max_audio_seconds=0.5, max_ink_points=2))
    with pytest.raises(AudioReadError, match=r"a\.wav.*max_audio_seconds"):
        AUDIO.read(wav, AUDIO_FEATURES)
    with pytest.raises(InkError, match=r"a\.json.*max_ink_points"):
        INK.read(ink, INK_CONFIGS[0])


def test_resampling_factors_are_bounded():
    assert resample_factors(44100, 16000) == (160, 441)  # ordinary rates: exact
    assert resample_factors(8000, 7999) == (7999, 8000)
    up, down = resample_factors(383_999, 16000)  # coprime: 20 x 383999 taps exactly
    assert max(up, down) <= MAX_RESAMPLE_FACTOR and abs(up / down * 383_999 / 16000 - 1) < 1e-5
    up, down = resample_factors(1009, 16001)
    assert max(up, down) <= MAX_RESAMPLE_FACTOR and abs(up / down * 1009 / 16001 - 1) < 1e-5
    wave = np.random.default_rng(0).standard_normal(383_999).astype(np.float32)
    out, peak = _peak_mb(lambda: resample(wave, 383_999, 16000))
    assert abs(len(out) - 16000) <= 1 and peak < 40, peak  # was 352 MB and 2 s for 1 s of audio


# ---- ink ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("config", INK_CONFIGS, ids=["points", "bezier"])
def test_stroke_running_to_1e10_is_refused_before_resampling(tmp_path, config):
    strokes = [s.tolist() for s in synth_ink("lol cix", seed=0).strokes]
    end = strokes[-1][-1]
    path = _write_json(tmp_path / "far.json", strokes + [[end, [1e10, end[1]]]])
    assert path.stat().st_size < 10_000
    ink = INK.read(path, config)
    err, peak = _peak_mb(lambda: INK.featurize(ink, config))
    assert "points (path length" in _refused(err, path, "max_resampled_points")
    assert peak < 20, peak  # was 5.5 GB


def test_zigzag_beyond_the_point_limit_is_refused(tmp_path):
    path = _write_json(tmp_path / "zigzag.json", [_zigzag(200_000).tolist()])
    err, peak = _peak_mb(lambda: load_ink(path))
    assert "JSON array count (one per point and stroke) 200002" in _refused(err, path, "max_ink_points")
    assert peak < 50, peak  # refused before parsing


@pytest.mark.parametrize("config", INK_CONFIGS, ids=["points", "bezier"])
def test_zigzag_within_the_limits_runs_in_bounded_memory(tmp_path, config):
    """25000 points, 12500 lower turning points: the all-pairs skew estimate asked for 600 MB."""
    path = _write_json(tmp_path / "zigzag.json", [_zigzag(25_000).tolist()])
    ink = load_ink(path)
    feats, peak = _peak_mb(lambda: INK.featurize(ink, config))
    assert isinstance(feats, np.ndarray) and feats.shape[1] == config.dim
    assert peak < 100, peak


def test_zigzag_of_200k_points_runs_in_bounded_memory_when_allowed():
    limits = InputLimits(max_ink_points=300_000, max_resampled_points=1_000_000)
    ink = Ink([_zigzag(200_000)], "zigzag")
    feats, peak = _peak_mb(lambda: ink_features(ink, INK_CONFIGS[0], limits=limits))
    assert isinstance(feats, np.ndarray) and len(feats) > 200_000
    assert peak < 200, peak  # was 9.3 GB (100000 x 100000 pairs)
    with pytest.raises(InkError, match=r"zigzag: point count 200000 .*InputLimits\.max_ink_points"):
        ink_features(ink, INK_CONFIGS[0])


def test_theil_sen_is_exact_on_lines_and_bounded_beyond():
    def all_pairs(x, y, min_dx):  # the definition: the median of every pairwise slope
        i, j = np.triu_indices(len(x), 1)
        dx, dy = x[j] - x[i], y[j] - y[i]
        ok = np.abs(dx) > min_dx
        return float(np.median(dy[ok] / dx[ok]))

    rng = np.random.default_rng(0)
    for n in (3, 40, 512):
        x = np.sort(rng.uniform(0, 1000, n))
        y = 0.05 * x + rng.normal(0, 5, n)
        assert theil_sen_slope(x, y, 20.0) == all_pairs(x, y, 20.0)
    x = np.arange(200_000.0)
    y = 0.1 * x + np.where(np.arange(200_000) % 2 == 0, 0.0, 100.0)
    slope, peak = _peak_mb(lambda: theil_sen_slope(x, y, 1.0))
    assert abs(slope - 0.1) < 0.01 and peak < 20, peak


def test_million_point_ink_is_refused_before_parsing(tmp_path):
    stroke = "[" + ",".join(["[512.5,-33.25]"] * 1000) + "]"
    path = tmp_path / "million.json"
    path.write_text('{"strokes":[' + ",".join([stroke] * 1000) + "]}")  # 1000 strokes of 1000 points, 15 MB
    err, peak = _peak_mb(lambda: load_ink(path))
    _refused(err, path, "max_ink_points")
    assert peak < 100, peak  # parsing it took 170 MB of Python objects (8.5 GB through the skew estimate)
    with pytest.raises(InkError, match=r"million\.json: file size .*InputLimits\.max_file_bytes"):
        load_ink(path, limits=InputLimits(max_file_bytes=1 << 20))


def test_xml_ink_limits(tmp_path):
    path = tmp_path / "line.xml"
    write_iam_xml(Ink([_zigzag(300)]), path)
    assert load_ink(path).num_points == 300
    _refused(_peak_mb(lambda: load_ink(path, limits=InputLimits(max_ink_points=100)))[0], path, "max_ink_points")
    _refused(_peak_mb(lambda: load_ink(path, limits=InputLimits(max_ink_points=299)))[0], path, "max_ink_points")
    _refused(_peak_mb(lambda: load_ink(path, limits=InputLimits(max_file_bytes=1000)))[0], path, "max_file_bytes")
    write_iam_xml(Ink([_zigzag(2)] * 30), path)
    _refused(_peak_mb(lambda: load_ink(path, limits=InputLimits(max_ink_strokes=20)))[0], path, "max_ink_strokes")


def test_deeply_nested_json_is_refused_without_recursion(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"strokes":' + "[" * 200_000 + "]" * 200_000 + "}")
    err, peak = _peak_mb(lambda: load_ink(path))
    assert "JSON nesting depth 200001" in _refused(err, path, "max_json_depth")
    assert peak < 20, peak
    # Brackets inside strings (escaped quotes included) do not count.
    text = '{"note": "[[[[{{ \\" [[[[ \\\\", "strokes": [[[1, 2], [3, 4]]]}'
    assert json_structure(text.encode()) == (4, 4)  # depth; arrays: strokes, one stroke, two points
    (tmp_path / "note.json").write_text(text)
    assert load_ink(tmp_path / "note.json").num_points == 2


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e999"])
def test_non_finite_coordinates_are_refused(tmp_path, value):
    path = tmp_path / "bad.json"
    path.write_text('{"strokes": [[[1, 2], [' + value + ", 3], [4, 5]]]}")
    with pytest.raises(InkError, match=r"bad\.json: stroke 0 holds NaN or infinite coordinates"):
        load_ink(path)
    xml = tmp_path / "bad.xml"
    xml.write_text('<StrokeSet><Stroke><Point x="1" y="2"/><Point x="nan" y="3"/></Stroke></StrokeSet>')
    with pytest.raises(InkError, match=r"bad\.xml: stroke 0 holds NaN or infinite coordinates"):
        load_ink(xml)


def test_ink_pack_whose_header_claims_gigabytes_is_refused(tmp_path):
    good = tmp_path / "good.npz"
    write_pack(good, [Ink([_zigzag(4)]), Ink([_zigzag(3)])])
    assert load_ink(f"{good}#1").num_points == 3
    _refused(_peak_mb(lambda: load_ink(f"{good}#0", limits=InputLimits(max_ink_points=3)))[0],
             f"{good}#0", "max_ink_points")
    with zipfile.ZipFile(good) as z:
        members = {name: z.read(name) for name in z.namelist()}
    header = members["points.npy"][: members["points.npy"].index(b"\n")]
    claim = header.replace(b"(7, 2)", b"(1000000000, 2)").rstrip(b" ").ljust(len(header))
    members["points.npy"] = members["points.npy"].replace(header, claim)
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert bad.stat().st_size < 2000
    err, peak = _peak_mb(lambda: load_ink(f"{bad}#0"))
    assert isinstance(err, InkError) and str(bad) in str(err) and "claims shape (1000000000, 2)" in str(err), err
    assert peak < 5, peak  # np.load asked for 8 GB
