"""`python -m recog VERB ...` (and `torchrun ... -m recog transcribe ...`): the same as the `recog` command."""

import sys

from recog.cli import main

sys.exit(main())
