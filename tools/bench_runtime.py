"""Same as `recog bench runtime ...` (kept for old command lines; see `recog.bench.runtime`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recog.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", "runtime", *sys.argv[1:]]))
