"""`recog models [list]` and `recog models pull NAME --from URL_OR_DIR`: the shipped models by name."""

from __future__ import annotations

import argparse
import json
import sys

CACHE_HELP = "cache folder (default $RECOG_CACHE_DIR, else $XDG_CACHE_HOME/recog, else ~/.cache/recog)"

EPILOG = """\
examples:
  recog models                                               # name, size, dev figures, licence, where
  recog models pull digits-en --from https://example.org/recog/models/
  recog models pull iam-ondb-en --from /mnt/share/recog/models   # a folder laid out like models/
  recog transcribe --model digits-en audio.wav               # a name works wherever --model does

A name resolves to the checkout's models/ when recog runs from a source checkout, else to the
cache's models/ (RECOG_CACHE_DIR; RECOG_NO_CHECKOUT_MODELS=1 skips the checkout).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the shipped models; pull one into the cache by name",
                       description="The shipped models by name: list them (the default) or fetch one into\n"
                       "the cache, checked against its sha256.", epilog=EPILOG)
    p.set_defaults(func=run_list, json=False, cache_dir=None)
    verbs = p.add_subparsers(dest="models_command", metavar="SUBVERB")
    ls = verbs.add_parser("list", help="name, modality, language, size, dev figures, licence, where it is")
    ls.add_argument("--json", action="store_true", help="one JSON object per model instead of text")
    ls.add_argument("--cache-dir", default=None, help=CACHE_HELP)
    ls.set_defaults(func=run_list)
    pl = verbs.add_parser(
        "pull", help="fetch a model (and its extra files) into the cache",
        description="Fetch a model's file and extra files into the cache from a base URL (the file's path\n"
        "under models/ is appended: BASE/digits-en/model.int8.onnx) or from a folder laid out like models/.\n"
        "Each file is streamed to a temporary file beside its target and renamed into place only when\n"
        "every file's sha256 matches the index; a mismatch or a failed transfer leaves nothing behind.")
    pl.add_argument("name", help="model name (`recog models` lists them)")
    pl.add_argument("--from", dest="source", required=True, metavar="URL_OR_DIR",
                    help="base URL (http://, https://) or local folder with the layout of models/")
    pl.add_argument("--cache-dir", default=None, help=CACHE_HELP)
    pl.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the source to answer")
    pl.set_defaults(func=run_pull)


def _figures(metrics: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:g}" for key, value in metrics.items()) or "-"


def run_list(args: argparse.Namespace) -> int:
    from recog.runtime.model_index import cache_dir, load_index, locate, pull_command

    cache = args.cache_dir or cache_dir()
    for entry in load_index().values():
        where = [(item.file, *locate(item, cache)) for item in entry.files]
        if args.json:
            print(json.dumps({
                "name": entry.name, "description": entry.description, "modality": entry.modality,
                "language": entry.language, "size": entry.size, "licence": entry.licence, "dev": entry.dev,
                "files": [{"file": f, "where": kind, "path": str(path) if path else None} for f, kind, path in where],
            }, ensure_ascii=False))
            continue
        print(f"{entry.name}  {entry.modality}  {entry.language}  {entry.size / 1e6:.1f} MB  {entry.description}")
        print(f"  dev:      {_figures(entry.dev.get('metrics', {}))}")
        if entry.dev.get("about"):
            print(f"            ({entry.dev['about']})")
        print(f"  licence:  model {entry.licence.get('model', '?')}; "
              f"training data {entry.licence.get('training_data', '?')}")
        for file, kind, path in where:
            print(f"  {file}: " + (f"{path} ({kind})" if path else f"not downloaded: {pull_command(entry.name)}"))
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from recog.runtime.model_index import ModelNameError, PullError, cache_dir, pull

    cache = args.cache_dir or cache_dir()
    try:
        paths = pull(args.name, args.source, cache, timeout=args.timeout,
                     log=lambda message: print(message, file=sys.stderr))
    except (ModelNameError, PullError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0
