"""The pieces of the LibriSpeech miniature: the sentence grammar, the plan (speakers, splits,
voices), the cache and its guard, and the LM text writer. The recipe run on a generated
miniature is tests/test_librispeech_recipe.py."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipelines.librispeech import lm_text, miniature, sentences

from .conftest import ROOT

HAVE_ENGINE = bool(shutil.which("espeak-ng") or shutil.which("flite"))
FAKE_VOICES = [f"espeak:en-us+v{i}" for i in range(20)] + ["flite:kal", "flite:slt"]


def test_sentences_follow_librispeech_conventions_and_repeat_for_a_seed() -> None:
    texts = sentences.sentences(300, seed=4)
    assert texts == sentences.sentences(300, seed=4) and texts != sentences.sentences(300, seed=5)
    assert all(re.fullmatch(r"[A-Z']+( [A-Z']+)*", t) for t in texts)
    words = {w for t in texts for w in t.split()}
    assert words <= sentences.vocabulary() and len(words) > 150
    assert set("".join(texts)) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ' ")  # every letter of the alphabet occurs
    assert any("'" in t for t in texts)
    lengths = [len(t.split()) for t in texts]
    assert 4 <= min(lengths) and max(lengths) <= 30


def test_plan_has_disjoint_speakers_distinct_voices_and_round_robin_chapters() -> None:
    speakers, plan = miniature.plan_utterances(100, seed=0, voices=FAKE_VOICES)
    assert (speakers, plan) == miniature.plan_utterances(100, seed=0, voices=FAKE_VOICES)
    assert len(speakers) == sum(n for _, _, n in miniature.SPLITS)
    assert len({s.id for s in speakers}) == len(speakers)
    assert len({s.voice.speaker for s in speakers}) == len(speakers)
    assert speakers[0].voice.speaker.startswith("flite:")  # the first training speaker, when flite exists
    counts = {split: sum(u.split == split for u in plan) for split, _, _ in miniature.SPLITS}
    assert counts == {"train-clean-100": 70, "dev-clean": 15, "test-clean": 15}
    by_split = {split: {u.speaker for u in plan if u.split == split} for split in counts}
    assert sum(len(s) for s in by_split.values()) == len(set().union(*by_split.values()))  # disjoint
    for s in speakers:
        mine = [u for u in plan if u.speaker == s.id]
        assert {u.chapter for u in mine} == set(s.chapters) and all(u.voice == s.voice for u in mine)
    ids = [u.id for u in plan]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"\d+-\d+-\d{4}", i) for i in ids)
    assert all(miniature.PAD_S[0] <= p <= miniature.PAD_S[1] for u in plan for p in u.pad_s)


def test_too_few_utterances_is_a_clear_error() -> None:
    n = miniature.min_utterances()
    miniature.plan_utterances(n, seed=0, voices=FAKE_VOICES)
    with pytest.raises(ValueError, match=f"at least {n}"):
        miniature.plan_utterances(n - 1, seed=0, voices=FAKE_VOICES)


def test_a_folder_it_did_not_write_is_never_cleared(tmp_path: Path) -> None:
    (tmp_path / "dev-clean" / "84" / "121123").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="was not written by this generator"):
        miniature._clear_splits(tmp_path)
    assert (tmp_path / "dev-clean" / "84" / "121123").is_dir()


@pytest.mark.skipif(not HAVE_ENGINE, reason="neither espeak-ng nor flite is installed (make sysdeps)")
def test_generate_writes_the_layout_and_a_second_run_is_cached(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    n = miniature.min_utterances()
    summary = miniature.generate(tmp_path, n=n, seed=1)
    assert sum(s["utterances"] for s in summary.values()) == n
    flacs = sorted(tmp_path.glob("*/*/*/*.flac"))
    transcripts = [line.split(" ", 1)[0] for t in tmp_path.glob("*/*/*/*.trans.txt")
                   for line in t.read_text().splitlines()]
    assert sorted(f.stem for f in flacs) == sorted(transcripts) and len(flacs) == n
    params = json.loads((tmp_path / miniature.PARAMS_FILE).read_text())
    assert len(params["speakers"]) == sum(k for _, _, k in miniature.SPLITS)
    before = {f: f.stat().st_mtime_ns for f in flacs}
    assert miniature.generate(tmp_path, n=n, seed=1) == summary
    assert "cached" in capsys.readouterr().out
    assert {f: f.stat().st_mtime_ns for f in flacs} == before


def test_lm_text_is_the_normalized_transcripts(tmp_path: Path) -> None:
    manifest = tmp_path / "train.jsonl"
    manifest.write_text('{"audio_filepath": "a.flac", "text": "THE KING\'S HORSE"}\n\n'
                        '{"audio_filepath": "b.flac", "text": "A  LONG ROAD"}\n')
    out = tmp_path / "lm.txt"
    config = ROOT / "pipelines" / "librispeech" / "config.toml"
    assert lm_text.main([str(config), str(manifest), "-o", str(out)]) == 0
    assert out.read_text().splitlines() == ["the king's horse", "a long road"]
    manifest.write_text('{"audio_filepath": "a.flac"}\n')
    with pytest.raises(ValueError, match=r"train.jsonl:1: not a manifest row"):
        lm_text.normalized_lines(manifest, lambda t: t)


def test_voice_settings_are_drawn_within_the_engines_ranges() -> None:
    from pipelines import speech_synth

    rng = np.random.default_rng(0)
    for _ in range(50):
        v = speech_synth.draw_voice(rng, "espeak:en-us+m3")
        assert speech_synth.ESPEAK_WPM[0] <= v.rate <= speech_synth.ESPEAK_WPM[1]
        assert speech_synth.ESPEAK_GAP[0] <= v.gap <= speech_synth.ESPEAK_GAP[1]
        f = speech_synth.draw_voice(rng, "flite:slt")
        assert f.gap == 0 and speech_synth.FLITE_STRETCH[0] <= f.rate <= speech_synth.FLITE_STRETCH[1]
