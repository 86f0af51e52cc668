"""Where recog keeps what it computes once per install: numba's compiled kernels.

recog's numba functions (the beam search in `recog.decode`, the ink features in
`recog.features.ink`) are compiled on their first call and cached on disk, so
only the first run after an install (or after an upgrade) pays for compiling:

    first call, empty cache    the kernels a call uses are compiled (seconds)
    later runs                 they are loaded from the cache (milliseconds)

The cache lives in the user's cache directory, not next to the installed source
files, so a read-only install (a system package, a container layer) caches too:

    $NUMBA_CACHE_DIR                    when set by the user: numba's own setting, left alone
    $RECOG_CACHE_DIR/numba              else, when RECOG_CACHE_DIR is set
    $XDG_CACHE_HOME/recog/numba         else
    ~/.cache/recog/numba                else

`import recog` sets NUMBA_CACHE_DIR accordingly before numba is imported. It is
numba's one setting for the process: numba functions of other packages used in
the same process (and child processes, which inherit the environment) cache
there too. Where that folder cannot be created or written, numba falls back to
its defaults (`__pycache__` next to the source, else ~/.cache/numba).

`recog warmup` compiles ahead of time what a model and decoder will use (for
services and container images). Deleting the folder is always safe.

Keeping the first run short (measured with numba 0.68; BENCHMARKS.md has the timings):
- compile only what a call uses: greedy decoding imports neither numba nor the beam
  search; audio features use numpy only (librosa compiled about twenty numba
  functions when imported); the ink kernels load only for ink models;
- in numba code, copy arrays element by element rather than by slice assignment
  (`a[:n] = b[:n]` compiles numba's formatted shape-mismatch error, one to two
  seconds per array shape); avoid `np.partition`, `np.argsort` and `np.unique`
  in kernels (each costs one to four seconds to compile);
- start counters that are passed to other numba functions as `np.int64(0)`, not
  `0`: a literal makes numba compile each callee twice (for `Literal[int](0)`,
  then for `int64`);
- pass the parts a call does not use as None and test `x is not None` on the
  argument: numba prunes that code before typing (the beam search without an LM,
  lexicon or hotwords compiles a fifth to a third faster).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """recog's cache folder: `$RECOG_CACHE_DIR`, else `$XDG_CACHE_HOME/recog`, else `~/.cache/recog`."""
    if os.environ.get("RECOG_CACHE_DIR"):
        return Path(os.environ["RECOG_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "recog"


def numba_cache_dir() -> Path:
    """Where numba's compiled functions go: `$NUMBA_CACHE_DIR` when set, else `cache_dir() / "numba"`."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"]).expanduser()
    return cache_dir() / "numba"


def configure_numba_cache() -> None:
    """Point NUMBA_CACHE_DIR at `numba_cache_dir()` unless the user set it (nothing is created:
    numba makes the folder on first use, and uses its defaults when it cannot write there)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    try:
        os.environ["NUMBA_CACHE_DIR"] = str(numba_cache_dir())
    except RuntimeError:  # Path.home() without a home directory: numba's defaults apply
        pass


configure_numba_cache()
