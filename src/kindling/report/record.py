"""The recorder: what training leaves in the run folder for the report. The run folder is the only link
between training and reporting.

    callbacks_for(cfg, run_dir)  ->  [TensorBoardLogger or CsvLogger, EvidenceAtEnd]   (none: [])

During training the logger writes its scalars and images (kindling.report.loggers); at the end
EvidenceAtEnd writes the best model's evidence (kindling.report.evidence), has the renderer draw every
picture from the folder (kindling.report.render) and saves plots/report.json, so that `kindling report`
afterwards reads files only. `train.logger=none` records nothing (`kindling report` draws later).
"""

from __future__ import annotations

from pathlib import Path

from kindling.report.loggers import CsvLogger, TensorBoardLogger, resolve_logger


def callbacks_for(cfg, run_dir: Path) -> list:
    choice = resolve_logger(cfg.train.logger)
    if choice == "none":
        return []
    logger = TensorBoardLogger(run_dir) if choice == "tensorboard" else CsvLogger(run_dir)
    return [logger, EvidenceAtEnd(run_dir)]


class EvidenceAtEnd:
    """At the end of training: the best model's predictions on the test (else val) split give both the
    evaluation and the evidence for the pictures; then the pictures are drawn here, in this process.

    Without a test split those predictions are the best epoch's own validation pass (watched as it ran,
    with evaluate's metrics added up from the same outputs): no second pass at the end. Otherwise the best
    model is loaded and run over the test split."""

    MAX_KEPT = 1 << 24  # probabilities kept per validation pass (64 MB): above, the best model runs again

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.active = False

    def on_epoch_start(self, trainer) -> None: ...
    def on_step_end(self, trainer) -> None: ...
    def on_validation_end(self, trainer, metrics: dict) -> None: ...
    def on_epoch_end(self, trainer, record: dict) -> None: ...

    def on_fit_start(self, trainer) -> None:
        self.active = trainer.dist.is_main
        self._pass = self._best = None
        if self.active and _val_pass_is_evaluation(trainer, self.MAX_KEPT):
            trainer.val_watchers.append(lambda out, y, offset: self._watch(trainer, out, y, offset))

    def _watch(self, trainer, out, y, offset: int) -> None:
        from contextlib import nullcontext

        from kindling.report.evidence import Collected

        if offset == 0:
            self._settle(trainer)
            self._pass_step = trainer.progress.step
            if trainer.autocast is nullcontext:  # as evaluate, in full precision: the same numbers
                self._pass = Collected(trainer.model, trainer.sig, trainer.data.val, "val", trainer.device)
        if self._pass is not None:
            self._pass(out, y)

    def _settle(self, trainer) -> None:
        """The pass fed last is the best epoch's when the trainer saved the best model at its step (two
        passes at one step saw the same weights: the same outputs)."""
        done = self._pass is not None and self._pass.complete
        if done and trainer.progress.last_improved_step == self._pass_step:
            self._best = self._pass
        self._pass = None

    def on_fit_end(self, trainer) -> None:
        if not self.active:
            return
        try:
            self._record(trainer)
        except Exception as exc:  # noqa: BLE001 - the run is complete; a failed plot must not lose it
            trainer.echo(
                f"note: the plots failed ({type(exc).__name__}: {exc}); "
                f"draw them with `kindling report {self.run_dir} --refresh`"
            )

    def _record(self, trainer) -> None:
        from kindling.report import evidence, saved
        from kindling.report.render import render_run

        folder = self.run_dir / "plots"
        has_best = (self.run_dir / "best" / "model.safetensors").is_file()
        split_name, split = evidence.plot_split(trainer.data)
        evaluation = None
        if has_best and split is not None:
            self._settle(trainer)
            ev, evaluation = self._best.result() if self._best else self._run_best(trainer, split_name, split)
            self._add_table_rows(trainer, ev)
            folder.mkdir(parents=True, exist_ok=True)
            evidence.save(folder, ev)
        plots, notes = render_run(self.run_dir)
        if has_best:  # the rest of the page, last: `kindling report` then reads files only
            doctor, data_notes = saved.data_summary(trainer.data)
            notes = data_notes + notes + saved.plot_notes(plots)
            saved.save(self.run_dir, evaluation, doctor, notes, trainer.mode)
        trainer.echo(f"plots in {folder}")

    def _run_best(self, trainer, split_name: str, split):
        from kindling.bundle import load_bundle
        from kindling.report.evidence import collect_and_evaluate

        bundle = load_bundle(self.run_dir / "best", str(trainer.device))
        return collect_and_evaluate(bundle.model, bundle.signature, split, split_name, trainer.device)

    def _add_table_rows(self, trainer, ev) -> None:
        from kindling.report.tables import has_table_rows, table_rows

        if has_table_rows(trainer.sig):
            from kindling.bundle import load_bundle

            ev.table = table_rows(load_bundle(self.run_dir / "best"))


def _val_pass_is_evaluation(trainer, max_kept: int) -> bool:
    """Is the trainer's validation pass what evaluate would run for the plots: the plot split is val (no
    test split), the pass covers all of it in order in one process, and keeping its results fits?"""
    from kindling.report.evidence import plot_split

    name, split = plot_split(trainer.data)
    whole = not (trainer.tc.dry_run or trainer.tc.overfit_batches or trainer.dist.enabled)
    return (
        name == "val"
        and whole
        and trainer.val_split is not None
        and len(split) * max(1, len(trainer.sig.class_names)) <= max_kept
    )
