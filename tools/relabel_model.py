"""Rewrite the recog metadata of an exported model without touching its graph or weights.

    python tools/relabel_model.py models/digits-en/model.int8.onnx --metrics-about "..."

Stores the recipe with repository-relative paths (`portable_config`, run from the
repository root) and, when given, a new `recog.metrics_about`. The outputs of
the model are unchanged (tests/test_shipped_models.py checks the shipped files).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import onnx

from recog.export.onnx_file import save_atomic, write_metadata
from recog.runtime.model_file import portable_config, read_model_info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path, help="an exported .onnx file")
    p.add_argument("--metrics-about", default=None, help="what the stored metrics were measured on")
    args = p.parse_args(argv)
    info = read_model_info(args.model)
    info.config = portable_config(info.config)
    if args.metrics_about is not None:
        info.metrics_about = args.metrics_about
    proto = onnx.load(str(args.model))
    write_metadata(proto, info)
    save_atomic(proto, args.model)
    print(f"{args.model}: base_dir {info.config.get('base_dir')!r}; metrics_about {info.metrics_about!r}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
