"""`python -m kindling` (what torchrun runs)."""

import sys

from kindling.cli import main

sys.exit(main())
