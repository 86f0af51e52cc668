import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from recog.features.audio import LogMel, warp_frequency
from recog.features.audio_np import log_mel
from recog.features.augment import (
    AugmentConfig,
    channel_curve_db,
    perturb_wave,
    random_eq_db,
    random_lowpass_db,
    spec_augment,
    tempo_stretch,
)
from recog.features.config import AudioFeatureConfig
from recog.features.io import AudioReadError, load_audio
from recog.features.normalization import NORMALIZATIONS, normalize

from .conftest import synth_utterance


def assert_twins_agree(ours: np.ndarray, ref: np.ndarray) -> None:
    """The torch and numpy feature twins agree to float32 rounding.

    The two libraries take different float32 paths (FFT, mel product, log), whose
    rounding grows with the size of the values and differs between CPUs, so the
    tolerance is relative to the largest magnitude: 1e-4 of it (at least 1e-4).
    Raw log-mel values reach -14 (the log floor), normalized ones a few units; a
    real mismatch (a frame shifted, another window or mel scale) is 0.1 or more.
    """
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-4 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("normalize", NORMALIZATIONS)
@pytest.mark.parametrize("rate,n_mels", [(8000, 40), (16000, 80)])
def test_torch_features_match_librosa(normalize, rate, n_mels):
    cfg = AudioFeatureConfig(sample_rate=rate, n_mels=n_mels, normalize=normalize)
    wave = synth_utterance("abc dab", rate=rate)
    ours = LogMel(cfg)(torch.from_numpy(wave)).numpy()
    ref = log_mel(wave, cfg)
    assert ours.shape == ref.shape == (cfg.num_frames(len(wave)), n_mels)
    assert_twins_agree(ours, ref)


def test_features_match_on_real_speech(fsdd_dir):
    cfg = AudioFeatureConfig(sample_rate=8000, n_mels=40)
    wave = load_audio(sorted((fsdd_dir / "recordings").glob("*.wav"))[0], 8000)
    assert_twins_agree(LogMel(cfg)(torch.from_numpy(wave)).numpy(), log_mel(wave, cfg))


@pytest.mark.parametrize("rate,n_mels", [(8000, 40), (16000, 80)])
def test_numpy_stft_and_mel_are_librosas(rate, n_mels):
    """The runtime computes the STFT and the mel filterbank with numpy as librosa does (librosa is
    not imported at run time: it compiles numba functions on import): the same bits."""
    librosa = pytest.importorskip("librosa")
    import warnings

    from recog.features.audio_np import _mel_filters, power_spectrum

    cfg = AudioFeatureConfig(sample_rate=rate, n_mels=n_mels)
    wave = synth_utterance("abc dab", rate=rate)
    for n in (len(wave), len(wave) - 1, cfg.fft_size, cfg.fft_size // 2 - 1, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # n_fft larger than a short clip
            stft = librosa.stft(wave[:n], n_fft=cfg.fft_size, hop_length=cfg.hop_length, win_length=cfg.win_length,
                                window="hann", center=True, pad_mode="constant")
        power = power_spectrum(wave[:n], cfg.fft_size, cfg.hop_length, cfg.win_length)
        np.testing.assert_array_equal(power, (stft.real**2 + stft.imag**2).astype(np.float32))
    ref = librosa.filters.mel(sr=rate, n_fft=cfg.fft_size, n_mels=n_mels, fmin=cfg.f_min, fmax=cfg.top_freq,
                              htk=False, norm="slaney")
    np.testing.assert_array_equal(_mel_filters(rate, cfg.fft_size, n_mels, cfg.f_min, cfg.top_freq), ref)


def test_runtime_features_import_neither_librosa_nor_numba():
    code = ("import sys\nimport numpy as np\nfrom recog.features.audio_np import log_mel\n"
            "from recog.features.config import AudioFeatureConfig\n"
            "log_mel(np.zeros(8000, np.float32), AudioFeatureConfig(sample_rate=8000, n_mels=40))\n"
            "bad = {'librosa', 'numba', 'scipy.signal'} & set(sys.modules)\nassert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_one_normalization_table_serves_numpy_and_torch():
    """`normalize` gives numpy's biased statistics on numpy arrays and torch tensors alike."""
    feats = np.random.default_rng(0).normal(-8.0, 3.0, size=(50, 6)) * np.linspace(0.5, 2.0, 6)
    expected = {
        "utterance": (feats - feats.mean(0)) / (feats.std(0) + 1e-5),
        "scalar": (feats - feats.mean()) / (feats.std() + 1e-5),
        "none": feats,
    }
    assert set(expected) == set(NORMALIZATIONS)
    for kind, want in expected.items():
        np.testing.assert_allclose(normalize(feats, kind), want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(normalize(torch.from_numpy(feats), kind).numpy(), want, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="utterance, scalar, none"):
        normalize(feats, "pcen")


def test_normalization_table_imports_no_torch():
    code = ("import sys\nimport recog.features.normalization, recog.features.audio_np\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_audio_mono_and_resample(tmp_path):
    wave = synth_utterance("ab", rate=16000)
    stereo = np.stack([wave, wave * 0.5], axis=1)
    sf.write(tmp_path / "s.flac", stereo, 16000)
    out = load_audio(tmp_path / "s.flac", 8000)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - len(wave) // 2) <= 1


def test_load_audio_errors_name_the_file(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(AudioReadError, match="bad.wav"):
        load_audio(tmp_path / "bad.wav", 8000)
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(AudioReadError, match="empty"):
        load_audio(tmp_path / "empty.wav", 8000)
    with pytest.raises(AudioReadError, match="not found"):
        load_audio(tmp_path / "missing.wav", 8000)
    sf.write(tmp_path / "short.wav", np.zeros(80, dtype=np.float32), 8000)
    with pytest.raises(AudioReadError, match="too short"):
        load_audio(tmp_path / "short.wav", 8000, min_seconds=0.05)


def test_augmentation_changes_speed_and_masks():
    rng = torch.Generator().manual_seed(0)
    wave = torch.from_numpy(synth_utterance("abcd"))
    fast = perturb_wave(wave, 8000, AugmentConfig(speed=[1.25, 1.25]), rng)
    assert abs(len(fast) - len(wave) / 1.25) < 0.01 * len(wave)
    feats = torch.randn(100, 40)
    masked = spec_augment(feats, AugmentConfig(freq_masks=2, freq_mask_width=5, time_masks=2, time_mask_width=10), rng)
    assert masked.shape == feats.shape
    zero_bands = (masked == 0).all(0).sum().item()
    zero_frames = (masked == 0).all(1).sum().item()
    assert 0 < zero_bands <= 10 or 0 < zero_frames <= 20


def test_tempo_stretch_changes_duration_not_spectrum():
    wave = torch.from_numpy(synth_utterance("abcd"))
    feats = LogMel(AudioFeatureConfig(sample_rate=8000, n_mels=20, normalize="none"))(wave)
    slow = tempo_stretch(feats, 0.8)
    assert slow.shape == (round(feats.shape[0] / 0.8), 20)
    # the first and last frames are kept (up to the rounding of the interpolation position)
    torch.testing.assert_close(slow[[0, -1]], feats[[0, -1]], rtol=1e-5, atol=0)
    # the long-term spectrum (mean over time) stays: same pitch and formants, only slower;
    # log-mel values are in nats, so 0.1 is a level difference of 0.43 dB whatever the input's gain
    assert torch.allclose(slow.mean(0), feats.mean(0), rtol=0, atol=0.1)
    assert torch.equal(tempo_stretch(feats, 1.0), feats)
    ramp = torch.arange(11.0).unsqueeze(1)
    assert torch.allclose(tempo_stretch(ramp, 2.0)[:, 0], torch.arange(0.0, 11.0, 2.0))


def test_frequency_warp_moves_energy():
    spec = torch.zeros(129, 3)
    spec[40] = 1.0
    up = warp_frequency(spec, 1.1)
    assert up[:, 0].argmax().item() == 44


def test_scalar_normalization_keeps_spectral_shape():
    """"scalar" removes gain only: band differences survive, a louder copy gives the same features."""
    rng = np.random.default_rng(1)
    wave = (0.1 * rng.standard_normal(8000)).astype(np.float32)
    cfg = AudioFeatureConfig(sample_rate=8000, n_mels=40, normalize="scalar")
    quiet = LogMel(cfg)(torch.from_numpy(wave)).numpy()
    loud = LogMel(cfg)(torch.from_numpy(wave * 4)).numpy()
    assert np.abs(quiet - loud).max() < 1e-2  # up to the log floor at the padded edges
    assert abs(quiet.mean()) < 1e-4 and abs(quiet.std() - 1) < 1e-3
    per_band = LogMel(AudioFeatureConfig(sample_rate=8000, n_mels=40, normalize="utterance"))(torch.from_numpy(wave))
    assert np.abs(per_band.numpy().mean(0)).max() < 1e-4  # per band mean removed
    assert np.abs(quiet.mean(0)).max() > 0.05  # scalar keeps the band means


def test_random_eq_is_smooth_and_bounded():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        curve = random_eq_db(129, 12.0, gen)
        assert curve.shape == (129,) and curve.abs().max() <= 12.0 * (1 + 1e-6)  # up to float32 rounding
        assert (curve[1:] - curve[:-1]).abs().max() < 0.25 * 12.0  # smooth: no bin-to-bin jumps


def test_random_lowpass_cuts_the_top_band_only():
    gen = torch.Generator().manual_seed(0)
    curve = random_lowpass_db(129, 8000, 2500.0, gen)
    freqs = torch.linspace(0, 4000, 129)
    assert curve[freqs < 2000].abs().max() < 0.5  # pass band untouched
    assert curve[freqs > 3800].max() < -30.0  # stop band down by >30 dB
    cfg = AugmentConfig(lowpass_prob=1.0, lowpass_hz=[2000.0, 3000.0])
    assert channel_curve_db(129, 8000, cfg, gen).min() < -30.0
    assert channel_curve_db(129, 8000, AugmentConfig(), gen) is None  # off by default
