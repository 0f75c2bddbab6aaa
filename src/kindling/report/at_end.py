"""The end-of-training plots: the best model's predictions and the run's history drawn into
run_dir/plots, and plots/report.json, so that `kindling report` afterwards reads files only.
(kindling.report.callbacks adds it beside the logger.)"""

from __future__ import annotations

from kindling.report.callbacks import _Base
from kindling.report.sink import ReportSink


class PlotsAtEnd(_Base):
    """At the end of training: the best model's predictions on the test (else val) split give both the
    evaluation and the pictures -> run_dir/plots/*.png, and plots/report.json with everything else
    report.html shows, so that `kindling report` needs neither torch nor matplotlib afterwards.

    Without a test split those predictions are the best epoch's own validation pass (watched as it ran,
    with evaluate's metrics added up from the same outputs): no second pass at the end. Otherwise the best
    model is loaded and run over the test split. The sidecar then draws every plot, one group per core.
    (Drawing the learning curves there while the best model ran was slower: the sidecar, niced, got
    little of the cores torch's two threads were using, and it stalled them.)"""

    MAX_KEPT = 1 << 24  # probabilities kept per validation pass (64 MB): above, the best model runs again

    def on_step_end(self, trainer) -> None: ...

    def on_fit_start(self, trainer) -> None:
        super().on_fit_start(trainer)
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
        if (
            self._pass is not None
            and self._pass.complete
            and trainer.progress.last_improved_step == self._pass_step
        ):
            self._best = self._pass
        self._pass = None

    def on_fit_end(self, trainer) -> None:
        if not trainer.dist.is_main:
            return
        from kindling.report import saved
        from kindling.report.evidence import history_specs, plot_split
        from kindling.report.plots import write_index

        folder = str(self.run_dir / "plots")
        specs, notes = history_specs(trainer.history)
        has_best = (self.run_dir / "best" / "model.safetensors").is_file()
        split_name, split = plot_split(trainer.data)
        evaluation = None
        if has_best and split is not None:
            preds, evaluation = self._from_validation(trainer) or self._run_best(trainer, split_name, split)
            specs += self._prediction_specs(trainer, preds)
        self._send(folder, specs)
        doctor, data_notes = saved.data_summary(trainer.data) if has_best else (None, [])
        entries, errors = self._collect(folder, specs)
        write_index(folder, entries)  # plots/index.json
        if has_best:  # the rest of the page, last: `kindling report` then reads files only
            notes = data_notes + notes + errors + saved.plot_notes(entries)
            saved.save(self.run_dir, evaluation, doctor, notes, trainer.mode, table_plots=_table(trainer))
        trainer.echo(f"plots in {self.run_dir / 'plots'}")

    def _from_validation(self, trainer):
        """(Predictions, evaluation) of the best epoch's validation pass, when this process watched it."""
        self._settle(trainer)
        return self._best.result() if self._best is not None else None

    def _run_best(self, trainer, split_name: str, split):
        from kindling.bundle import load_bundle
        from kindling.report.evidence import collect_and_evaluate

        bundle = load_bundle(self.run_dir / "best", str(trainer.device))
        return collect_and_evaluate(bundle.model, bundle.signature, split, split_name, trainer.device)

    @staticmethod
    def _prediction_specs(trainer, preds) -> list:
        from kindling.report.evidence import prediction_specs

        # the tables callback draws a table's regression plots at fit end; not twice
        return [] if _table(trainer) else prediction_specs(preds, trainer.sig)

    def _send(self, folder: str, specs: list) -> None:
        for spec in specs:
            self.sink.call("draw", folder=folder, spec=spec)
        self.sink.flush()

    def _collect(self, folder: str, specs: list) -> tuple[list[dict], list[str]]:
        """The drawn plots' index entries, and a note per failure. A sidecar that died is replaced by
        drawing here."""
        done = self.sink.request("finish")
        if "error" not in done:
            return done["entries"], done["errors"]
        local = ReportSink()
        for spec in specs:
            local.call("draw", folder=folder, spec=spec)
        drawn = local.request("finish")
        note = f"{done['error']}: the plots were drawn by the training process; the TensorBoard logs may end early"
        return drawn["entries"], [note, *drawn["errors"]]


def _table(trainer) -> bool:
    return trainer.sig.task == "regression" and trainer.sig.input_kind == "tabular"


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
