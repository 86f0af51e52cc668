"""ONNX export of a trained checkpoint: graph + metadata, parity check, int8 quantization.

Training side (needs torch and onnx). The runtime that reads the result is
`recog.runtime` (torch-free).

    from recog.export import export_onnx, quantize_int8
    report = export_onnx("exp/digits/best.pt", "model.onnx")     # fails on parity > 1e-4
    q = quantize_int8("model.onnx", "model.int8.onnx", dev=["dev.jsonl"])  # refused if CER/WER grow > 0.5
"""

from recog.export.errors import ExportError
from recog.export.onnx_export import ExportReport, export_onnx
from recog.export.parity import check_parity
from recog.export.quantize import QuantizeReport, quantize_int8

__all__ = ["ExportError", "ExportReport", "QuantizeReport", "check_parity", "export_onnx", "quantize_int8"]
