"""The model file format `recog-onnx-1`: what an exported `model.onnx` says about itself.

The full specification (graph inputs/outputs, every key, the feature pipeline) is
docs/model-format.md. This module reads and writes the `metadata_props`:

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
    recog.metrics_about what the metrics were measured on (which speakers or writers, which run);
                        optional
    recog.quantization  "none" or "int8"
    recog.members       JSON list naming the networks of an ensemble (their posteriors are averaged
                        inside the graph), e.g. ["digits seed 0", "digits seed 1"]; [] or absent
                        for one network
    recog.combine       how an ensemble's members are combined: "sequence" (the graph's third
                        output `member_log_probs` [B, T', M, V] holds each member's log-probs;
                        decoders choose among the members' texts) or "frame" (the mean
                        posteriors in `log_probs` are decoded); "" or absent for one network
    recog.config        JSON of the whole recipe configuration (for the record)

Torch-free: the exporter writes through `ModelInfo.to_props`, the runtime reads with
`read_model_info` / `ModelInfo.from_props`. Paths inside `recog.config` are stored
relative to the folder the export ran in (the repository root), never absolute.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recog.config import RecipeConfig, to_dict
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
        metrics_about: what `metrics` were measured on, e.g. "held-out speaker jackson,
            recipe digits seed 0" ("" when not stated).
        quantization: "none" or "int8".
        config: the full recipe configuration as a plain dict ({} if unknown); for an
            ensemble, its first member's.
        members: the networks of an ensemble ("<recipe> seed <n>"), [] for one network.
        combine: an ensemble's combination, "sequence" or "frame" ("" for one network).
    """

    alphabet: Alphabet
    features: AudioFeatureConfig | InkFeatureConfig
    normalizer: TextNormalizer
    subsampling: int
    frame_rate: float
    modality: str = "audio"
    name: str = "recipe"
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_about: str = ""
    quantization: str = "none"
    config: dict[str, Any] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)
    combine: str = ""

    @classmethod
    def from_recipe(cls, config: RecipeConfig, alphabet: Alphabet, metrics: dict[str, float] | None = None,
                    metrics_about: str = "") -> ModelInfo:
        """The metadata of a model trained with `config`: dev WER/CER kept from `metrics`,
        the recipe stored with repository-relative paths (`portable_config`)."""
        sub = config.model.subsampling
        features = config.feature_config
        kept = {k: float(v) for k, v in (metrics or {}).items() if k.endswith(("_wer", "_cer")) and v is not None}
        return cls(alphabet=alphabet, features=features, normalizer=config.text.normalizer, subsampling=sub,
                   frame_rate=features.frame_rate / sub, modality=config.data.modality, name=config.name,
                   metrics=kept, metrics_about=metrics_about, config=portable_config(to_dict(config)))

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
            "metrics_about": self.metrics_about,
            "quantization": self.quantization,
            "config": json.dumps(self.config, ensure_ascii=False),
            "members": json.dumps(self.members, ensure_ascii=False),
            "combine": self.combine,
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
                metrics_about=props.get(PREFIX + "metrics_about", ""),
                quantization=props.get(PREFIX + "quantization", "none"),
                config=json.loads(props.get(PREFIX + "config", "{}")),
                members=[str(m) for m in json.loads(props.get(PREFIX + "members", "[]"))],
                combine=props.get(PREFIX + "combine", ""),
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
        ort_model = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelFormatError(f"{path}: cannot load ONNX model ({err})") from None
    return ModelInfo.from_props(ort_model.get_modelmeta().custom_metadata_map, path)


def portable_config(config: dict[str, Any], root: str | Path | None = None) -> dict[str, Any]:
    """The recipe dict with `base_dir` relative to `root` (default: the working directory).

    A `base_dir` outside `root` becomes "." so that no file carries the building
    machine's absolute paths.
    """
    out = dict(config)
    base = out.get("base_dir")
    if base and os.path.isabs(base):
        rel = os.path.relpath(base, Path(root or os.getcwd()).resolve())
        out["base_dir"] = "." if rel.startswith("..") else rel
    return out
