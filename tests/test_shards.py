"""Sharded corpora: `recog shard` writes WebDataset-layout tars + index.json; training streams them."""

import io
import json
import re
import tarfile

import numpy as np
import pytest
import soundfile as sf

from recog.cli import main
from recog.config import load_config
from recog.data.manifest import read_manifest
from recog.data.shard_sampler import ShardSampler
from recog.data.shards import INDEX_NAME, ShardError, iter_shard, load_index, write_shards
from recog.features.io import load_audio
from recog.train.loader import slot_loader
from recog.train.train_data import load_train_data, read_train_rows

from .conftest import RATE, TEXTS, synth_utterance, tone_config_toml


@pytest.fixture(scope="module")
def tone_shards(tmp_path_factory, tone_corpus):
    """The tone corpus and a segment row as shards of ~30 KB (several per corpus): the index path."""
    root = tmp_path_factory.mktemp("shards")
    long = np.concatenate([synth_utterance("ab", seed=20), synth_utterance("dc", seed=21)])
    sf.write(root / "long.wav", long, RATE, subtype="PCM_16")
    rows = [json.loads(line) for line in tone_corpus.read_text().splitlines()]
    for row in rows:
        row["audio_filepath"] = str(tone_corpus.parent / row["audio_filepath"])
    split = len(synth_utterance("ab", seed=20))
    rows.append({"audio_filepath": str(root / "long.wav"), "offset": split / RATE,
                 "duration": (len(long) - split) / RATE, "text": "dc"})
    manifest = root / "all.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["shard", str(manifest), "--out", str(root / "shards"), "--shard-mb", "0.03"]) == 0
    return root / "shards" / INDEX_NAME


def test_shards_hold_the_webdataset_layout_and_the_index_lists_them(tone_shards):
    index = json.loads(tone_shards.read_text())
    assert index["format"] == "recog-shards" and index["modality"] == "audio"
    assert index["utterances"] == len(TEXTS) + 1 and len(index["shards"]) >= 3
    keys, texts = [], []
    for entry in index["shards"]:
        with tarfile.open(tone_shards.parent / entry["path"]) as tar:
            names = tar.getnames()
            assert len(names) == 2 * entry["utterances"] and entry["bytes"] == (tone_shards.parent / entry["path"]).stat().st_size
            durations = []
            for audio, meta in zip(names[::2], names[1::2], strict=True):
                key = audio.split(".")[0]
                assert re.fullmatch(r"\d{9}\.(wav|flac)", audio) and meta == f"{key}.json"
                info = json.loads(tar.extractfile(meta).read())
                data = tar.extractfile(audio).read()
                assert info["duration"] == pytest.approx(sf.info(io.BytesIO(data)).duration, abs=1e-6)
                durations.append(info["duration"])
                keys.append(key)
                texts.append(info["text"])
            assert durations == entry["durations"] and sum(durations) == pytest.approx(entry["seconds"])
    assert sorted(texts) == sorted([*TEXTS, "dc"]) and len(set(keys)) == len(keys)


def test_a_segment_row_is_cut_out_exactly(tone_shards):
    loaded = load_index(tone_shards)
    for shard in loaded.shards:
        for _, _, members in iter_shard(shard.path):
            meta = json.loads(members["json"])
            if "#t=" in meta["source"]:
                assert set(members) == {"flac", "json"}
                stored, rate = sf.read(io.BytesIO(members["flac"]), dtype="float32")
                assert rate == RATE
                np.testing.assert_array_equal(stored, load_audio(meta["source"], RATE))
                return
    raise AssertionError("no segment row in the shards")


def test_bad_indexes_and_shards_are_named(tmp_path, tone_shards):
    with pytest.raises(ShardError, match="index.json: shard index not found"):
        load_index(tmp_path / "index.json")
    (tmp_path / "index.json").write_text('{"format": "other"}')
    with pytest.raises(ShardError, match="not a recog-shards index"):
        load_index(tmp_path)
    (tmp_path / "broken.tar").write_bytes(b"not a tar" * 100)
    with pytest.raises(ShardError, match="broken.tar: unreadable shard"):
        list(iter_shard(tmp_path / "broken.tar"))


def test_every_utterance_once_per_epoch_over_ranks():
    rng = np.random.default_rng(0)
    shards = [rng.integers(20, 300, size=int(n)) for n in rng.integers(5, 40, size=7)]
    total = sum(len(s) for s in shards)
    for replicas in (1, 2, 3):
        for accum in (1, 2):
            samplers = [ShardSampler(shards, 1200, seed=5, buffer=25, num_replicas=replicas, rank=r)
                        for r in range(replicas)]
            for s in samplers:
                s.set_epoch(3)
            plans = [s.plan(accum) for s in samplers]
            assert len({len(p) for p in plans}) == 1  # the ranks step together
            real = sorted(i for p in plans for step in p for slot in step if slot.real for i in slot.indices)
            assert real == list(range(total))
            for r, s in enumerate(samplers):  # a rank reads only its own shards
                own = set(s.shards_of_rank(r))
                assert all(int(np.searchsorted(s.bases, i, side="right")) - 1 in own
                           for step in plans[r] for slot in step for i in slot.indices)
                assert s.plan(accum, start=replicas * accum) == plans[r][1:]  # resume mid-epoch
    s = ShardSampler(shards, 1200, seed=5, buffer=25)
    first = s.batches()
    s.set_epoch(1)
    assert s.batches() != first
    with pytest.raises(ValueError, match="7 shard\\(s\\) for 8 ranks"):
        ShardSampler(shards, 1200, num_replicas=8, rank=0)


def _config(tmp_path, train, dev, name, epochs=2, extra=""):
    text = tone_config_toml(train, tmp_path / name, epochs, extra).replace(f'dev = ["{train}"]', f'dev = ["{dev}"]')
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("source", ["manifest", "shards"])
def test_batches_over_ranks_and_workers_cover_each_utterance_once(tmp_path, tone_corpus, tone_shards, source):
    train = tone_corpus if source == "manifest" else tone_shards
    config = load_config(_config(tmp_path, train, tone_corpus, "cover"), ["train.max_frames=120"])
    seen = []
    for rank in range(2):
        data = load_train_data(config, [] if source == "shards" else read_train_rows(config), _alphabet(config),
                               _output_frames, world_size=2, rank=rank)
        data.sampler.set_epoch(1)
        slots = [slot for step in data.sampler.plan(1) for slot in step]
        batches = list(slot_loader(data.slots(slots, 1), 2, False))
        assert len(batches) == len(slots)
        for slot, batch in zip(slots, batches, strict=True):
            assert len(batch.sources) == len(slot.indices) and not batch.problems
            if slot.real:
                seen += batch.sources
    expected = len(TEXTS) + (1 if source == "shards" else 0)
    assert len(seen) == expected and len(set(seen)) == expected


def _alphabet(config):
    from recog.text import Alphabet

    return Alphabet.from_string(config.text.alphabet)


def _output_frames(lengths):
    return lengths // 2


def test_training_from_shards_learns(tmp_path, tone_corpus, tone_shards):
    from recog.train.trainer import Trainer

    trainer = Trainer(load_config(_config(tmp_path, tone_shards, tone_corpus, "sharded", epochs=4), ["train.num_workers=2"]))
    assert trainer.train.sharded and len(trainer.train_indices) == len(TEXTS) + 1
    losses = []
    trainer.log.epoch = lambda record: losses.append(record["loss"])  # type: ignore[method-assign]
    trainer.run()
    assert len(losses) == 4 and losses[-1] < losses[0]


def test_shards_need_an_alphabet_and_cannot_mix_with_manifests(tmp_path, tone_corpus, tone_shards):
    from recog.train.trainer import Trainer

    path = _config(tmp_path, tone_shards, tone_corpus, "noalpha")
    path.write_text(path.read_text().replace('alphabet = " abcd"', 'alphabet = ""'))
    with pytest.raises(ValueError, match="training from shards needs text.alphabet"):
        Trainer(load_config(path))
    path = _config(tmp_path, tone_shards, tone_corpus, "mixed")
    path.write_text(path.read_text().replace(f'train = ["{tone_shards}"]', f'train = ["{tone_shards}", "{tone_corpus}"]'))
    with pytest.raises(ValueError, match="must all be manifests .* or all shard indexes"):
        Trainer(load_config(path))


def test_write_shards_reports_unreadable_rows(tmp_path, tone_corpus, capsys):
    rows = read_manifest(tone_corpus)[:2]
    rows[1].path = tmp_path / "missing.wav"
    report = write_shards(rows, tmp_path / "out", shard_mb=1, progress=False)
    assert report.utterances == 1 and report.skipped[0][0] == str(tmp_path / "missing.wav")
    assert "missing.wav: file not found" in capsys.readouterr().err


def test_bad_rows_of_shards_are_reported_when_read(tmp_path, tone_corpus):
    from recog.train.trainer import Trainer

    rows = read_manifest(tone_corpus)
    bad = tmp_path / "bad"
    bad.mkdir()
    sf.write(bad / "zeros.wav", np.zeros(RATE, dtype=np.float32), RATE)
    sf.write(bad / "short.wav", synth_utterance("a")[:400], RATE)
    extra = [("zeros.wav", "ab"), ("short.wav", "abcdabcd"), ("short.wav", "abx")]
    manifest = tmp_path / "mixed.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": str(u.path), "duration": u.duration, "text": u.text})
                                + "\n" for u in rows)
                        + "".join(json.dumps({"audio_filepath": str(bad / n), "text": t}) + "\n" for n, t in extra))
    index = write_shards(read_manifest(manifest), tmp_path / "shards", shard_mb=0.03, progress=False).index
    config = load_config(_config(tmp_path, index, tone_corpus, "bad", epochs=1), ["train.max_skip_fraction=0.5"])
    Trainer(config).run()
    report = json.loads((tmp_path / "bad" / "data_report.json").read_text())["splits"]["train"]
    assert report["utterances"] == len(rows) + 3 and report["kept"] == len(rows)
    assert {r: v["count"] for r, v in report["reasons"].items()} == {"silent": 1, "too_short": 1,
                                                                      "unknown_characters": 1}
