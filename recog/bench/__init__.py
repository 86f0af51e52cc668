"""Benchmarks behind `recog bench {decode,runtime,train}`.

- `decode`: CTC beam search decoders side by side (ours vs flashlight-text,
  pyctcdecode, fast-ctc-decode) on the same log-probs: utterances/s, WER, CER.
- `runtime`: the full transcription pipeline (PyTorch eager vs onnxruntime
  fp32/int8): real-time factor and peak memory.
- `train`: training throughput of a recipe's model (frames/s, utterances/s)
  and its achieved FLOP/s against this machine's measured matmul peak.

Each module prints Markdown tables for BENCHMARKS.md. Nothing here is imported
by the library proper; torch is imported only where a benchmark needs it.
"""
