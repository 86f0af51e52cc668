"""`recog prepare iam-ondb`: packs + manifests per split; InkDataset reads them, caches and augments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from recog.data.ink_dataset import InkDataset
from recog.data.manifest import read_manifest
from recog.features.ink import InkAugmentConfig, InkFeatureConfig, ink_features, load_ink
from recog.features.ink.iam_ondb import IamOnDb
from recog.features.ink.pack import load_pack
from recog.text import Alphabet, TextNormalizer

from . import ink_support
from .ink_support import synth_ink

iam_dir = ink_support.iam_dir

LINES = [("train", 'xo " li'), ("val1", "Mr . ox"), ("train", "cool ' s"), ("test_f", "lic"), ("val1", "ix")]


def _fake_iam(root: Path) -> Path:
    """An IAM-OnDB-layout folder (strokes.npy int16, offsets.npy, lines.tsv) from generated inks."""
    root.mkdir(parents=True, exist_ok=True)
    rows, pieces = ["index\tline_id\tform_id\tsplit\tn_points\ttext"], []
    for i, (split, text) in enumerate(LINES):
        ink = synth_ink("".join(c for c in text.lower() if c in "cilox "), seed=i)
        pts = np.column_stack([np.rint(ink.flat()[0]), ink.pen_up()]).astype(np.int16)
        pieces.append(pts)
        rows.append(f"{i}\tf{i:02d}-01\tf{i:02d}\t{split}\t{len(pts)}\t{text}")
    np.save(root / "strokes.npy", np.concatenate(pieces))
    np.save(root / "offsets.npy", np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).astype(np.int64))
    (root / "lines.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_prepare_writes_a_pack_and_manifest_per_split(tmp_path, capsys):
    from recog.cli import main

    data = _fake_iam(tmp_path / "iam")
    out = tmp_path / "prepared"
    assert main(["prepare", "iam-ondb", "--data", str(data), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"train": 2, "val1": 2, "test_f": 1}
    db = IamOnDb(data)
    for split in ("train", "val1", "test_f"):
        utts = read_manifest(out / f"{split}.jsonl")
        expected = [i for i, (s, _) in enumerate(LINES) if s == split]
        assert [u.text for u in utts] == [LINES[i][1] for i in expected]  # exactly as in lines.tsv
        assert all(u.modality == "ink" and u.extra["points"] == db.rows[i].n_points for u, i in zip(utts, expected, strict=True))
        for u, i in zip(utts, expected, strict=True):
            np.testing.assert_array_equal(load_ink(u.path).flat()[0], db.ink(i).flat()[0])
            assert [len(s) for s in load_ink(u.path).strokes] == [len(s) for s in db.ink(i).strokes]
    assert not list(out.glob("*.json"))  # packs, not one file per line


def test_prepare_reports_inconsistent_data(tmp_path):
    from recog.cli import main

    data = _fake_iam(tmp_path)
    (data / "lines.tsv").write_text((data / "lines.tsv").read_text().replace("\tval1\t", "\tval1\t9", 1))
    with pytest.raises(SystemExit, match="lines.tsv"):
        main(["prepare", "iam-ondb", "--data", str(data), "--out", str(tmp_path / "o")])


def test_ink_dataset_reads_packs_on_access_caches_when_preloaded_and_augments(tmp_path):
    from recog.cli import main

    data = _fake_iam(tmp_path / "iam")
    main(["prepare", "iam-ondb", "--data", str(data), "--out", str(tmp_path / "p")])
    utts = read_manifest(tmp_path / "p" / "train.jsonl")
    alphabet = Alphabet.from_texts(t for _, t in LINES)
    config = InkFeatureConfig()
    plain = InkDataset(utts, config, alphabet, TextNormalizer())
    assert len(plain) == 2 and plain.lengths() == [len(ink_features(load_ink(u.path), config)) for u in utts]
    feats, targets = plain[0]
    assert feats.shape == (plain.lengths()[0], config.dim) and alphabet.decode(targets.tolist()) == LINES[0][1]
    assert plain[0][0] is not feats and torch.equal(plain[0][0], feats)  # read again, the same
    pack = load_pack(utts[0].path.parent / "train.npz")
    assert isinstance(pack.points, np.memmap)  # memory-mapped, not read into memory
    cached = InkDataset(utts, config, alphabet, TextNormalizer(), preload=True)
    assert cached[0][0] is cached[0][0] and torch.equal(cached[0][0], feats)
    augmented = InkDataset(utts, config, alphabet, TextNormalizer(), InkAugmentConfig(prob=1.0), seed=3)
    a, b = augmented[0][0], augmented[0][0]
    assert not torch.equal(a, b) and a.shape[1] == config.dim
    assert abs(a.shape[0] - feats.shape[0]) < 0.3 * feats.shape[0]


def test_ink_dataset_skips_unreadable_lines(tmp_path, capsys):
    (tmp_path / "m.jsonl").write_text('{"ink_filepath": "nope.json", "text": "ox"}\n')
    ds = InkDataset(read_manifest(tmp_path / "m.jsonl"), InkFeatureConfig(), Alphabet.from_string(" ox"),
                    TextNormalizer())
    assert len(ds) == 0 and "nope.json: file not found" in capsys.readouterr().err


def test_prepared_real_lines_match_the_shared_arrays(iam_dir, tmp_path):
    from recog.prepare.iam_ondb import prepare_iam_ondb

    counts = prepare_iam_ondb(iam_dir, tmp_path)
    assert counts == {"train": 5363, "val1": 1438, "val2": 1518}
    utt = read_manifest(tmp_path / "val2.jsonl")[0]
    assert utt.text == "A MOVE to stop Mr . Gaitskell" and utt.extra["line_id"] == "a01-000u-01"
    np.testing.assert_array_equal(load_ink(utt.path).flat()[0], IamOnDb(iam_dir).ink(0).flat()[0])


def test_ink_shards_give_the_features_of_the_manifest(tmp_path):
    import tarfile

    from recog.cli import main
    from recog.data.sampler import Slot
    from recog.data.shard_stream import ShardCorpus, ShardStream
    from recog.data.shards import load_index

    data = _fake_iam(tmp_path / "iam")
    main(["prepare", "iam-ondb", "--data", str(data), "--out", str(tmp_path / "p")])
    assert main(["shard", str(tmp_path / "p" / "train.jsonl"), "--out", str(tmp_path / "s"), "--no-shuffle"]) == 0
    index = load_index(tmp_path / "s")
    assert index.modality == "ink" and index.utterances == 2
    with tarfile.open(index.shards[0].path) as tar:
        assert tar.getnames() == ["000000000.ink.json", "000000000.json", "000000001.ink.json", "000000001.json"]
    utts = read_manifest(tmp_path / "p" / "train.jsonl")
    alphabet, config = Alphabet.from_texts(t for _, t in LINES), InkFeatureConfig()
    expected = InkDataset(utts, config, alphabet, TextNormalizer())
    assert index.shards[0].lengths.tolist() == [load_ink(u.path).num_points for u in utts]
    corpus = ShardCorpus([(index, False)], config, None, alphabet, TextNormalizer())
    (batch,) = list(ShardStream(corpus, [Slot(0, [0, 1], True, 2)], 0, 0, lambda *_: 0))
    for row in range(2):
        feats, targets = expected[row]
        torch.testing.assert_close(batch.features[row, : len(feats)], feats, rtol=0, atol=1e-6)
        assert batch.targets[batch.target_lengths[:row].sum():][: len(targets)].tolist() == targets.tolist()
