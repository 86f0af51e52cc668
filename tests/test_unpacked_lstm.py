"""The CPU training path (`run_unpacked`) computes what the packed LSTM does, values and gradients."""

import torch
from torch import nn

from recog.model.unpacked_lstm import reverse_within_lengths, run_unpacked


def _packed(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = lstm(packed)
    return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


def test_reverse_within_lengths_keeps_padding_and_inverts():
    x = torch.arange(2 * 5, dtype=torch.float32).reshape(2, 5, 1)
    lengths = torch.tensor([5, 3])
    rev = reverse_within_lengths(x, lengths)
    assert rev[0, :, 0].tolist() == [4, 3, 2, 1, 0]
    assert rev[1, :, 0].tolist() == [7, 6, 5, 8, 9]
    assert torch.equal(reverse_within_lengths(rev, lengths), x)


def test_unpacked_equals_packed_values_and_gradients():
    torch.manual_seed(0)
    lstm = nn.LSTM(6, 10, num_layers=3, bidirectional=True, batch_first=True, dropout=0.0)
    lengths = torch.tensor([31, 7, 19, 1, 31])
    x = torch.randn(5, 31, 6)
    target = torch.randn(5, 31, 20)
    ref = _packed(lstm, x, lengths)
    ref_grads = torch.autograd.grad((ref * target).sum(), list(lstm.parameters()))
    out = run_unpacked(lstm, x, lengths)
    grads = torch.autograd.grad((out * target).sum(), list(lstm.parameters()))
    assert torch.allclose(out, ref, atol=1e-5)
    assert (out[1, 7:] == 0).all() and (out[3, 1:] == 0).all()
    for g, r in zip(grads, ref_grads, strict=True):
        assert torch.allclose(g, r, atol=1e-4)


def test_unpacked_dropout_only_in_training():
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 8, num_layers=2, bidirectional=True, batch_first=True, dropout=0.5)
    x, lengths = torch.randn(3, 9, 4), torch.tensor([9, 4, 6])
    lstm.eval()
    assert torch.allclose(run_unpacked(lstm, x, lengths), _packed(lstm, x, lengths), atol=1e-5)
    lstm.train()
    torch.manual_seed(1)
    a = run_unpacked(lstm, x, lengths)
    torch.manual_seed(2)
    b = run_unpacked(lstm, x, lengths)
    assert not torch.allclose(a, b)
