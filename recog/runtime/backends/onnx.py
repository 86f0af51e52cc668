"""An exported `model.onnx` run by onnxruntime (no torch).

Every input's output is independent of the other inputs it is batched with. For fp32
files padded batches guarantee it (the LSTMs read `sequence_lens`). Dynamic int8
quantization cannot: onnxruntime's DynamicQuantizeLSTM takes one activation scale per
call over the whole batch, so one unusual input would change its neighbours' text. An
int8 file therefore runs each input in a call of its own, several calls at a time on
one intra-op thread each (measured on 300 IAM-OnDB lines, 2 cores: 0.66 s against
0.49 s for batches of 16 that were not independent).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort

from recog.runtime.batching import length_buckets, pad_batch
from recog.runtime.modality import modality_of
from recog.runtime.model_file import ModelFormatError, ModelInfo


def session_options(threads: int = 0) -> ort.SessionOptions:
    """onnxruntime `SessionOptions` for the CPU: `threads` intra-op threads (0 = all cores), sequential, no spin-waiting."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(0, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Threads sleep between runs instead of spinning: the pipeline alternates model runs with
    # numpy features and decoding, which spinning threads would starve (measured: 1.5-2x faster).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


class OnnxAcousticModel:
    """See `recog.runtime.backends.AcousticModel`. Reads everything it needs from the file's metadata.

    Args:
        path: a `model.onnx` written by `recog export`.
        threads: onnxruntime intra-op threads (0 = onnxruntime's default, all cores).
        max_batch_frames: padded feature frames per onnxruntime call (batch x longest).
        providers: onnxruntime execution providers (default CPU).

    Attributes:
        one_input_per_call: int8 files run each input alone (see the module docstring).
    """

    def __init__(self, path: str | Path, threads: int = 0, max_batch_frames: int = 24000,
                 providers: list[str] | None = None):
        self.path = Path(path)
        if self.path.is_dir():
            raise ModelFormatError(f"{self.path}: is a directory; give the model's .onnx file")
        if not self.path.is_file():
            raise ModelFormatError(f"{self.path}: model file not found")
        threads = min(max(0, int(threads)), os.cpu_count() or 1)  # more threads than cores only thrash
        self.providers = providers or ["CPUExecutionProvider"]
        self.ort_model = self._load(threads)
        self.info = ModelInfo.from_props(self.ort_model.get_modelmeta().custom_metadata_map, self.path)
        self.modality = modality_of(self.info.modality)
        self.max_batch_frames = max_batch_frames
        self.one_input_per_call = self.info.quantization == "int8"
        outputs = [o.name for o in self.ort_model.get_outputs()]
        # An ensemble combined by sequence gives every member's log-probs, [T', M, V] per input.
        self.output = "member_log_probs" if "member_log_probs" in outputs and self.info.combine == "sequence" \
            else "log_probs"
        self._pool: ThreadPoolExecutor | None = None
        if self.one_input_per_call:
            workers = threads if threads > 0 else (os.cpu_count() or 1)
            if workers > 1:
                self.ort_model = self._load(1)
                self._pool = ThreadPoolExecutor(workers, thread_name_prefix="recog-onnx")

    def _load(self, threads: int) -> ort.InferenceSession:
        try:
            return ort.InferenceSession(str(self.path), session_options(threads), providers=self.providers)
        except Exception as err:  # onnxruntime's own exception types
            raise ModelFormatError(f"{self.path}: cannot load ONNX model ({err})") from None

    def run(self, padded: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One onnxruntime call: [B, T, F] float32, [B] int32 -> (log-probs [B, T', V], out lengths [B]);
        an ensemble combined by sequence gives its members' log-probs [B, T', M, V]."""
        log_probs, out_lengths = self.ort_model.run([self.output, "out_lengths"],
                                                    {"features": padded, "lengths": lengths.astype(np.int32)})
        return log_probs, out_lengths

    def log_probs(self, features: list[np.ndarray]) -> list[np.ndarray]:
        """Features [T_i, F] each -> log-probs [T'_i, V] each ([T'_i, M, V]: the members of an
        ensemble combined by sequence), in length-bucketed batches (int8: one input per call,
        several calls at a time)."""
        if self.one_input_per_call:
            def alone(f: np.ndarray) -> np.ndarray:
                log_probs, out_lengths = self.run(*pad_batch([f]))
                return log_probs[0, : int(out_lengths[0])]

            return list(self._pool.map(alone, features)) if self._pool else [alone(f) for f in features]
        out: list[np.ndarray | None] = [None] * len(features)
        for batch in length_buckets([f.shape[0] for f in features], self.max_batch_frames):
            log_probs, out_lengths = self.run(*pad_batch([features[i] for i in batch]))
            for row, i in enumerate(batch):
                out[i] = log_probs[row, : int(out_lengths[row])]
        return out  # type: ignore[return-value]
