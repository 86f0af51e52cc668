"""Dynamic int8 quantization of an exported model, accepted only if dev accuracy holds.

`onnxruntime.quantization.quantize_dynamic` stores int8 weights and quantizes
activations on the fly (per batch), so no calibration data is needed. LSTM
nodes become `DynamicQuantizeLSTM`, MatMul nodes `DynamicQuantizeMatMul`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

from recog.export.dev_rates import dev_error_rates
from recog.export.errors import ExportError
from recog.export.onnx_file import save_atomic, write_metadata
from recog.runtime.model_file import read_model_info

# Conv stays fp32: ConvInteger is slower than the fp32 kernel in onnxruntime on CPU
# and the front end is a small part of the cost.
OP_TYPES = ["LSTM", "MatMul"]


class QuantizationRefused(ExportError):
    """The int8 model lost more accuracy than allowed; `report` holds the numbers."""

    def __init__(self, message: str, report: QuantizeReport):
        super().__init__(message)
        self.report = report


@dataclass
class QuantizeReport:
    """Dev error rates (percent) of the fp32 and int8 models.

    Attributes:
        path: the int8 model (only written when accepted).
        fp32, int8: dev set name -> {"wer": ..., "cer": ...}.
        max_increase: largest growth of any WER or CER, in points (percent absolute).
        size_bytes: size of the int8 file (0 when refused).
    """

    path: Path
    fp32: dict[str, dict[str, float]] = field(default_factory=dict)
    int8: dict[str, dict[str, float]] = field(default_factory=dict)
    max_increase: float = 0.0
    size_bytes: int = 0

    def lines(self) -> list[str]:
        """Human-readable table rows."""
        out = []
        for name, a in self.fp32.items():
            b = self.int8[name]
            out.append(f"{name}: WER {a['wer']:.2f} -> {b['wer']:.2f} ({b['wer'] - a['wer']:+.2f}), "
                       f"CER {a['cer']:.2f} -> {b['cer']:.2f} ({b['cer'] - a['cer']:+.2f})")
        return out


def quantize_weights(source: str | Path, target: str | Path) -> None:
    """`quantize_dynamic` with int8 weights, without its advice to pre-process (logged on the root logger)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=OP_TYPES)
    finally:
        root.setLevel(level)


def quantize_int8(
    fp32_path: str | Path,
    output: str | Path,
    dev: list[str | Path],
    max_increase: float = 0.5,
    threads: int = 0,
    metrics_from: str | Path | None = None,
) -> QuantizeReport:
    """Quantize `fp32_path` to `output` if dev WER and CER grow by at most `max_increase` points.

    Raises `QuantizationRefused` (no file written) otherwise, `ExportError` when
    `dev` is empty. The int8 file's metadata carries its own measured dev metrics, or those of
    the int8 model file `metrics_from` (for a model whose dev sets were its training data: the
    held-out run's int8 file; `recog.metrics_about` stays the fp32 file's).
    """
    fp32_path, output = Path(fp32_path), Path(output)
    if not dev:
        raise ExportError(f"{output}: int8 quantization needs a dev manifest to check accuracy (--dev)")
    info = read_model_info(fp32_path)
    tmp = output.with_name(f".{output.name}.tmp{os.getpid()}")
    try:
        quantize_weights(fp32_path, tmp)
        report = QuantizeReport(output)
        for manifest in dev:
            name = Path(manifest).stem
            report.fp32[name] = dev_error_rates(fp32_path, manifest, threads)
            report.int8[name] = dev_error_rates(tmp, manifest, threads)
        report.max_increase = max(report.int8[n][k] - report.fp32[n][k] for n in report.fp32 for k in ("wer", "cer"))
        if report.max_increase > max_increase:
            raise QuantizationRefused(
                f"{output}: int8 refused, dev error grows by {report.max_increase:.2f} points "
                f"(> {max_increase}): " + "; ".join(report.lines()), report)
        proto = onnx.load(str(tmp))
        info.quantization = "int8"
        if metrics_from is None:
            info.metrics = {f"{n}_{k}": v for n, rates in report.int8.items() for k, v in rates.items()}
        else:
            info.metrics = read_model_info(metrics_from).metrics
        write_metadata(proto, info)
        save_atomic(proto, output)
        report.size_bytes = output.stat().st_size
        return report
    finally:
        tmp.unlink(missing_ok=True)
