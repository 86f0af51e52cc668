"""`recog prepare librispeech|commonvoice|folder` on tiny trees in each corpus's own layout.

Audio is tones written with soundfile (flac for LibriSpeech as the corpus
ships it, mp3 for Common Voice: libsndfile >= 1.1 writes and reads it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from recog.cli import main
from recog.config import load_config
from recog.features.io import AudioReadError
from recog.prepare.common import LayoutError, audio_duration
from recog.prepare.commonvoice import prepare_commonvoice
from recog.prepare.folder import prepare_folder
from recog.prepare.librispeech import prepare_librispeech
from recog.text import Alphabet

ROOT = Path(__file__).resolve().parents[1]
HAS_MP3 = "MP3" in sf.available_formats()


def tone(path: Path, seconds: float, rate: int = 16000, freq: float = 440.0, **kwargs) -> float:
    """Write a tone of `seconds` to `path` (format from the suffix); returns its length in seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * rate))
    wave = 0.3 * np.sin(2 * np.pi * freq * np.arange(n) / rate)
    sf.write(path, wave.astype(np.float32), rate, **kwargs)
    return n / rate


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_paths_and_durations(manifest: Path, rows: list[dict], seconds: dict[str, float]) -> None:
    """Every row's audio_filepath resolves (from the manifest's folder) to a file of the stated duration."""
    for r in rows:
        audio = (manifest.parent / r["audio_filepath"]).resolve()
        assert audio.is_file(), r
        assert not Path(r["audio_filepath"]).is_absolute()
        assert r["duration"] == pytest.approx(seconds[audio.name], abs=2e-3)
        assert r["duration"] == pytest.approx(audio_duration(audio), abs=1e-3)


# ---- LibriSpeech -------------------------------------------------------------------------------

LIBRI = {  # split -> speaker -> chapter -> texts
    "dev-clean": {"84": {"121123": ["GO DO YOU HEAR", "BUT IN LESS THAN FIVE MINUTES"]},
                  "174": {"50561": ["FORGOTTEN TOO THE NAME OF GILLIAN THE LOVELY CAPTIVE"]}},
    "train-clean-100": {"19": {"198": ["NORTHANGER ABBEY", "IT'S A NICE DAY", "MISSING ONE"]}},
}


def make_librispeech(root: Path, missing: tuple[str, ...] = ("19-198-0002",)) -> dict[str, float]:
    """Write LIBRI as LibriSpeech/<split>/<spk>/<chapter>/...; returns seconds per flac name."""
    seconds = {}
    (root / "LibriSpeech").mkdir(parents=True)
    for name in ("README.TXT", "SPEAKERS.TXT", "CHAPTERS.TXT"):  # the corpus root holds these files too
        (root / "LibriSpeech" / name).write_text("; not a split\n")
    for split, speakers in LIBRI.items():
        for spk, chapters in speakers.items():
            for chapter, texts in chapters.items():
                folder = root / "LibriSpeech" / split / spk / chapter
                lines = []
                for k, text in enumerate(texts):
                    utt = f"{spk}-{chapter}-{k:04d}"
                    lines.append(f"{utt} {text}")
                    if utt not in missing:
                        seconds[f"{utt}.flac"] = tone(folder / f"{utt}.flac", 0.5 + 0.25 * k + 0.01 * len(text))
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{spk}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return seconds


def test_librispeech_root_gives_a_manifest_per_split(tmp_path):
    seconds = make_librispeech(tmp_path / "corpus")
    out = tmp_path / "manifests"
    report = prepare_librispeech(tmp_path / "corpus" / "LibriSpeech", out)
    assert sorted(p.name for p in out.iterdir()) == ["dev-clean.jsonl", "train-clean-100.jsonl"]
    dev = read_rows(out / "dev-clean.jsonl")
    assert [r["id"] for r in dev] == ["174-50561-0000", "84-121123-0000", "84-121123-0001"]
    assert dev[1]["text"] == "GO DO YOU HEAR"  # LibriSpeech's upper case kept; the recipe lower-cases
    assert (dev[1]["speaker"], dev[1]["chapter"]) == ("84", "121123")
    check_paths_and_durations(out / "dev-clean.jsonl", dev, seconds)
    train = read_rows(out / "train-clean-100.jsonl")
    assert [r["text"] for r in train] == ["NORTHANGER ABBEY", "IT'S A NICE DAY"]
    check_paths_and_durations(out / "train-clean-100.jsonl", train, seconds)
    assert report.counts == {"dev-clean": 3, "train-clean-100": 2}
    assert [(s.name, s.reason) for s in report.skipped] == [
        ("LibriSpeech/train-clean-100/19/198/19-198-0002.flac", "missing audio")]
    assert report.hours == pytest.approx(sum(seconds.values()) / 3600, abs=1e-5)
    assert report.summary() == f"librispeech: 2 manifest(s), 5 utterances, {report.hours:.2f} hours, 1 skipped"


def test_librispeech_one_split_folder_and_split_choice(tmp_path):
    make_librispeech(tmp_path)
    root = tmp_path / "LibriSpeech"
    report = prepare_librispeech(root / "dev-clean", tmp_path / "one")
    assert report.counts == {"dev-clean": 3}
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["dev-clean.jsonl"]
    report = prepare_librispeech(root, tmp_path / "chosen", splits=["train-clean-100"])
    assert report.counts == {"train-clean-100": 2}
    with pytest.raises(LayoutError, match="no split folder train-clean-360 .found: dev-clean, train-clean-100"):
        prepare_librispeech(root, tmp_path / "x", splits=["train-clean-360"])


def test_librispeech_wrong_layouts_say_what_was_expected(tmp_path):
    make_librispeech(tmp_path / "download")
    with pytest.raises(LayoutError, match=r"pass that folder.*<speaker>-<chapter>\.trans\.txt"):
        prepare_librispeech(tmp_path / "download", tmp_path / "o")  # the folder above LibriSpeech/
    flat = tmp_path / "flat"
    tone(flat / "84-121123-0000.flac", 0.3)
    (flat / "84-121123.trans.txt").write_text("84-121123-0000 HELLO\n")  # no speaker/chapter folders
    with pytest.raises(LayoutError, match="no LibriSpeech transcripts found"):
        prepare_librispeech(flat, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_librispeech_unreadable_and_malformed_are_skipped_and_all_bad_is_an_error(tmp_path):
    folder = tmp_path / "dev-clean" / "1" / "2"
    folder.mkdir(parents=True)
    (folder / "1-2-0000.flac").write_bytes(b"not a flac file at all")
    (folder / "1-2.trans.txt").write_text("1-2-0000 HELLO\n1-2-0001\n")
    with pytest.raises(LayoutError, match="no usable utterances .2 skipped, e.g. .*1-2.trans.txt:2: malformed"):
        prepare_librispeech(tmp_path / "dev-clean", tmp_path / "o")
    tone(folder / "1-2-0002.flac", 0.4)
    with (folder / "1-2.trans.txt").open("a") as f:
        f.write("1-2-0002 WORLD\n")
    report = prepare_librispeech(tmp_path / "dev-clean", tmp_path / "o")
    assert report.counts == {"dev-clean": 1}
    assert sorted(s.reason for s in report.skipped) == ["malformed transcript line", "unreadable audio"]


# ---- Common Voice ------------------------------------------------------------------------------

CV_HEADER = "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents"
CV_ROWS = {  # tsv stem -> (client, clip, sentence)
    "train": [("c1", "common_voice_en_1.mp3", '"No," he said.'), ("c2", "common_voice_en_2.mp3", "Hello."),
              ("c2", "common_voice_en_gone.mp3", "Missing clip.")],
    "dev": [("c3", "common_voice_en_3.wav", "A converted clip.")],
    "test": [("c1", "common_voice_en_4.mp3", "Last one")],
}


def make_commonvoice(lang: Path) -> dict[str, float]:
    """A Common Voice language folder (48 kHz mp3 clips, one wav) with extra non-split TSVs."""
    seconds = {}
    for k, (_, clip, _) in enumerate(r for rows in CV_ROWS.values() for r in rows):
        if "gone" in clip:
            continue
        kwargs = {"format": "MP3"} if clip.endswith(".mp3") else {}
        seconds[clip] = tone(lang / "clips" / clip, 0.6 + 0.2 * k, rate=48000, freq=300 + 50 * k, **kwargs)
    for stem, rows in CV_ROWS.items():
        body = [f"{c}\t{clip}\tsid\t{text}\t\t2\t0\t\t\t" for c, clip, text in rows]
        (lang / f"{stem}.tsv").write_text("\n".join([CV_HEADER, *body]) + "\n", encoding="utf-8")
    validated = [f"{c}\t{clip}\tsid\t{text}\t\t2\t0\t\t\t" for rows in CV_ROWS.values() for c, clip, text in rows]
    (lang / "validated.tsv").write_text("\n".join([CV_HEADER, *validated]) + "\n", encoding="utf-8")
    (lang / "reported.tsv").write_text("sentence_id\tsentence\tlocale\treason\nsid\tHello.\ten\toffensive\n")
    (lang / "clip_durations.tsv").write_text("clip\tduration[ms]\ncommon_voice_en_1.mp3\t600\n")
    return seconds


@pytest.mark.skipif(not HAS_MP3, reason="this libsndfile cannot write MP3 (needs >= 1.1)")
def test_commonvoice_manifest_per_tsv_with_missing_clips_reported(tmp_path):
    seconds = make_commonvoice(tmp_path / "en")
    out = tmp_path / "out"
    report = prepare_commonvoice(tmp_path / "en", out)
    assert report.counts == {"dev": 1, "test": 1, "train": 2, "validated": 4}
    assert sorted(p.name for p in out.iterdir()) == ["dev.jsonl", "test.jsonl", "train.jsonl", "validated.jsonl"]
    train = read_rows(out / "train.jsonl")
    assert [(r["speaker"], r["text"]) for r in train] == [("c1", '"No," he said.'), ("c2", "Hello.")]
    check_paths_and_durations(out / "train.jsonl", train, seconds)
    check_paths_and_durations(out / "validated.jsonl", read_rows(out / "validated.jsonl"), seconds)
    assert read_rows(out / "dev.jsonl")[0]["audio_filepath"].endswith("clips/common_voice_en_3.wav")
    assert [(s.name, s.reason) for s in report.skipped] == [
        ("train.tsv:common_voice_en_gone.mp3", "missing audio"),
        ("validated.tsv:common_voice_en_gone.mp3", "missing audio")]
    assert report.notes == ["ignored TSVs without 'path' and 'sentence' columns: clip_durations.tsv, reported.tsv"]
    only = prepare_commonvoice(tmp_path / "en", tmp_path / "only", splits=["dev", "test"])
    assert only.counts == {"dev": 1, "test": 1} and not only.skipped


def test_commonvoice_wrong_layouts(tmp_path):
    (tmp_path / "cv" / "en" / "clips").mkdir(parents=True)
    with pytest.raises(LayoutError, match=r"no clips/ folder .found language folders en: pass one.*client_id, path"):
        prepare_commonvoice(tmp_path / "cv", tmp_path / "o")
    with pytest.raises(LayoutError, match="no TSV file with columns 'path' and 'sentence'"):
        prepare_commonvoice(tmp_path / "cv" / "en", tmp_path / "o")
    (tmp_path / "cv" / "en" / "train.tsv").write_text(CV_HEADER + "\nc1\tgone.mp3\ts\tHi\t\t2\t0\t\t\t\n")
    with pytest.raises(LayoutError, match=r"1 skipped, e.g. train.tsv:gone.mp3: missing audio"):
        prepare_commonvoice(tmp_path / "cv" / "en", tmp_path / "o")
    with pytest.raises(LayoutError, match=r"no split dev.tsv \(found: train\)"):
        prepare_commonvoice(tmp_path / "cv" / "en", tmp_path / "o", splits=["dev"])


def test_mp3_without_mp3_support_names_the_file(tmp_path, monkeypatch):
    lang = tmp_path / "en"
    (lang / "clips").mkdir(parents=True)
    (lang / "clips" / "a.mp3").write_bytes(b"\xff\xfb")
    (lang / "train.tsv").write_text(CV_HEADER + "\nc1\ta.mp3\ts\tHi\t\t2\t0\t\t\t\n")
    monkeypatch.setattr(sf, "available_formats", lambda: {"WAV": "WAV", "FLAC": "FLAC"})
    with pytest.raises(AudioReadError, match=r"clips/a\.mp3: this libsndfile .* cannot read MP3"):
        prepare_commonvoice(lang, tmp_path / "o")
    with pytest.raises(AudioReadError, match=r"a\.mp3: this libsndfile"):
        prepare_folder(lang / "clips", tmp_path / "o")


# ---- a folder of recordings --------------------------------------------------------------------

def test_folder_pairs_audio_with_transcripts_and_reports_the_rest(tmp_path):
    data = tmp_path / "mine"
    seconds = {"a.wav": tone(data / "a.wav", 0.5), "b.flac": tone(data / "s1" / "b.flac", 0.7, rate=8000),
               "c.ogg": tone(data / "s1" / "deep" / "c.ogg", 0.9, rate=22050), "D.WAV": tone(data / "D.WAV", 0.3)}
    (data / "a.txt").write_text("turn the\nlights on\n")
    (data / "s1" / "b.txt").write_text("\ufeffHello, World")
    (data / "s1" / "deep" / "c.txt").write_text("three")
    (data / "D.txt").write_text("upper-case suffix")
    if HAS_MP3:
        seconds["e.mp3"] = tone(data / "e.mp3", 0.4, format="MP3")
        (data / "e.txt").write_text("an mp3")
    tone(data / "no_text.wav", 0.2)
    (data / "broken.wav").write_bytes(b"RIFF....not really")
    (data / "broken.txt").write_text("never read")
    tone(data / "empty.flac", 0.2)
    (data / "empty.txt").write_text("  \n")
    (data / "notes.txt").write_text("a transcript without audio is ignored")
    tone(data / ".hidden" / "x.wav", 0.2)
    out = tmp_path / "out"
    report = prepare_folder(data, out)
    rows = read_rows(out / "all.jsonl")
    expected = {"D.WAV": "upper-case suffix", "a.wav": "turn the lights on", "s1/b.flac": "Hello, World",
                "s1/deep/c.ogg": "three"}
    if HAS_MP3:
        expected["e.mp3"] = "an mp3"
    assert {str(Path(r["audio_filepath"]).relative_to("../mine")): r["text"] for r in rows} == expected
    assert all(set(r) == {"audio_filepath", "duration", "text"} for r in rows)
    check_paths_and_durations(out / "all.jsonl", rows, seconds)
    assert sorted((s.name, s.reason) for s in report.skipped) == [
        ("broken.wav", "unreadable audio"), ("empty.flac", "empty transcript"), ("no_text.wav", "no transcript")]
    assert report.counts == {"all": len(expected)}


def test_folder_without_audio_or_transcripts_is_an_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "readme.txt").write_text("hi")
    with pytest.raises(LayoutError, match=r"no audio files found; expected audio files \(.wav, .flac, .ogg, .mp3"):
        prepare_folder(tmp_path / "d", tmp_path / "o")
    tone(tmp_path / "d" / "x.wav", 0.2)
    with pytest.raises(LayoutError, match="no usable utterances .1 skipped, e.g. x.wav: no transcript"):
        prepare_folder(tmp_path / "d", tmp_path / "o")
    assert not (tmp_path / "o").exists()


# ---- the CLI verbs -----------------------------------------------------------------------------

def test_cli_verbs_print_the_report_and_json_counts(tmp_path, capsys):
    make_librispeech(tmp_path)
    assert main(["prepare", "librispeech", "--data", str(tmp_path / "LibriSpeech"), "--out", str(tmp_path / "ls"),
                 "--splits", "dev-clean,train-clean-100"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1]) == {"dev-clean": 3, "train-clean-100": 2}
    assert lines[-2].startswith("librispeech: 2 manifest(s), 5 utterances, ") and lines[-2].endswith("1 skipped")
    assert "skipped 1 (missing audio): LibriSpeech/train-clean-100/19/198/19-198-0002.flac" in lines

    data = tmp_path / "mine"
    tone(data / "u.wav", 0.3)
    (data / "u.txt").write_text("yes")
    assert main(["prepare", "folder", "--data", str(data), "--out", str(tmp_path / "f")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"all": 1}
    with pytest.raises(SystemExit, match="--splits does not apply"):
        main(["prepare", "folder", "--data", str(data), "--out", str(tmp_path / "f"), "--splits", "x"])
    with pytest.raises(SystemExit, match=r"error: .*no clips/ folder"):
        main(["prepare", "commonvoice", "--data", str(data), "--out", str(tmp_path / "cv")])
    with pytest.raises(SystemExit, match=r"error: .*no LibriSpeech transcripts found"):
        main(["prepare", "librispeech", "--data", str(data), "--out", str(tmp_path / "x")])


# ---- the LibriSpeech recipe --------------------------------------------------------------------

def test_librispeech_recipe_reads_what_prepare_writes(tmp_path):
    config = load_config(ROOT / "pipelines" / "librispeech" / "config.toml")
    assert (config.features.sample_rate, config.features.n_mels) == (16000, 80)
    alphabet = Alphabet.from_string(config.text.alphabet)
    assert sorted(config.text.alphabet) == sorted(" 'abcdefghijklmnopqrstuvwxyz")
    make_librispeech(tmp_path / "corpus")
    out = tmp_path / "data"
    prepare_librispeech(tmp_path / "corpus" / "LibriSpeech", out)
    for manifest in config.data.train + config.data.dev:  # the recipe names the files prepare writes
        assert Path(manifest).parent == Path("data") and (out / Path(manifest).name).is_file(), manifest
    for row in read_rows(out / "train-clean-100.jsonl"):
        alphabet.encode(config.text.normalizer(row["text"]))  # upper case and apostrophes map onto the alphabet
    assert config.text.normalizer("IT'S A  NICE DAY") == "it's a nice day"
    assert config.augment.freq_masks > 0 and config.augment.time_masks > 0  # SpecAugment
    assert config.model.subsampling == 4
