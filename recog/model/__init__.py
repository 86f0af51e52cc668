"""The BiLSTM-CTC network, its configuration and reading checkpoints.

`ModelConfig` is a plain dataclass; `BiLSTMCTC` (torch) is imported on first use,
so reading a recipe configuration never loads torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recog.model.config import ModelConfig

if TYPE_CHECKING:
    from recog.model.bilstm_ctc import BiLSTMCTC

__all__ = ["BiLSTMCTC", "ModelConfig"]


def __getattr__(name: str) -> Any:
    if name == "BiLSTMCTC":
        from recog.model.bilstm_ctc import BiLSTMCTC

        return BiLSTMCTC
    raise AttributeError(f"module 'recog.model' has no attribute {name!r}")
