"""Validation during training: greedy decoding of a dev set, error counts reduced over ranks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from recog.data.dataset import AudioDataset
from recog.data.ink_dataset import InkDataset
from recog.data.sampler import BucketSampler, Slot
from recog.decode.greedy import greedy_decode
from recog.metrics import ErrorCounts
from recog.model import BiLSTMCTC
from recog.train.device import autocast
from recog.train.distributed import DistContext, all_reduce_sum
from recog.train.loader import SlotDataset, slot_loader


@dataclass
class DevResult:
    """Greedy-decoding error rates on one dev set (percent), and the utterances this rank found
    unusable when it read them ((path, reason, detail); not scored)."""

    name: str
    wer: float
    cer: float
    utterances: int
    problems: list[tuple[str, str, str]] = field(default_factory=list)


def validate(
    model: BiLSTMCTC,
    dataset: AudioDataset | InkDataset,
    name: str,
    device: torch.device,
    max_frames: int,
    precision: str,
    indices: Sequence[int] | None = None,
    ctx: DistContext | None = None,
    workers: int = 0,
) -> DevResult:
    """Greedy-decode `dataset` and count errors against its (normalized) targets.

    With several ranks (`ctx`), rank r decodes the length-sorted batches r::N
    and the error counts are summed over ranks, so every rank returns the
    corpus-level rates of the whole set.

    Args:
        model: the network (not a DDP wrapper).
        indices: the utterances to score (those that passed the data report); None = all.
        workers: DataLoader processes that read and featurize the batches (0 = this process).
    """
    ctx = ctx or DistContext()
    indices = list(range(len(dataset))) if indices is None else list(indices)
    lengths = dataset.lengths()
    sampler = BucketSampler([lengths[i] for i in indices], max_frames, shuffle=False,
                            num_replicas=ctx.world_size, rank=ctx.rank)
    was_training = model.training
    model.eval()
    counts = ErrorCounts()
    problems: list[tuple[str, str, str]] = []
    batches = list(sampler)
    slots = SlotDataset(dataset, indices, [Slot(k, b, True, len(b)) for k, b in enumerate(batches)], 0, 0)
    with torch.inference_mode(), autocast(device, precision):
        for positions, batch in zip(batches, slot_loader(slots, workers, False), strict=True):
            problems += batch.problems
            if not batch.real:
                continue
            bad = {path for path, _, _ in batch.problems}  # left out of the batch
            chosen = [i for i in (indices[p] for p in positions) if dataset.source(i) not in bad]
            assert len(chosen) == len(batch.sources), (chosen, batch.sources)
            batch = batch.to(device)
            log_probs, out_lengths = model(batch.features, batch.lengths)
            log_probs = log_probs.float().cpu().numpy()
            for row, i in enumerate(chosen):
                hyp = dataset.alphabet.decode(greedy_decode(log_probs[row, : int(out_lengths[row])]))
                counts.add(dataset.alphabet.decode(dataset.targets[i].tolist()), hyp)
    model.train(was_training)
    totals = torch.tensor([counts.char_edits, counts.chars, counts.word_edits, counts.words, counts.utterances],
                          dtype=torch.int64, device=device)
    totals = all_reduce_sum(totals, ctx).tolist()
    counts = ErrorCounts(*totals)
    return DevResult(name, counts.wer, counts.cer, counts.utterances, problems)
