"""Torch-free inference: an exported `model.onnx` served by onnxruntime, numpy features, numba decoding.

    from recog.runtime import Recognizer
    rec = Recognizer.from_onnx("model.onnx", threads=2, decoder="beam", lm="lm.arpa")
    transcripts = rec.transcribe(["a.wav", "b.wav"])   # list[Transcript]

Nothing here imports torch (a test checks `"torch" not in sys.modules`); a
deployment installs `recog[runtime]`.
"""

from recog.runtime.metadata import ModelFormatError, ModelInfo, read_model_info
from recog.runtime.onnx_model import OnnxAcousticModel
from recog.runtime.recognizer import Recognizer, Transcript

__all__ = ["ModelFormatError", "ModelInfo", "OnnxAcousticModel", "Recognizer", "Transcript", "read_model_info"]
