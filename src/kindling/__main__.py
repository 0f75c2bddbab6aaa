"""`python -m kindling` (what torchrun runs)."""

import sys

from kindling.cli import entry

sys.exit(entry())
