"""Tests for pipelines.digits.synth (synthetic digit strings) and the voices of pipelines.speech_synth."""

import json
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

if not (shutil.which("espeak-ng") or shutil.which("flite")):
    pytest.skip("neither espeak-ng nor flite is installed", allow_module_level=True)

from pipelines import speech_synth  # noqa: E402
from pipelines.digits import synth  # noqa: E402


def _rows(manifest: Path) -> list[dict]:
    return [json.loads(line) for line in manifest.read_text().splitlines()]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six utterances generated once for the module; returns the manifest."""
    return synth.generate(tmp_path_factory.mktemp("synth"), n=6, seed=3)


def test_manifest_and_audio(small: Path) -> None:
    rows = _rows(small)
    assert len(rows) == 6
    for row in rows:
        assert set(row) == {"audio_filepath", "duration", "text", "speaker"}
        assert row["speaker"].split(":")[0] in ("espeak", "flite")
        words = row["text"].split()
        assert 1 <= len(words) <= synth.MAX_WORDS and set(words) <= set(synth.DIGITS)
        path = small.parent / row["audio_filepath"]
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (8000, 1, "PCM_16")
        assert row["duration"] == pytest.approx(info.frames / 8000, abs=1e-3)
        x, _ = sf.read(path)
        lead = round(synth.PAD_S[0] * 8000)  # the padding is digital silence
        assert not x[:lead].any() and not x[-lead:].any()
        peak_db = 20 * np.log10(np.abs(x).max())
        assert synth.PEAK_DBFS[0] - 0.1 < peak_db < synth.PEAK_DBFS[1] + 0.1  # spoken, not clipped
        assert 0.1 + 0.12 * len(words) < row["duration"] < 0.3 + 0.8 * len(words)


def test_second_run_is_cached(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.stat().st_mtime_ns for p in (small.parent / "wav").iterdir()}
    assert synth.generate(small.parent, n=6, seed=3) == small
    assert "cached" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (small.parent / "wav").iterdir()} == before


def test_plan_is_deterministic_and_uses_every_voice() -> None:
    voices = synth.find_voices()
    plan = synth.plan_utterances(1200, seed=0, voices=voices)
    assert plan == synth.plan_utterances(1200, seed=0, voices=voices)
    assert plan != synth.plan_utterances(1200, seed=1, voices=voices)
    assert {u.speaker for u in plan} == set(voices)
    single = sum(len(u.text.split()) == 1 for u in plan) / len(plan)
    assert 0.15 < single < 0.3


def test_unknown_voice_is_skipped_with_a_warning(tmp_path: Path) -> None:
    good = synth.find_voices()[0]
    bad = "espeak:en-us+no-such-variant" if good.startswith("espeak") else "flite:no-such-voice"
    with pytest.warns(UserWarning, match="no-such-"):
        manifest = synth.generate(tmp_path, n=3, seed=0, voices=[good, bad])
    assert {r["speaker"] for r in _rows(manifest)} == {good}


def test_no_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speech_synth, "BINARIES", {"espeak": "no-such-espeak", "flite": "no-such-flite"})
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng flite"):
        synth.find_voices()


def test_one_engine_missing_warns_and_uses_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    present = "espeak" if shutil.which("espeak-ng") else "flite"
    absent = {"espeak": "flite", "flite": "espeak"}[present]
    monkeypatch.setitem(speech_synth.BINARIES, absent, "no-such-binary")
    with pytest.warns(UserWarning, match="no-such-binary not found"):
        voices = synth.find_voices()
    assert voices and all(v.startswith(present + ":") for v in voices)
    assert all(u.speaker.startswith(present) for u in synth.plan_utterances(20, 0, voices))


def test_failing_engine_rows_are_skipped_then_fatal(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that fails on every text containing "seven": those rows are dropped with
    a warning naming the voice; past max_failed_fraction the run fails."""
    fakes = {}
    for engine, binary in speech_synth.BINARIES.items():
        if real := shutil.which(binary):
            fake = tmp_path / f"fake-{binary}"
            fake.write_text('#!/bin/sh\nfor a in "$@"; do case "$a" in *seven*) '
                            f'echo "synthesis crashed" >&2; exit 3;; esac; done\nexec {real} "$@"\n')
            fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
            fakes[engine] = str(fake)
    monkeypatch.setattr(speech_synth, "BINARIES", fakes)
    n, seed = 8, 0
    doomed = [u for u in synth.plan_utterances(n, seed, synth.find_voices()) if "seven" in u.text]
    assert 0 < len(doomed) < n, "pick a seed that fails some utterances, not all"
    with pytest.warns(UserWarning, match=r"synthesis crashed") as record:
        manifest = synth.generate(tmp_path / "ok", n=n, seed=seed, max_failed_fraction=1.0)
    messages = " ".join(str(w.message) for w in record)
    assert all(u.speaker in messages for u in doomed)
    rows = _rows(manifest)
    assert len(rows) == n - len(doomed) and not any("seven" in r["text"] for r in rows)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match=f"{len(doomed)} of {n}"):
        synth.generate(tmp_path / "strict", n=n, seed=seed, max_failed_fraction=0.0)
    assert not (tmp_path / "strict" / "synth.jsonl").exists()
