"""NeMo segment rows (`offset` + `duration`): only the segment is read, in training, evaluation and transcription."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from recog.data.dataset import AudioDataset
from recog.data.manifest import ManifestError, read_manifest
from recog.features.audio import LogMel
from recog.features.config import AudioFeatureConfig
from recog.features.io import AudioReadError, load_audio, segment_address, split_segment_address
from recog.runtime import Recognizer
from recog.runtime.batch_job import expand_inputs
from recog.runtime.evaluation import evaluate
from recog.text import Alphabet, TextNormalizer

from . import runtime_support
from .conftest import RATE
from .runtime_support import oracle_wave

oracle_ckpt = runtime_support.oracle_ckpt
oracle_onnx = runtime_support.oracle_onnx

FIRST, SECOND = "ab ca", "cb"


@pytest.fixture
def two_segments(tmp_path):
    """long.wav = FIRST, 0.4 s of quiet, SECOND, 0.3 s of quiet (PCM 16); segments.jsonl names the two."""
    a, b = oracle_wave(FIRST, seed=1), oracle_wave(SECOND, seed=2)
    wave = np.concatenate([a, np.zeros(int(0.4 * RATE), np.float32), b, np.zeros(int(0.3 * RATE), np.float32)])
    sf.write(tmp_path / "long.wav", wave, RATE, subtype="PCM_16")
    second_at = (len(a) + int(0.4 * RATE)) / RATE
    rows = [{"audio_filepath": "long.wav", "offset": 0.0, "duration": len(a) / RATE, "text": FIRST},
            {"audio_filepath": "long.wav", "offset": second_at, "duration": len(b) / RATE, "text": SECOND}]
    manifest = tmp_path / "segments.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest, rows


def _expected(path, row, rate=RATE):
    whole, _ = sf.read(path, dtype="float32")
    first = round(row["offset"] * rate)
    return whole[first : first + round(row["duration"] * rate)]


def test_load_audio_reads_only_the_segment(two_segments):
    manifest, rows = two_segments
    path = manifest.parent / "long.wav"
    for row in rows:
        start, end = row["offset"], row["offset"] + row["duration"]
        got = load_audio(path, RATE, start=start, end=end)
        np.testing.assert_array_equal(got, _expected(path, row))
        np.testing.assert_array_equal(load_audio(segment_address(path, start, end), RATE), got)
    assert split_segment_address(f"{path}#t=1.5,2.25") == (str(path), 1.5, 2.25)
    assert split_segment_address(f"{path}#t=1.5") == (str(path), 1.5, None)
    assert split_segment_address(str(path)) is None
    tail = load_audio(f"{path}#t=1.0", RATE)  # to the end of the file
    assert len(tail) == sf.info(str(path)).frames - RATE
    with pytest.raises(AudioReadError, match=r"long\.wav#t=99\.0,100\.0: segment starts at 99\.0 s, past the end"):
        load_audio(path, RATE, start=99.0, end=100.0)
    with pytest.raises(AudioReadError, match="bad segment"):
        load_audio(path, RATE, start=1.0, end=0.5)
    with pytest.raises(AudioReadError, match="missing.wav: file not found"):
        load_audio(manifest.parent / "missing.wav", RATE, start=0.0, end=1.0)


def test_manifest_rows_with_offset_are_segments(two_segments, tmp_path):
    manifest, rows = two_segments
    first, second = read_manifest(manifest)
    assert first.offset == 0.0 and second.offset == rows[1]["offset"] and "offset" not in second.extra
    assert second.end == pytest.approx(rows[1]["offset"] + rows[1]["duration"])
    assert second.address == segment_address(second.path, second.offset, second.end)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"audio_filepath": "long.wav", "offset": -1, "text": "x"}) + "\n")
    with pytest.raises(ManifestError, match=r"bad\.jsonl:1: 'offset' must be a finite number >= 0"):
        read_manifest(bad)
    bad.write_text(json.dumps({"ink_filepath": "a.json", "offset": 1, "text": "x"}) + "\n")
    with pytest.raises(ManifestError, match="'offset' applies to audio rows only"):
        read_manifest(bad)


@pytest.mark.parametrize("preload", [False, True])
def test_training_items_are_the_segments(two_segments, preload):
    manifest, rows = two_segments
    features = AudioFeatureConfig(sample_rate=RATE, n_mels=20)
    ds = AudioDataset(read_manifest(manifest), features, Alphabet.from_string(" abc"), TextNormalizer(),
                      preload=preload)
    logmel = LogMel(features)
    assert ds.lengths() == [features.num_frames(round(r["duration"] * RATE)) for r in rows]
    for i, row in enumerate(rows):
        feats, targets = ds[i]
        expected = logmel(torch.from_numpy(_expected(manifest.parent / "long.wav", row)))
        torch.testing.assert_close(feats, expected, rtol=0, atol=1e-5)
        assert ds.alphabet.decode(targets.tolist()) == row["text"]
        assert ds.source(i).startswith(str(manifest.parent / "long.wav") + "#t=")


def test_evaluation_and_transcription_read_each_segment(two_segments, oracle_onnx):
    manifest, rows = two_segments
    result = evaluate(Recognizer.from_onnx(oracle_onnx), manifest, progress=False)
    assert result.utterances == 2 and result.wer == 0.0 and not result.failed
    assert [hyp for _, _, hyp in result.rows] == [FIRST, SECOND]
    assert result.audio_seconds == pytest.approx(sum(r["duration"] for r in rows), abs=1e-3)
    addresses = expand_inputs([str(manifest)])
    assert len(addresses) == 2 and all("#t=" in a for a in addresses)
    # a segment longer than the window is read window by window from the file
    windowed = Recognizer.from_onnx(oracle_onnx, chunk_seconds=0.6, context_seconds=0.2)
    assert windowed._is_long(addresses[0])
    texts = [t.text for t in windowed.transcribe(addresses)]
    assert texts == [FIRST, SECOND]
