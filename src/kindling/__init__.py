"""kindling: from data to a served PyTorch prediction, one fast and reliable command per step.

    import kindling
    run = kindling.fit(data="digits", epochs=3)
    run.evaluate("test"), run.predict(["seven.png"]), run.report(), run.export("onnx")
    model = kindling.load(run.dir)

The package imports nothing heavy at import time: torch is loaded by the functions that need it, so
`import kindling` and `kindling --help` answer at once.
"""

from kindling.errors import UserError
from kindling.util.envinfo import VERSION as __version__  # noqa: F401 - kindling.__version__

__all__ = ["Callback", "CrossValidation", "Run", "StopTraining", "UserError", "cv", "fit", "load", "sweep"]


def __getattr__(name: str):
    if name in ("fit", "load", "Run", "cv", "CrossValidation"):
        from kindling import api  # lazy: start-up (the runner, the models, the plug-ins' metadata)

        return getattr(api, name)
    if name in ("Callback", "StopTraining"):  # for your own callbacks (docs/callbacks.md); no torch
        from kindling.train import events  # lazy: start-up

        return getattr(events, name)
    if name == "sweep":  # kindling.sweeps.api: Optuna is imported only when a sweep runs
        from kindling.sweeps.api import sweep  # lazy: start-up

        return sweep
    raise AttributeError(f"module 'kindling' has no attribute {name!r}")
