"""``python -m fastmlops.cli``: the ``fastmlops`` command line."""

import sys

from fastmlops.cli import main

sys.exit(main())
