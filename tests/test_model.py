import pytest
import torch

from recog.model import BiLSTMCTC, ModelConfig


@pytest.mark.parametrize("subsampling,conv", [(1, 0), (1, 16), (2, 16), (4, 16)])
def test_padded_batch_equals_one_at_a_time(subsampling, conv):
    torch.manual_seed(0)
    cfg = ModelConfig(input_dim=12, vocab_size=7, subsampling=subsampling, conv_channels=conv,
                      lstm_layers=2, hidden_size=24, dropout=0.3)
    model = BiLSTMCTC(cfg).eval()
    lengths = torch.tensor([57, 23, 9, 40])
    feats = torch.randn(4, 57, 12)
    for i, n in enumerate(lengths):
        feats[i, n:] = 0
    out, out_lengths = model(feats, lengths)
    assert out.shape[:2] == (4, int(out_lengths.max()))
    assert torch.equal(out_lengths, model.output_lengths(lengths))
    for i, n in enumerate(lengths):
        single, single_len = model(feats[i : i + 1, :n], lengths[i : i + 1])
        assert single_len.item() == out_lengths[i].item()
        assert torch.allclose(single[0], out[i, : single_len.item()], atol=1e-5)
    assert torch.allclose(out.exp().sum(-1), torch.ones(out.shape[:2]), atol=1e-4)


def test_config_validation():
    with pytest.raises(ValueError, match="subsampling"):
        ModelConfig(subsampling=3)
    with pytest.raises(ValueError, match="front end"):
        ModelConfig(subsampling=2, conv_channels=0)


def test_cpu_training_path_equals_packed_inference_path():
    """With gradients on CPU the model runs `run_unpacked`; without, the packed LSTM: same outputs."""
    torch.manual_seed(0)
    cfg = ModelConfig(input_dim=8, vocab_size=5, subsampling=2, conv_channels=8, lstm_layers=2, hidden_size=12)
    model = BiLSTMCTC(cfg).eval()
    feats, lengths = torch.randn(3, 40, 8), torch.tensor([40, 13, 27])
    with torch.no_grad():
        packed, _ = model(feats, lengths)
    unpacked, _ = model(feats, lengths)
    assert unpacked.requires_grad
    valid = torch.arange(packed.shape[1])[None, :] < model.output_lengths(lengths)[:, None]
    assert torch.allclose(unpacked[valid], packed[valid], atol=1e-5)
