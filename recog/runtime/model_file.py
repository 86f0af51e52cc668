"""What an exported model file says about itself: the `metadata_props` of `model.onnx`.

Every key starts with `recog.`; values are strings (JSON where structured):

    recog.format        "recog-onnx-1"
    recog.alphabet      JSON list of the non-blank tokens (index 1..V-1; blank = 0)
    recog.features      JSON `AudioFeatureConfig` (rate, mel parameters, normalization) for audio,
                        JSON `InkFeatureConfig` (normalization, resampling, encoding) for ink
    recog.normalizer    JSON `TextNormalizer` (how references are normalized)
    recog.subsampling   time reduction of the network (feature frames per output frame)
    recog.frame_rate    output frames per second (feature frame rate / subsampling); for ink,
                        output frames per feature vector (1 / subsampling)
    recog.modality      "audio" (or "ink")
    recog.recipe        the training recipe's name
    recog.metrics       JSON dev metrics measured in training (`<dev set>_wer`/`_cer`, percent)
    recog.quantization  "none" or "int8"
    recog.config        JSON of the whole recipe configuration (for the record)

Torch-free: both the exporter (writes) and the runtime (reads) use it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recog.features.config import AudioFeatureConfig
from recog.features.ink.config import InkFeatureConfig
from recog.text import Alphabet, TextNormalizer

FORMAT = "recog-onnx-1"
PREFIX = "recog."


class ModelFormatError(ValueError):
    """An ONNX file lacks recog metadata or holds invalid values; the message names the file."""


@dataclass
class ModelInfo:
    """Everything the runtime needs besides the weights.

    Attributes:
        alphabet: output tokens (blank = 0).
        features: feature extraction parameters (`InkFeatureConfig` when modality is "ink").
        normalizer: the recipe's text normalization.
        subsampling: feature frames per output frame.
        frame_rate: output (log-prob) frames per second.
        modality: "audio" or "ink".
        name: recipe name.
        metrics: dev metrics in percent, e.g. {"dev_strings_wer": 3.1, ...}.
        quantization: "none" or "int8".
        config: the full recipe configuration as a plain dict ({} if unknown).
    """

    alphabet: Alphabet
    features: AudioFeatureConfig | InkFeatureConfig
    normalizer: TextNormalizer
    subsampling: int
    frame_rate: float
    modality: str = "audio"
    name: str = "recipe"
    metrics: dict[str, float] = field(default_factory=dict)
    quantization: str = "none"
    config: dict[str, Any] = field(default_factory=dict)

    def to_props(self) -> dict[str, str]:
        """The `metadata_props` key/value strings."""
        values: dict[str, Any] = {
            "format": FORMAT,
            "alphabet": json.dumps(self.alphabet.tokens[1:], ensure_ascii=False),
            "units": self.alphabet.units,
            "features": json.dumps(dataclasses.asdict(self.features)),
            "normalizer": json.dumps(dataclasses.asdict(self.normalizer), ensure_ascii=False),
            "subsampling": str(self.subsampling),
            "frame_rate": repr(float(self.frame_rate)),
            "modality": self.modality,
            "recipe": self.name,
            "metrics": json.dumps(self.metrics),
            "quantization": self.quantization,
            "config": json.dumps(self.config, ensure_ascii=False),
        }
        return {PREFIX + k: v for k, v in values.items()}

    @classmethod
    def from_props(cls, props: dict[str, str], where: str | Path = "model") -> ModelInfo:
        """Parse `metadata_props`; raises `ModelFormatError` naming `where` on any problem."""
        fmt = props.get(PREFIX + "format")
        if fmt is None:
            raise ModelFormatError(f"{where}: not a recog model (no {PREFIX}format in its metadata; "
                                   "export it with `recog export`)")
        if fmt != FORMAT:
            raise ModelFormatError(f"{where}: unsupported model format {fmt!r} (this runtime reads {FORMAT!r})")
        try:
            get = lambda key: props[PREFIX + key]  # noqa: E731
            modality = get("modality")
            feature_type = {"audio": AudioFeatureConfig, "ink": InkFeatureConfig}.get(modality)
            if feature_type is None:
                raise ValueError(f"unknown modality {modality!r}")
            return cls(
                alphabet=Alphabet(json.loads(get("alphabet")), props.get(PREFIX + "units", "char")),
                features=feature_type(**json.loads(get("features"))),
                normalizer=TextNormalizer(**json.loads(get("normalizer"))),
                subsampling=int(get("subsampling")),
                frame_rate=float(get("frame_rate")),
                modality=modality,
                name=get("recipe"),
                metrics=json.loads(props.get(PREFIX + "metrics", "{}")),
                quantization=props.get(PREFIX + "quantization", "none"),
                config=json.loads(props.get(PREFIX + "config", "{}")),
            )
        except KeyError as err:
            raise ModelFormatError(f"{where}: metadata key {err.args[0]!r} missing") from None
        except (ValueError, TypeError) as err:
            raise ModelFormatError(f"{where}: invalid metadata ({err})") from None


def read_model_info(path: str | Path) -> ModelInfo:
    """Read the metadata of an ONNX file with onnxruntime (no `onnx` package, no torch)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"{path}: model file not found")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelFormatError(f"{path}: cannot load ONNX model ({err})") from None
    return ModelInfo.from_props(session.get_modelmeta().custom_metadata_map, path)
