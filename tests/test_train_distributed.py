"""Data-parallel training: 2 gloo processes under torchrun = 1 process with the same global batch."""

import json
import os
import subprocess
import sys

import pytest
import torch

from recog.config import load_config
from recog.model.checkpoint import load_state
from recog.train.trainer import Trainer

from .conftest import ROOT, tone_config_toml

# 1 intra-op thread per process: both runs then do the same arithmetic in the same order.
EXTRA = "threads = 1"


def _write_config(tmp_path, manifest, name, epochs=3):
    path = tmp_path / f"{name}.toml"
    path.write_text(tone_config_toml(manifest, tmp_path / name, epochs, EXTRA).replace("threads = 2\n", ""))
    return path


def _epoch_losses(out_dir):
    return [json.loads(line)["loss"] for line in (out_dir / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("workers", [0, 2])
def test_two_ranks_match_one_process_with_the_same_global_batch(tmp_path, tone_corpus, workers):
    # One process accumulating 2 batches per step sees the global batch that 2 ranks of 1 batch see:
    # step s takes global batches 2s and 2s+1 (rank r: batches r::2). The 8 utterances make 3
    # batches, so the last step of each epoch has a padding slot on rank 1 (weight 0). With
    # workers, each rank's 2 data-loader processes read and featurize its batches.
    workers_set = f"train.num_workers={workers}"
    single = Trainer(load_config(_write_config(tmp_path, tone_corpus, "single"), ["train.accum_grad=2", workers_set]))
    assert len(single.sampler.batches()) % 2 == 1  # the remainder case is exercised
    single.run()

    cfg = _write_config(tmp_path, tone_corpus, "ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "recog", "train", str(cfg), "--set", workers_set],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 ranks" in proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1  # only rank 0 prints the final record

    a = load_state(tmp_path / "single" / "last.pt")
    b = load_state(tmp_path / "ddp" / "last.pt")
    assert a["step"] == b["step"] == 3 * single.steps_per_epoch
    for key in a["model"]:
        assert torch.allclose(a["model"][key], b["model"][key], atol=1e-6, rtol=0), key
    losses = _epoch_losses(tmp_path / "single")
    assert losses == _epoch_losses(tmp_path / "ddp") and losses[0] > losses[-1]


def _validate_on_rank(rank, world, port, manifest, ckpt, out):
    """Child process: join a gloo group of `world`, validate its shard, write the reduced result."""
    import torch.distributed as tdist

    from recog.data.datasets import build_dataset
    from recog.data.manifest import read_manifest
    from recog.model.checkpoint import load_model
    from recog.train.distributed import DistContext
    from recog.train.validate import validate

    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    model, config, alphabet, _ = load_model(ckpt)
    dataset = build_dataset(config, read_manifest(manifest), alphabet)
    result = validate(model, dataset, "dev", torch.device("cpu"), 120, "fp32", ctx=DistContext(rank, world))
    (out / f"rank{rank}.json").write_text(json.dumps(result.__dict__))
    tdist.destroy_process_group()


def test_validation_counts_are_summed_over_ranks(tmp_path, tone_corpus):
    import socket

    import torch.multiprocessing as mp

    from recog.data.datasets import build_dataset
    from recog.data.manifest import read_manifest
    from recog.model.checkpoint import load_model
    from recog.train.validate import validate

    Trainer(load_config(_write_config(tmp_path, tone_corpus, "val", epochs=1))).run()
    ckpt = tmp_path / "val" / "last.pt"
    model, config, alphabet, _ = load_model(ckpt)
    # tiny batches (max_frames 120) so that each of the 2 ranks decodes several
    alone = validate(model, build_dataset(config, read_manifest(tone_corpus), alphabet), "dev",
                     torch.device("cpu"), 120, "fp32")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_validate_on_rank, args=(2, port, tone_corpus, ckpt, tmp_path), nprocs=2, join=True)
    for rank in range(2):
        shared = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert shared == {**alone.__dict__}, (rank, shared, alone)
    assert alone.utterances == 8


def test_two_ranks_stream_their_own_shards_in_lockstep(tmp_path, tone_corpus):
    # Shards of unequal sizes: the rank with fewer batches gets zero-weight padding slots, so both
    # ranks run the same steps; every utterance is trained on once per epoch (tests/test_shards.py).
    from recog.data.manifest import read_manifest
    from recog.data.shard_sampler import ShardSampler
    from recog.data.shards import load_index, write_shards

    index = write_shards(read_manifest(tone_corpus), tmp_path / "shards", shard_mb=0.03, progress=False).index
    cfg = tmp_path / "sharded.toml"
    cfg.write_text(_write_config(tmp_path, tone_corpus, "sharded", epochs=2).read_text()
                   .replace(f'train = ["{tone_corpus}"]', f'train = ["{index}"]'))
    config = load_config(cfg)
    frames = [[config.features.num_frames(round(d * config.features.sample_rate)) for d in s.lengths]
              for s in load_index(index).shards]
    steps, padded = 0, False
    for epoch in range(2):
        sampler = ShardSampler(frames, config.train.max_frames, seed=config.seed, num_replicas=2, rank=0)
        sampler.set_epoch(epoch)
        steps += sampler.steps_per_epoch()
        padded = padded or None in sampler.batches()
    assert padded  # one rank runs out of batches before the other
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "recog", "train", str(cfg), "--set", "train.num_workers=1"],
        cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert load_state(tmp_path / "sharded" / "last.pt")["step"] == steps
