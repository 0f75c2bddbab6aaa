"""The recorder: what training leaves in the run folder for the report. The run folder is the only link
between training and reporting.

    callbacks_for(cfg, run_dir)  ->  [TensorBoardLogger or CsvLogger, EvidenceAtEnd, MlflowLogger]
                                     (each as train.logger asks; none: [])

During training the logger writes its scalars and images (kindling.report.loggers); at the end
EvidenceAtEnd writes the best model's evidence (kindling.report.evidence), has the renderer draw every
picture from the folder (kindling.report.render) and saves plots/report.json, so that `kindling report`
afterwards reads files only. `train.logger=none` records nothing (`kindling report` draws later).
"""

from __future__ import annotations

from pathlib import Path

from kindling.bundle.files import load_bundle
from kindling.evaluate import saved as evaluate_saved
from kindling.report.loggers import CsvLogger, TensorBoardLogger, resolve_loggers
from kindling.report.mlflow_logger import MlflowLogger
from kindling.task import task_of_bundle


def callbacks_for(cfg, run_dir: Path, objects: dict | None = None, draw: bool = True) -> list:
    """The loggers train.logger names, the evidence at the end, and MLflow last: its artifacts (the
    Bundle, the plots, report.html) are sent once the rest of the run folder is written. `objects`: what
    kindling.fit handed over (a DataFrame's rows are predicted again for the plots). `draw`: False writes
    the evidence and the evaluation but no picture (`kindling report` draws them from those files)."""
    chosen = resolve_loggers(cfg.train.logger)
    if not chosen:
        return []
    files = {"tensorboard": TensorBoardLogger, "csv": CsvLogger}
    loggers = [files[name](run_dir) for name in chosen if name in files]
    if "mlflow" not in chosen:
        return [*loggers, EvidenceAtEnd(run_dir, objects, draw)]

    return [*loggers, EvidenceAtEnd(run_dir, objects, draw), MlflowLogger(run_dir, cfg)]


class EvidenceAtEnd:
    """At the end of training the best model runs once over the test (else val) split: that one pass
    gives both the evaluation the page shows and the evidence for the pictures, which are then drawn here,
    in this process."""

    def __init__(self, run_dir: Path, objects: dict | None = None, draw: bool = True):
        self.run_dir = Path(run_dir)
        self.objects = objects
        self.draw = draw

    def on_fit_start(self, trainer) -> None: ...
    def on_epoch_start(self, trainer) -> None: ...
    def on_step_end(self, trainer) -> None: ...
    def on_validation_end(self, trainer, metrics: dict) -> None: ...
    def on_epoch_end(self, trainer, record: dict) -> None: ...

    def on_fit_end(self, trainer) -> None:
        if not trainer.dist.is_main:
            return
        try:
            self._record(trainer)
        except Exception as exc:  # noqa: BLE001 - the run is complete; a failed plot must not lose it
            trainer.echo(
                f"note: the plots failed ({type(exc).__name__}: {exc}); "
                f"draw them with `kindling report {self.run_dir} --refresh`"
            )

    def _record(self, trainer) -> None:
        from kindling.report import evidence, saved  # lazy: numpy
        from kindling.report.render import write_and_render  # lazy: numpy
        from kindling.report.tables import has_table_rows, table_rows  # lazy: numpy

        has_best = (self.run_dir / "best" / "model.safetensors").is_file()
        split_name, split = evidence.plot_split(trainer.data)
        found = evaluation = None
        if has_best and split is not None:
            bundle = load_bundle(self.run_dir / "best", str(trainer.device))
            mine = {k: n.obj for k, n in trainer.own.metrics.items()} if trainer.own else None
            found, evaluation = evidence.collect_and_evaluate(
                bundle.model,
                bundle.signature,
                split,
                split_name,
                trainer.device,
                task_of_bundle(bundle),
                mine,
            )
            if has_table_rows(bundle.signature):
                found.table = table_rows(bundle, self.objects)
        _, notes = write_and_render(self.run_dir, found, self.draw)
        if has_best:  # the rest of the page, last: `kindling report` then reads files only
            doctor, data_notes = saved.data_summary(trainer.data)
            evaluate_saved.save(self.run_dir, evaluation, doctor, data_notes + notes, trainer.mode)
        if self.draw:
            trainer.echo(f"plots in {self.run_dir / 'plots'}")
