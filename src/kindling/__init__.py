"""kindling: from data to a served PyTorch prediction, one fast and reliable command per step.

The package imports nothing heavy at import time: torch is loaded by the modules that need it,
so `kindling --help` answers at once.
"""

__version__ = "0.1.0"
