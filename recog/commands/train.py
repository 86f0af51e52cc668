"""`recog train CONFIG [--set key=value ...] [--resume]` (also one process per device under torchrun)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a recipe (under `torchrun --nproc-per-node N -m recog train`: on N devices)")
    p.add_argument("config", help="recipe config (TOML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set train.epochs=5 (repeatable)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT_DIR/last.pt (or the newest intact step checkpoint)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recog.config import ConfigError, load_config
    from recog.model.checkpoint import CheckpointError
    from recog.text import UnknownCharactersError
    from recog.train.data_report import TooManySkipsError
    from recog.train.trainer import Trainer

    try:
        config = load_config(args.config, args.overrides)
        trainer = Trainer(config, resume=args.resume)
        record = trainer.run()
    except (ConfigError, UnknownCharactersError, CheckpointError, TooManySkipsError) as err:
        raise SystemExit(f"error: {err}") from None
    if trainer.is_main:
        print(json.dumps(record))
    return 0
