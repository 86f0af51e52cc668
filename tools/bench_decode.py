"""Same as `recog bench decode ...` (kept for old command lines; see `recog.bench.decode`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recog.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", "decode", *sys.argv[1:]]))
