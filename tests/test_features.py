import numpy as np
import pytest
import soundfile as sf
import torch

from recog.features.audio import LogMel, warp_frequency
from recog.features.audio_np import log_mel
from recog.features.augment import (
    AugmentConfig,
    channel_curve_db,
    expand_downward,
    perturb_wave,
    random_eq_db,
    random_lowpass_db,
    random_shelf_db,
    spec_augment,
    tempo_stretch,
    trim_silence,
)
from recog.features.config import AudioFeatureConfig
from recog.features.io import AudioReadError, load_audio

from .conftest import synth_utterance


@pytest.mark.parametrize("normalize", ["utterance", "scalar", "tilt", "pcen", "none"])
@pytest.mark.parametrize("rate,n_mels", [(8000, 40), (16000, 80)])
def test_torch_features_match_librosa(normalize, rate, n_mels):
    cfg = AudioFeatureConfig(sample_rate=rate, n_mels=n_mels, normalize=normalize)
    wave = synth_utterance("abc dab", rate=rate)
    ours = LogMel(cfg)(torch.from_numpy(wave)).numpy()
    ref = log_mel(wave, cfg)
    assert ours.shape == ref.shape == (cfg.num_frames(len(wave)), n_mels)
    assert np.abs(ours - ref).max() < 1e-4


def test_features_match_on_real_speech(fsdd_dir):
    cfg = AudioFeatureConfig(sample_rate=8000, n_mels=40)
    wave = load_audio(next((fsdd_dir / "recordings").glob("*.wav")), 8000)
    assert np.abs(LogMel(cfg)(torch.from_numpy(wave)).numpy() - log_mel(wave, cfg)).max() < 1e-4


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
    assert torch.equal(slow[0], feats[0]) and torch.equal(slow[-1], feats[-1])
    # the long-term spectrum (mean over time) stays: same pitch and formants, only slower
    assert torch.allclose(slow.mean(0), feats.mean(0), atol=0.1)
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


def test_tilt_normalization_removes_a_microphone_slope():
    """"tilt" gives the same features for a recording and a copy through a sloped channel."""
    wave = torch.from_numpy(synth_utterance("abc dab", rate=8000))
    cfg = AudioFeatureConfig(sample_rate=8000, n_mels=40, normalize="tilt")
    logmel = LogMel(cfg)
    bins = logmel.config.fft_size // 2 + 1
    slope_db = torch.linspace(6.0, -18.0, bins)  # a dull microphone: -24 dB from 0 Hz to 4 kHz
    flat, dull = logmel(wave), logmel(wave, eq_db=slope_db)
    scalar = LogMel(AudioFeatureConfig(sample_rate=8000, n_mels=40, normalize="scalar"))
    before = (scalar(wave) - scalar(wave, eq_db=slope_db)).abs().mean()
    after = (flat - dull).abs().mean()
    assert after < 0.25 * before  # the slope is removed, up to the mel bands' uneven spacing
    assert abs(float(flat.mean())) < 1e-4 and abs(float(flat.std()) - 1) < 1e-3


def test_random_eq_is_smooth_and_bounded():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        curve = random_eq_db(129, 12.0, gen)
        assert curve.shape == (129,) and curve.abs().max() <= 12.0 + 1e-5
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


def test_random_shelf_tilts_the_top_band_and_keeps_it():
    freqs = torch.linspace(0, 4000, 129)
    curve = random_shelf_db(129, 8000, -12.0, 1000.0)
    assert curve[freqs < 300].abs().max() < 0.8  # low band (nearly) untouched
    assert abs(float(curve[torch.argmin((freqs - 1000.0).abs())]) + 6.0) < 0.3  # half the gain at the corner
    assert curve[freqs > 2500].min() > -12.0 and curve[freqs > 2500].max() < -11.5  # a shelf, not a cut
    assert (curve[1:] <= curve[:-1] + 1e-6).all()  # monotone for a negative gain
    gen = torch.Generator().manual_seed(0)
    cfg = AugmentConfig(shelf_db=[-18.0, -6.0], shelf_hz=[800.0, 1200.0])
    tops = [float(channel_curve_db(129, 8000, cfg, gen)[-1]) for _ in range(50)]
    assert min(tops) >= -18.0 and max(tops) <= -6.0 + 0.1 and max(tops) - min(tops) > 4.0  # drawn in the range


def test_trim_and_pad_change_only_the_silence_around_the_speech():
    speech = 0.1 * torch.randn(4000, generator=torch.Generator().manual_seed(1))
    padded = torch.cat([torch.zeros(800), speech, 1e-4 * torch.ones(1200)])  # 100 ms before, 150 ms of -80 dB after
    trimmed = trim_silence(padded, 8000)
    assert trimmed.shape[0] == 4000 and torch.equal(trimmed, speech)
    assert torch.equal(trim_silence(speech[:40], 8000), speech[:40])  # under two frames: untouched
    gen = torch.Generator().manual_seed(0)
    cfg = AugmentConfig(trim_prob=1.0, pad_s=[0.05, 0.3])
    lengths = []
    for _ in range(20):
        out = perturb_wave(padded, 8000, cfg, gen)
        extra = out.shape[0] - 4000
        assert 2 * 400 <= extra <= 2 * 2400  # 50..300 ms each side, after the trim
        lengths.append(extra)
        edge = torch.cat([out[:400], out[-400:]])
        assert 0 < edge.abs().max() < 0.02  # faint noise (<= -50 dBFS rms), never digital silence
    assert len(set(lengths)) > 10


def test_expander_pushes_down_only_the_frames_under_its_knee():
    gen = torch.Generator().manual_seed(2)
    loud = 0.3 * torch.randn(2400, generator=gen)  # 300 ms at about -10 dBFS
    faint = 0.003 * torch.randn(1600, generator=gen)  # 200 ms, 40 dB lower (a weak fricative)
    wave = torch.cat([faint, loud])
    out = expand_downward(wave, 8000, knee_db=20.0, ratio=1.0)
    assert out.shape == wave.shape

    def level(x: torch.Tensor) -> float:
        return float(10 * torch.log10(x.pow(2).mean()))

    assert abs(level(out[2000:]) - level(wave[2000:])) < 0.01  # above the knee: unchanged
    assert 18.0 < level(wave[:1500]) - level(out[:1500]) < 22.0  # 40 dB under the top, 20 under the knee: -20 dB
    harsh = expand_downward(wave, 8000, knee_db=5.0, ratio=3.0)
    assert 39.0 < level(wave[:1500]) - level(harsh[:1500]) <= 40.01  # the cut stops at 40 dB
    cfg = AugmentConfig(expand_prob=1.0, expand_knee_db=[20.0, 20.0], expand_ratio=[1.0, 1.0])
    assert torch.allclose(perturb_wave(wave, 8000, cfg, torch.Generator().manual_seed(0)), out)
