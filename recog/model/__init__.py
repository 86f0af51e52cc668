"""The BiLSTM-CTC network and its configuration."""

from recog.model.bilstm_ctc import BiLSTMCTC
from recog.model.config import ModelConfig

__all__ = ["BiLSTMCTC", "ModelConfig"]
