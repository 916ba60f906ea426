"""``python -m reef``: the ``reef`` command."""

import sys

from reef.cli import main

sys.exit(main())
