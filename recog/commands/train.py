"""`recog train CONFIG [--set key=value ...] [--resume]` (also one process per device under torchrun)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recog.config import RecipeConfig


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
        if config.train.ensemble > 1:
            return run_ensemble_members(args, config)
        trainer = Trainer(config, resume=args.resume)
        record = trainer.run()
    except (ConfigError, UnknownCharactersError, CheckpointError, TooManySkipsError) as err:
        raise SystemExit(f"error: {err}") from None
    if trainer.is_main:
        print(json.dumps(record))
    if trainer.dist.enabled:
        # Every rank has passed the closing barrier and left the process group; the checkpoints and
        # logs are written and closed. Leave without running the interpreter's teardown: under load,
        # the distributed backend's native threads were seen to abort a finished rank at exit
        # ("terminate called without an active exception"), which torchrun reports as a failed run.
        import os
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def run_ensemble_members(args: argparse.Namespace, config: RecipeConfig) -> int:
    """`train.ensemble = K`: the K member runs (recog.train.ensemble); 1 when any member failed."""
    import os
    import sys

    from recog.train.ensemble import export_command, run_ensemble

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise SystemExit("error: train.ensemble > 1 runs its members as separate processes; start it with "
                         "`recog train`, not under torchrun")
    manifest = run_ensemble(args.config, args.overrides, config, echo=lambda line: print(line, file=sys.stderr))
    print(json.dumps(manifest))
    if manifest["failed"]:
        seeds = ", ".join(str(f["seed"]) for f in manifest["failed"])
        print(f"error: ensemble member(s) with seed {seeds} failed; fix the cause and run the same command "
              "again: finished members are kept, interrupted ones resume", file=sys.stderr)
        return 1
    print(f"all {config.train.ensemble} members trained; one ensemble model: {export_command(config, manifest)}",
          file=sys.stderr)
    return 0
