import numpy as np

from recog.data.sampler import BucketSampler


def test_every_index_once_and_budget_kept():
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 800, size=500).tolist()
    s = BucketSampler(lengths, max_frames=4000, shuffle=True, seed=1)
    batches = s.batches()
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(500))
    for b in batches:
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 4000


def test_similar_lengths_together_and_order_changes_per_epoch():
    lengths = list(range(10, 1010, 10))
    s = BucketSampler(lengths, max_frames=2000, shuffle=True, seed=0)
    spreads = [max(lengths[i] for i in b) / min(lengths[i] for i in b) for b in s.batches() if len(b) > 1]
    assert np.median(spreads) < 1.5
    first = s.batches()
    s.set_epoch(1)
    assert s.batches() != first
    s.set_epoch(0)
    assert s.batches() == first  # deterministic per epoch


def test_no_shuffle_is_sorted():
    s = BucketSampler([5, 3, 9, 1], max_frames=100, shuffle=False)
    assert [i for b in s for i in b] == [3, 1, 0, 2]


def test_sortagrad_first_epoch_shortest_first():
    lengths = list(range(100, 0, -1))
    s = BucketSampler(lengths, max_frames=300, shuffle=True, seed=0, sortagrad=True)
    firsts = [max(lengths[i] for i in b) for b in s.batches()]
    rising = np.mean(np.diff(firsts) > 0)
    assert firsts[0] < 25 and firsts[-1] > 90 and rising >= 0.75
    s.set_epoch(1)
    later = [max(lengths[i] for i in b) for b in s.batches()]
    assert np.mean(np.diff(later) > 0) < 0.7


def _lengths(n=203, seed=3):
    return np.random.default_rng(seed).integers(20, 400, size=n).tolist()


def test_ranks_share_the_batches_without_duplicates_or_drops():
    lengths = _lengths()
    whole = BucketSampler(lengths, max_frames=1500, seed=7)
    whole.set_epoch(2)
    batches = whole.batches()
    for replicas in (1, 2, 3, 5):
        for accum in (1, 2):
            plans = []
            for rank in range(replicas):
                s = BucketSampler(lengths, max_frames=1500, seed=7, num_replicas=replicas, rank=rank)
                s.set_epoch(2)
                assert s.batches() == batches  # the same list on every rank
                assert list(s) == batches[rank::replicas]
                plans.append(s.plan(accum))
            steps = {len(p) for p in plans}
            assert steps == {-(-len(batches) // (replicas * accum))}  # every rank: same number of steps
            real = sorted(slot.index for p in plans for step in p for slot in step if slot.real)
            assert real == list(range(len(batches)))  # each batch once
            for rank, plan in enumerate(plans):
                mine = [slot for step in plan for slot in step if slot.real]
                assert [slot.indices for slot in mine] == batches[rank::replicas]
                assert all(len(step) == accum for step in plan)
            for s in range(len(plans[0])):  # group size = real utterances of the whole step
                group = [slot for p in plans for slot in p[s]]
                assert {slot.group_size for slot in group} == {sum(len(slot.indices) for slot in group if slot.real)}
            padding = [slot for p in plans for step in p for slot in step if not slot.real]
            assert len(padding) == len(plans[0]) * replicas * accum - len(batches)
            assert all(slot.index >= len(batches) for slot in padding)


def test_plan_from_a_mid_epoch_position():
    lengths = _lengths()
    s = BucketSampler(lengths, max_frames=1500, seed=1, num_replicas=2, rank=1)
    full = s.plan(accum=2)
    assert s.plan(accum=2, start=8) == full[2:]  # 2 steps x 2 ranks x 2 micro-batches already done
    assert s.steps_per_epoch(accum=2, start=8) == len(full) - 2
