"""`python -m kindling` (what torchrun runs)."""

import sys

from kindling.cli.main import entry

sys.exit(entry())
