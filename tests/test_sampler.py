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
