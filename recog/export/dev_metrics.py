"""Dev error rates of an exported model, measured on the file itself (greedy decoding)."""

from __future__ import annotations

from pathlib import Path

import onnx

from recog.export.errors import ExportError
from recog.export.onnx_file import save_atomic, write_metadata
from recog.runtime.metadata import read_model_info


def dev_error_rates(model_path: str | Path, manifest: str | Path, threads: int = 0) -> dict[str, float]:
    """Greedy-decoding WER/CER (percent) of an ONNX model on a manifest."""
    from recog.evaluate import evaluate
    from recog.inference.decoding import greedy_decoder
    from recog.runtime.onnx_model import OnnxAcousticModel

    model = OnnxAcousticModel(model_path, threads=threads)
    result = evaluate(model, manifest, greedy_decoder(model.alphabet, model.frame_rate), progress=False)
    if result.utterances == 0:
        raise ExportError(f"{manifest}: no usable utterance to measure accuracy on")
    return {"wer": round(result.wer, 3), "cer": round(result.cer, 3)}


def record_dev_metrics(model_path: str | Path, dev: list[str | Path], threads: int = 0) -> dict[str, float]:
    """Measure the model on each dev manifest and store the figures in its metadata
    (`<manifest stem>_wer` / `_cer`, percent, as training names them); returns them."""
    model_path = Path(model_path)
    metrics = {f"{Path(m).stem}_{k}": v for m in dev for k, v in dev_error_rates(model_path, m, threads).items()}
    info = read_model_info(model_path)
    info.metrics = metrics
    proto = onnx.load(str(model_path))
    write_metadata(proto, info)
    save_atomic(proto, model_path)
    return metrics
