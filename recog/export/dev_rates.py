"""Dev error rates of an exported file: which dev sets a recipe names, and greedy WER/CER on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recog.export.errors import ExportError


def recipe_dev_sets(config: dict[str, Any]) -> list[Path]:
    """The dev manifests named by a recipe dict (as stored in a model file), existing ones only.

    Relative paths are taken from the recipe's `base_dir` (the folder of its TOML file).
    """
    base = Path(config.get("base_dir", "."))
    paths = [p if p.is_absolute() else base / p for p in map(Path, config.get("data", {}).get("dev", []))]
    return [p for p in paths if p.is_file()]


def dev_error_rates(model_path: str | Path, manifest: str | Path, threads: int = 0) -> dict[str, float]:
    """Greedy-decoding WER/CER (percent) of an ONNX model on a manifest."""
    from recog.runtime import Recognizer
    from recog.runtime.evaluation import evaluate

    result = evaluate(Recognizer.from_onnx(model_path, threads=threads), manifest, progress=False)
    if result.utterances == 0:
        raise ExportError(f"{manifest}: no usable utterance to measure accuracy on")
    return {"wer": round(result.wer, 3), "cer": round(result.cer, 3)}


def dev_metrics(model_path: str | Path, manifests: list[Path], threads: int = 0) -> dict[str, float]:
    """{"<manifest stem>_wer": ..., "<manifest stem>_cer": ...} over `manifests` (the metadata's form)."""
    return {f"{Path(m).stem}_{k}": v for m in manifests
            for k, v in dev_error_rates(model_path, m, threads).items()}
