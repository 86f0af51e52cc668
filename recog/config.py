"""Recipe configuration: typed dataclasses loaded from one TOML file per recipe.

An unknown key is an error (never a silent default); `--set a.b=value`
overrides any field from the command line.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recog.features.augment_config import AugmentConfig
from recog.features.config import AudioFeatureConfig
from recog.features.ink.config import InkAugmentConfig, InkFeatureConfig
from recog.model.config import ModelConfig
from recog.text import UNITS, TextNormalizer


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""


@dataclass
class DataConfig:
    """Where the utterances come from.

    Attributes:
        train: training manifests (JSONL), relative to the config file's folder, or shard
            indexes (`index.json` written by `recog shard`, or its folder), not both.
        dev: development manifests; each gets its own WER/CER every epoch, and the
            best checkpoint is chosen on the first one.
        modality: "audio" (features from `[features]`, augmentation from `[augment]`) or
            "ink" (online handwriting: `[ink_features]`, `[ink_augment]`).
        no_speech: training manifests (or shard indexes) of inputs that hold no words (silence,
            noise, hum), each row with an empty transcript: the model learns to answer them with
            blanks. Rows with an empty transcript anywhere else are data errors and are skipped.
        preload: decode every utterance before training and keep it in memory (audio waveforms,
            ink features). Off: utterances are read on access (by the data-loader workers), so
            memory does not grow with the corpus.
        shuffle_buffer: utterances a shard stream buckets and shuffles together (shards only).
    """

    train: list[str] = field(default_factory=list)
    dev: list[str] = field(default_factory=list)
    modality: str = "audio"
    no_speech: list[str] = field(default_factory=list)
    preload: bool = False
    shuffle_buffer: int = 2000

    def __post_init__(self) -> None:
        if self.modality not in ("audio", "ink"):
            raise ValueError(f"data.modality must be 'audio' or 'ink', got {self.modality!r}")
        if self.shuffle_buffer < 1:
            raise ValueError(f"data.shuffle_buffer must be >= 1, got {self.shuffle_buffer}")


@dataclass
class TextConfig:
    """Alphabet and normalization.

    Attributes:
        alphabet: the characters (without blank); "" derives them from the training text.
            With word units: the words, separated by spaces.
        units: "char" (spell words, the default) or "word" (one output token per word
            of a closed vocabulary, e.g. the ten digits; greedy and plain beam decoding,
            no LM, lexicon or hotwords).
        normalizer: text normalization applied to every transcript.
    """

    alphabet: str = ""
    units: str = "char"
    normalizer: TextNormalizer = field(default_factory=TextNormalizer)

    def __post_init__(self) -> None:
        if self.units not in UNITS:
            raise ValueError(f"text.units must be one of {UNITS}, got {self.units!r}")


@dataclass
class TrainConfig:
    """Optimization.

    Batches and data parallelism: a batch holds at most `max_frames` padded
    input frames; one optimizer step takes `accum_grad` batches on each of the
    N processes that `torchrun --nproc-per-node N` starts (N = 1 for a plain
    `recog train`), so the global batch is N * accum_grad batches. The loss of
    a step is the sum over its utterances of (CTC loss / target tokens) divided
    by the utterances in the global batch: the mean per utterance, the same
    whatever N and accum_grad split the same global batch into. Learning rate
    and warm-up are per optimizer step and are not rescaled with N.

    Attributes:
        epochs: passes over the training data.
        max_frames: padded input frames per batch (the batch size, in frames).
        accum_grad: batches per process whose gradients are accumulated into
            one optimizer step (gradient accumulation; 1 = none).
        lr: peak learning rate of AdamW.
        weight_decay: AdamW decoupled weight decay.
        warmup_steps: linear warm-up steps before cosine decay.
        final_lr_ratio: the cosine decays to lr * final_lr_ratio.
        grad_clip: maximum gradient L2 norm.
        device: "auto" (CUDA when present), "cpu" or "cuda" (under torchrun, cuda:LOCAL_RANK).
        precision: "auto" (bf16 autocast on CUDA, fp32 on CPU), "fp32" or "bf16".
        num_workers: data-loader worker processes per rank that read, decode, featurize
            and augment the batches (0 = in the main process; -1 = auto: up to 4 on CUDA,
            0 on CPU, where they only help with idle cores: BENCHMARKS.md, training data).
        threads: torch intra-op threads on CPU (0 = torch's default).
        max_minutes: stop after the epoch that passes this wall time (0 = no limit).
        sortagrad: first epoch in order of increasing length (see BucketSampler).
        checkpoint_every_steps: also write a resumable checkpoint every this many
            optimizer steps, mid-epoch (0 = only at the end of each epoch).
        keep_checkpoints: step checkpoints kept in OUT_DIR/checkpoints, newest
            first (0 = keep all); `last.pt` is always the newest.
        average_last: keep the weights of the last N epochs (OUT_DIR/epochs/) and
            write their mean as OUT_DIR/averaged.pt, validated on the dev sets
            (0 = off; see `recog.train.average`).
        max_skip_fraction: the run fails when more than this fraction of the
            training utterances is unusable (see `OUT_DIR/data_report.json`) or
            of the optimizer steps so far was skipped for a NaN/inf loss or gradient.
        ensemble: train this many runs of the recipe, seeds seed .. seed + K - 1, into
            OUT_DIR/seed<N>/ (1 = one run into OUT_DIR; see `recog.train.ensemble`);
            `recog export` of their checkpoints writes one ensemble graph.
        ensemble_jobs: members trained side by side (the cores are split between them).
    """

    epochs: int = 30
    max_frames: int = 20000
    accum_grad: int = 1
    lr: float = 2e-3
    weight_decay: float = 1e-2
    warmup_steps: int = 200
    final_lr_ratio: float = 0.02
    grad_clip: float = 5.0
    device: str = "auto"
    precision: str = "auto"
    num_workers: int = -1
    threads: int = 0
    max_minutes: float = 0.0
    sortagrad: bool = True
    checkpoint_every_steps: int = 0
    keep_checkpoints: int = 3
    average_last: int = 0
    max_skip_fraction: float = 0.05
    ensemble: int = 1
    ensemble_jobs: int = 1

    def __post_init__(self) -> None:
        if self.ensemble < 1 or self.ensemble_jobs < 1:
            raise ValueError(f"train.ensemble and train.ensemble_jobs must be >= 1, got {self.ensemble} and "
                             f"{self.ensemble_jobs}")
        if self.accum_grad < 1:
            raise ValueError(f"train.accum_grad must be >= 1, got {self.accum_grad}")
        if self.checkpoint_every_steps < 0 or self.keep_checkpoints < 0 or self.average_last < 0:
            raise ValueError("train.checkpoint_every_steps, train.keep_checkpoints and train.average_last "
                             "must be >= 0")
        if not 0.0 <= self.max_skip_fraction <= 1.0:
            raise ValueError(f"train.max_skip_fraction must be in [0, 1], got {self.max_skip_fraction}")


@dataclass
class RecipeConfig:
    """A whole recipe: one TOML file.

    Attributes:
        name: recipe name (written into checkpoints and model cards).
        out_dir: where checkpoints and logs go, relative to the working directory.
        seed: seed of initialization, sampling and augmentation.
        base_dir: folder that relative data paths start from (the config file's;
            filled in by `load_config`).
        features, augment: audio features and augmentation (modality "audio").
        ink_features, ink_augment: ink features and augmentation (modality "ink").
    """

    name: str = "recipe"
    out_dir: str = "exp/recipe"
    seed: int = 0
    base_dir: str = "."
    data: DataConfig = field(default_factory=DataConfig)
    text: TextConfig = field(default_factory=TextConfig)
    features: AudioFeatureConfig = field(default_factory=AudioFeatureConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    ink_features: InkFeatureConfig = field(default_factory=InkFeatureConfig)
    ink_augment: InkAugmentConfig = field(default_factory=InkAugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def feature_config(self) -> AudioFeatureConfig | InkFeatureConfig:
        """The feature configuration of this recipe's modality."""
        return self.ink_features if self.data.modality == "ink" else self.features

    @property
    def input_dim(self) -> int:
        """Feature dimension F the model reads: n_mels (audio) or the ink vector size."""
        return self.ink_features.dim if self.data.modality == "ink" else self.features.n_mels

    def resolve(self, rel: str) -> Path:
        """A data path from the config, made absolute against `base_dir`."""
        p = Path(rel)
        return p if p.is_absolute() else Path(self.base_dir) / p


def from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """Build dataclass `cls` from nested dicts; unknown keys raise ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join((where + '.' if where else '') + k for k in unknown)}; "
                          f"known: {', '.join(sorted(names))}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        path = f"{where}.{key}" if where else key
        if dataclasses.is_dataclass(hint):
            kwargs[key] = from_dict(hint, value, path)
        else:
            kwargs[key] = _check_type(value, hint, path)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where or cls.__name__}: {err}") from None


def _check_type(value: Any, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint) or hint
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (list, dict, str, int, float, bool) and not isinstance(value, origin):
        raise ConfigError(f"{path}: expected {getattr(hint, '__name__', hint)}, got {value!r}")
    if origin is int and isinstance(value, bool):
        raise ConfigError(f"{path}: expected int, got {value!r}")
    return value


def to_dict(config: Any) -> dict[str, Any]:
    """Dataclass -> plain nested dict (for checkpoints and metadata)."""
    return dataclasses.asdict(config)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (["a", "b"], value); the value is read as TOML/JSON, else a string."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
    return key.strip().split("."), value


def load_config(path: str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    """Read a recipe TOML file, apply `key=value` overrides, validate every key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML ({err})") from None
    for text in overrides or []:
        keys, value = parse_override(text)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {k} is not a table")
        node[keys[-1]] = value
    data.setdefault("base_dir", str(path.resolve().parent))
    try:
        return from_dict(RecipeConfig, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def recipe_from_dict(data: dict[str, Any]) -> RecipeConfig:
    """Rebuild a RecipeConfig saved with `to_dict` (e.g. from a checkpoint)."""
    return from_dict(RecipeConfig, data)
