"""The one inference package: model files, backends, the `Recognizer`, batch jobs, evaluation.

    from recog.runtime import Recognizer
    from recog.decode import DecoderConfig
    rec = Recognizer.from_onnx("model.onnx", threads=2, decoder=DecoderConfig(kind="beam", lm="lm.arpa"))
    transcripts = rec.transcribe(["a.wav", "b.wav"])   # list[Transcript]

Modules: `model_file` (the `recog-onnx-1` metadata, `ModelInfo`) · `modality` (audio | ink:
reader, featurizer, extensions) · `backends` (ONNX; a torch checkpoint only when one is given) ·
`recognizer` (batching, long-input chunking) · `batch_job` (inputs, sinks, shards, resume) ·
`evaluation` (WER/CER on a manifest) · `chunking`, `sources`, `batching`, `formats` (helpers).

Nothing here imports torch unless a `.pt` checkpoint is opened (a test checks
`"torch" not in sys.modules`); a deployment installs `recog` without the `train` extra.
"""

from recog.runtime.backends import AcousticModel, load_acoustic_model
from recog.runtime.modality import AUDIO, INK, Modality
from recog.runtime.model_file import ModelFormatError, ModelInfo, read_model_info
from recog.runtime.recognizer import Recognizer, Transcript

__all__ = [
    "AUDIO",
    "INK",
    "AcousticModel",
    "Modality",
    "ModelFormatError",
    "ModelInfo",
    "Recognizer",
    "Transcript",
    "load_acoustic_model",
    "read_model_info",
]
