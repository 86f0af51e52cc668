"""recog: speech and online-handwriting recognition with BiLSTM-CTC, a numba beam search and ONNX.

    from recog import Recognizer
    rec = Recognizer.from_onnx("models/digits-en/model.int8.onnx")
    print(rec.transcribe(["a.wav"])[0].text)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from recog import _cache  # noqa: F401  (sets NUMBA_CACHE_DIR before any numba import; see recog/_cache.py)

try:
    __version__ = version("recog")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from recog.runtime import Recognizer

__all__ = ["Recognizer", "__version__"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so `import recog` (and `recog --version`) stays instant.
    if name == "Recognizer":
        from recog.runtime import Recognizer

        return Recognizer
    raise AttributeError(f"module 'recog' has no attribute {name!r}")
