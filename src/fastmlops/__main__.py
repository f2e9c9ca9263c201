"""``python -m fastmlops``: the ``fastmlops`` command line."""

import sys

from fastmlops.cli import main

sys.exit(main())
