"""Training callback for tables: write the regression plots when training ends.

Listed in `kindling.runner.CALLBACK_PROVIDERS`; imports nothing heavy, so it costs nothing on other paths.
"""

from __future__ import annotations

from pathlib import Path

TABLE_SOURCES = ("wine", "diabetes")


def is_table_source(name: str) -> bool:
    return name.startswith("csv:") or name in TABLE_SOURCES


class RegressionPlots:
    """on_fit_end (rank 0): plots/actual_vs_predicted.png (or predicted_vs_actual.png) and residuals.png."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def on_fit_end(self, trainer) -> None:
        sig = trainer.sig
        if not trainer.dist.is_main or sig.task != "regression" or sig.input_kind != "tabular":
            return
        from kindling.data.tables.plots import regression_plots

        try:
            written = regression_plots(self.run_dir)
        except Exception as exc:  # noqa: BLE001 - the run is complete; a failed plot must not lose it
            trainer.echo(
                f"note: the regression plots failed ({exc.__class__.__name__}: {exc}); "
                f"retry with `kindling report {self.run_dir}`"
            )
            return
        if written:
            trainer.echo("plots: " + ", ".join(str(p) for p in written))

    def __getattr__(self, name):  # the other events are no-ops
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)


def callbacks_for(cfg, run_dir: Path) -> list:
    """[RegressionPlots] for a table source; [] otherwise (the task is only known once the data is read)."""
    return [RegressionPlots(run_dir)] if is_table_source(cfg.data.name) else []
