"""The torch-free runtime: no torch loaded, features equal to training, batching, long recordings."""

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import torch

from recog.data.manifest import read_manifest
from recog.decode import DecoderConfig, Word
from recog.decode.greedy import greedy_decoder
from recog.features.audio import LogMel
from recog.runtime import Recognizer
from recog.runtime.backends.onnx import OnnxAcousticModel
from recog.runtime.backends.torch_checkpoint import TorchAcousticModel
from recog.runtime.batching import length_buckets
from recog.runtime.chunking import StreamingDecoder, plan_windows
from recog.runtime.formats import ctm_lines, srt_text
from recog.runtime.model_file import ModelFormatError
from recog.text import Alphabet

from . import runtime_support
from .conftest import ROOT
from .runtime_support import ORACLE_TEXTS, oracle_wave, write_long_recording

# shared fixtures (built once per test run)
oracle_ckpt = runtime_support.oracle_ckpt
oracle_corpus = runtime_support.oracle_corpus
oracle_onnx = runtime_support.oracle_onnx


def test_runtime_and_cli_load_no_torch(oracle_onnx, oracle_corpus):
    wav = sorted((oracle_corpus.parent / "wav").glob("*.wav"))[0]
    code = f"""
import sys
from recog.runtime import Recognizer
t = Recognizer.from_onnx({str(oracle_onnx)!r}, threads=1).transcribe([{str(wav)!r}])[0]
assert t.text == "ab ca", t
from recog.cli import main
assert main(["transcribe", "--model", {str(oracle_onnx)!r}, {str(wav)!r}, "--quiet-progress"]) == 0
bad = [m for m in sys.modules if m.split(".")[0] in ("torch", "torchaudio")]
assert not bad, bad
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_runtime_features_match_training_features(oracle_ckpt, oracle_onnx):
    from recog.model.checkpoint import load_model

    # the feature config comes from the ONNX metadata and must be the checkpoint's
    _, config, *_ = load_model(oracle_ckpt)
    onnx_model = OnnxAcousticModel(oracle_onnx)
    features = onnx_model.info.features
    assert features == config.features and config.features.normalize == "none"
    wave = oracle_wave("abc cab", seed=7)  # tones, quiet and faint noise
    for normalize in ("none", "utterance"):
        config.features.normalize = features.normalize = normalize
        ours = onnx_model.modality.featurize(wave, features)
        ref = LogMel(config.features)(torch.from_numpy(wave)).numpy()
        # float32 rounding differs between CPUs: the tolerance scales with the values (raw log-mel ~ -14)
        assert ours.shape == ref.shape and np.abs(ours - ref).max() < 1e-4 * max(1.0, np.abs(ref).max()), normalize


def test_onnx_and_checkpoint_give_the_same_transcripts(oracle_onnx, oracle_ckpt, oracle_corpus):
    paths = [str(u.path) for u in read_manifest(oracle_corpus)]
    onnx_rec = Recognizer.from_onnx(oracle_onnx, threads=1)
    torch_model = TorchAcousticModel.from_checkpoint(oracle_ckpt, threads=1, device="cpu")
    torch_rec = Recognizer(torch_model)
    a, b = onnx_rec.transcribe(paths), torch_rec.transcribe(paths)
    assert [t.text for t in a] == [t.text for t in b] == ORACLE_TEXTS
    assert [t.score for t in a] == pytest.approx([t.score for t in b], abs=1e-3)
    assert a[0].words[0].word == "ab" and a[0].words[0].start < a[0].words[0].end <= a[0].words[1].start


def test_bucketed_batches_equal_one_at_a_time(oracle_onnx):
    model = OnnxAcousticModel(oracle_onnx, threads=1, max_batch_frames=300)
    feats = [model.modality.featurize(oracle_wave(t, seed=i), model.info.features)
             for i, t in enumerate(["a", "abc cab ab", "b c", "ca"])]
    together = model.log_probs(feats)
    for f, lp in zip(feats, together, strict=True):
        # log-probs reach -30: relative tolerance (another batch shape may take another GEMM kernel on another CPU)
        np.testing.assert_allclose(lp, model.log_probs([f])[0], rtol=1e-5, atol=1e-5)
    lengths = [5, 100, 40, 300, 41, 7]
    batches = length_buckets(lengths, max_frames=120, max_batch=3)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert all(len(b) * max(lengths[i] for i in b) <= 120 or len(b) == 1 for b in batches)
    assert batches[0] == [3]  # longest alone


def test_model_errors_name_the_file(tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ModelFormatError, match="x.onnx"):
        OnnxAcousticModel(bad)
    with pytest.raises(ModelFormatError, match="not found"):
        OnnxAcousticModel(tmp_path / "missing.onnx")


def test_windows_tile_the_recording():
    windows = list(plan_windows(num_samples=10_000, frame_samples=10, chunk_frames=300, context_frames=50))
    kept, frame = [], 0
    for w in windows:
        assert w.start == w.start_frame * 10 and w.stop - w.start <= 3000
        first = w.start_frame + w.keep_from
        end = w.start_frame + (w.keep_to if w.keep_to is not None else (w.stop - w.start) // 10)
        assert first == frame
        kept.append((first, end))
        frame = end
    assert frame == 1000 and windows[-1].stop == 10_000
    with pytest.raises(ValueError):
        list(plan_windows(100, 10, 10, 5))


def test_streaming_decoder_equals_whole_sequence_greedy():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 4, 5000)
    frames[rng.random(5000) < 0.6] = 0  # mostly blank, with pauses and repeats
    frames[1000:1800] = 2  # one token held longer than two segments: a forced cut
    lp = np.full((5000, 4), -9.0, np.float32)
    lp[np.arange(5000), frames] = -1e-3
    decoder = greedy_decoder(Alphabet.from_string(" ab"), 25.0)
    whole = decoder(lp)
    stream = StreamingDecoder(decoder, segment_frames=300)
    for start in range(0, 5000, 170):
        stream.push(lp[start : start + 170])
        assert stream._buffered < 2 * 300 + 170  # bounded buffer
    tokens, starts, score = stream.finish()
    assert tokens == whole.tokens and starts == whole.token_frames
    assert score == pytest.approx(whole.score, rel=1e-5)


def _peak_transcribing(rec: Recognizer, path) -> tuple[float, object]:
    tracemalloc.start()
    [t] = rec.transcribe([str(path)])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6, t


def test_twenty_minute_recording_is_exact_and_memory_is_bounded(oracle_onnx, tmp_path):
    rec = Recognizer.from_onnx(oracle_onnx, threads=1)
    short, long = tmp_path / "4min.wav", tmp_path / "20min.wav"
    write_long_recording(short, "ab ca bc", 4 * 60)
    reps, expected = write_long_recording(long, "ab ca bc", 20 * 60)
    peak_short, _ = _peak_transcribing(rec, short)
    peak_long, t = _peak_transcribing(rec, long)
    assert t.error is None and t.duration == pytest.approx(sf.info(str(long)).duration, abs=0.01)
    assert t.text == expected and len(t.words) == 3 * reps  # stitched across 50 windows without a slip
    assert 1190 < t.words[-1].end <= t.duration
    # the whole file as float32 would be 38 MB; the peak does not grow with the length
    assert peak_long < peak_short + 3.0, (peak_short, peak_long)
    assert peak_long < 38.0


def test_beam_decoder_gives_word_times(oracle_onnx, oracle_corpus):
    rec = Recognizer.from_onnx(oracle_onnx, threads=1, decoder=DecoderConfig(kind="beam", beam_width=8))
    wav = sorted((oracle_corpus.parent / "wav").glob("*.wav"))[0]
    [t] = rec.transcribe([wav])
    assert t.text == "ab ca" and [w.word for w in t.words] == ["ab", "ca"]


def test_ctm_and_srt_formats():
    words = [Word("hello", 0.5, 0.9, 0.875), Word("world", 1.0, 1.4), Word("again", 3.0, 3.5)]
    assert ctm_lines("dir/my file.wav", words)[0] == "dir/my_file 1 0.500 0.400 hello 0.8750\n"
    srt = srt_text(words)
    assert srt == ("1\n00:00:00,500 --> 00:00:01,400\nhello world\n\n"
                   "2\n00:00:03,000 --> 00:00:03,500\nagain\n")
    assert srt_text([]) == ""
