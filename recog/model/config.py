"""Model configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ModelConfig:
    """Shape of a `BiLSTMCTC` network.

    Attributes:
        input_dim: feature dimension F (n_mels for audio, stroke-vector size for ink);
            0 means "take it from the feature config".
        vocab_size: output classes V including the blank; 0 means "from the alphabet".
        subsampling: time reduction of the convolutional front end: 1, 2 or 4.
        conv_channels: channels of the front end's 1-D convolutions; 0 = no front end
            (only allowed with subsampling 1).
        conv_kernel: kernel width (frames) of each convolution; odd.
        lstm_layers: stacked bidirectional LSTM layers.
        hidden_size: LSTM units per direction.
        dropout: dropout between LSTM layers and before the output layer.
    """

    input_dim: int = 0
    vocab_size: int = 0
    subsampling: int = 2
    conv_channels: int = 128
    conv_kernel: int = 5
    lstm_layers: int = 3
    hidden_size: int = 192
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if self.subsampling not in (1, 2, 4):
            raise ValueError(f"model.subsampling must be 1, 2 or 4, got {self.subsampling}")
        if self.conv_channels == 0 and self.subsampling != 1:
            raise ValueError("model.subsampling > 1 needs a convolutional front end (conv_channels > 0)")
        if self.conv_kernel % 2 != 1:
            raise ValueError(f"model.conv_kernel must be odd, got {self.conv_kernel}")
