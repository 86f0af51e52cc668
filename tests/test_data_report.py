"""Bad data never stops a run: each unusable utterance is reported once and skipped; NaN steps are skipped."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from recog.cli import main
from recog.config import load_config
from recog.train.data_report import TooManySkipsError, ctc_min_frames
from recog.train.trainer import Trainer

from .conftest import RATE, TEXTS, synth_utterance, tone_config_toml

# reason -> the broken files of that reason (name: text); written by `broken_corpus`
BROKEN = {
    "unreadable": {"garbage.wav": "ab", "missing.wav": "cd"},
    "empty": {"no_samples.wav": "ab", "no_text.wav": ""},
    "silent": {"zeros.wav": "ab"},
    "too_short": {"short.wav": "abcdabcd"},
    "unknown_characters": {"unknown.wav": "abx"},
}


@pytest.fixture
def broken_corpus(tmp_path, tone_corpus):
    """The tone corpus, one upper-case line the normalizer maps, and one broken file per case above."""
    wav = tone_corpus.parent / "wav"
    rows = [json.loads(line) for line in tone_corpus.read_text().splitlines()]
    for row in rows:
        row["audio_filepath"] = str(tone_corpus.parent / row["audio_filepath"])
    bad = tmp_path / "bad"
    bad.mkdir()
    sf.write(bad / "mapped.wav", synth_utterance("ab", seed=9), RATE)
    rows.append({"audio_filepath": str(bad / "mapped.wav"), "text": "AB"})  # "ab" after lower-casing
    (bad / "garbage.wav").write_bytes(b"RIFF....not audio at all")
    sf.write(bad / "no_samples.wav", np.zeros(0, dtype=np.float32), RATE)
    sf.write(bad / "no_text.wav", synth_utterance("ab"), RATE)
    sf.write(bad / "zeros.wav", np.zeros(RATE, dtype=np.float32), RATE)
    sf.write(bad / "short.wav", synth_utterance("a")[:400], RATE)  # 50 ms: 3 output frames for 8 letters
    sf.write(bad / "unknown.wav", synth_utterance("ab"), RATE)
    for files in BROKEN.values():
        rows += [{"audio_filepath": str(bad / name), "text": text} for name, text in files.items()]
    manifest = tmp_path / "mixed.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert wav.is_dir()
    return manifest


def _config(tmp_path, manifest, extra="", epochs=1):
    path = tmp_path / "c.toml"
    path.write_text(tone_config_toml(manifest, tmp_path / "exp", epochs, extra) + "[text.normalizer]\nlowercase = true\n")
    return path


def test_ctc_needs_a_blank_between_repeated_tokens():
    assert ctc_min_frames([]) == 0
    assert ctc_min_frames([1, 2, 3]) == 3
    assert ctc_min_frames([1, 1, 2, 2, 2]) == 8


@pytest.mark.parametrize("preload", [False, True])
def test_each_bad_utterance_is_reported_once_and_skipped(tmp_path, broken_corpus, capsys, preload):
    # Read on access (the default), silence is found when the file is first decoded, in the
    # first epoch; preloaded, every file is decoded before training. Both report each file once.
    overrides = [f"data.preload={str(preload).lower()}", "train.num_workers=0"]
    trainer = Trainer(load_config(_config(tmp_path, broken_corpus, "max_skip_fraction = 0.5"), overrides))
    report = json.loads((tmp_path / "exp" / "data_report.json").read_text())
    found_later = set() if preload else {"silent"}
    for split in ("train", "dev/mixed"):
        assert report["splits"][split]["skipped"] == 7 - len(found_later)
        assert set(report["splits"][split]["reasons"]) == set(BROKEN) - found_later
    assert len(trainer.train_indices) == len(TEXTS) + 1 + len(found_later)
    record = trainer.run()
    assert record["epoch"] == 1 and record["skipped_steps"] == 0
    err = capsys.readouterr().err
    report = json.loads((tmp_path / "exp" / "data_report.json").read_text())
    for split in ("train", "dev/mixed"):  # the same manifest is the dev set
        data = report["splits"][split]
        assert data["utterances"] == len(TEXTS) + 1 + 7 and data["kept"] == len(TEXTS) + 1 and data["skipped"] == 7
        reasons = {r: sorted(f["path"].rsplit("/", 1)[1] for f in v["files"]) for r, v in data["reasons"].items()}
        assert reasons == {r: sorted(files) for r, files in BROKEN.items()}
        assert {r: v["count"] for r, v in data["reasons"].items()} == {r: len(f) for r, f in BROKEN.items()}
    for files in BROKEN.values():
        for name in files:
            assert err.count(f"bad/{name}:") == 2, name  # once per split (train and dev), nowhere else
    assert "'x' (U+0078)" in err and "8 needed by CTC" in err


def test_too_much_bad_data_fails_with_a_clear_message(tmp_path, broken_corpus, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", str(_config(tmp_path, broken_corpus))])  # default max_skip_fraction 0.05
    message = str(stop.value)
    # 6: the silent file is found only when it is read (data.preload finds it before training)
    assert message.startswith("error: 6 of 16 training utterances (37.5%) are unusable")
    assert "train.max_skip_fraction = 0.05" in message and str(tmp_path / "exp" / "data_report.json") in message


def _nan_on_calls(trainer, calls):
    """Make the model's forward return NaN log-probs on the given (1-based) training calls."""
    forward, count = trainer.model.forward, [0]

    def patched(features, lengths):
        log_probs, out_lengths = forward(features, lengths)
        if trainer.model.training:
            count[0] += 1
            if count[0] in calls:
                log_probs = log_probs * float("nan")
        return log_probs, out_lengths

    trainer.model.forward = patched


def test_nan_loss_and_nan_gradient_steps_are_skipped_and_counted(tmp_path, tone_corpus):
    trainer = Trainer(load_config(_config(tmp_path, tone_corpus, "max_skip_fraction = 0.5", epochs=2)))
    _nan_on_calls(trainer, {2})
    steps = trainer.steps_per_epoch
    assert steps >= 3
    # a NaN gradient (finite loss) on the 4th step
    calls = [0]

    def poison(grad):
        calls[0] += 1
        return grad * float("nan") if calls[0] == 4 else grad

    trainer.model.output.bias.register_hook(poison)
    weights = []  # (before, after) the optimizer step, per step
    original_step = trainer._train_step

    def watched(slots, batches):
        old = trainer.model.output.weight.detach().clone()
        result = original_step(slots, batches)
        weights.append((old, trainer.model.output.weight.detach().clone()))
        return result

    trainer._train_step = watched
    record = trainer.run()
    assert trainer.skipped_steps == 2 and record["skipped_steps"] == 2
    assert len(weights) == 2 * steps
    for step, (old, new) in enumerate(weights):
        assert torch.equal(old, new) == (step in (1, 3)), step  # the 2nd (NaN loss) and 4th (NaN gradient)
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_too_many_skipped_steps_fail_with_a_clear_message(tmp_path, tone_corpus):
    trainer = Trainer(load_config(_config(tmp_path, tone_corpus, epochs=3)))
    _nan_on_calls(trainer, set(range(1, 1000)))
    with pytest.raises(TooManySkipsError, match=r"optimizer steps \(100\.0%\) were skipped for a NaN"):
        trainer.run()
    assert trainer.epoch == 1  # stopped at the end of the first epoch


def test_no_speech_rows_are_kept_with_empty_transcripts(tmp_path, tone_corpus):
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    sf.write(quiet / "zeros.wav", np.zeros(RATE, dtype=np.float32), RATE)  # digital silence is meant here
    sf.write(quiet / "hiss.wav", (np.random.default_rng(0).standard_normal(RATE) * 1e-3).astype(np.float32), RATE)
    no_speech = tmp_path / "no_speech.jsonl"
    no_speech.write_text("".join(json.dumps({"audio_filepath": str(quiet / n), "text": ""}) + "\n"
                                 for n in ("zeros.wav", "hiss.wav")))
    config = _config(tmp_path, tone_corpus)
    text = config.read_text().replace("[text]", f'no_speech = ["{no_speech}"]\n[text]', 1)
    config.write_text(text)
    trainer = Trainer(load_config(config))
    report = json.loads((tmp_path / "exp" / "data_report.json").read_text())["splits"]["train"]
    assert report["utterances"] == len(TEXTS) + 2 and report["skipped"] == 0
    targets = [trainer.train_set.targets[i] for i in trainer.train_indices]
    assert sum(1 for t in targets if len(t) == 0) == 2
    assert trainer.run()["skipped_steps"] == 0  # an empty CTC target trains like any other
    spoken = tmp_path / "spoken.jsonl"
    spoken.write_text(json.dumps({"audio_filepath": str(quiet / "hiss.wav"), "text": "ab"}) + "\n")
    config.write_text(text.replace(str(no_speech), str(spoken)))
    with pytest.raises(ValueError, match="data.no_speech rows must have an empty transcript"):
        Trainer(load_config(config))
