"""MLflow tracking (`train.logger: mlflow`, alone or beside tensorboard) through MLflow's own client.

What a run records: the flattened config as params; each epoch's record (train_loss, val_acc, lr, ...)
as metrics at step = epoch; tags (git SHA, kindling version, data spec, model, run folder); and once the
run folder is complete, the Bundle, the plots, report.html, config.yaml and metrics.jsonl as artifacts.

Where: `MLFLOW_TRACKING_URI` when set (a server, a database), else a SQLite file beside the run folder,
`runs/mlflow.db` with artifacts in `runs/mlartifacts/` for `runs/NAME`: an embedded store that needs no
server (`mlflow ui --backend-store-uri sqlite:///runs/mlflow.db` shows it). The experiment is
`MLFLOW_EXPERIMENT_NAME`, else "kindling". The MLflow run's id is kept in RUN/mlflow.json, so a resumed
run continues the same MLflow run. Only rank 0 logs. A store that cannot be reached (a server that
refuses the connection) is one warning line, and training goes on without MLflow.

A sweep is a parent run with one child per trial: every run trained inside `parent_run` (in this process
or in a process started from it) is that run's child:

    with parent_run(Path("runs/sweep-digits")) as parent_id:   # parent id kept in runs/sweep-digits/mlflow.json
        for trial in ...:
            kindling.fit(..., logger="mlflow")                  # a child of parent_id
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kindling.report.html import write_report
from kindling.report.loggers import Logger, resolve_logger
from kindling.util.envinfo import VERSION as __version__
from kindling.util.fileio import atomic_write_json, read_json

PARENT_ENV = "KINDLING_MLFLOW_PARENT"  # the parent run's id, for runs started inside `parent_run`
RECORD = "mlflow.json"  # in the run folder: where its MLflow run lives
# kindling's own limits on MLflow's HTTP retries, unless the user set MLflow's variables: a server that
# is down costs seconds, not MLflow's default of about four minutes of back-off per request
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}
QUIET = ("mlflow", "alembic", "urllib3")  # their INFO lines and retry warnings would bury the one line
PARAM_CHARS = 500


def store_for(run_dir: Path) -> tuple[str, str | None]:
    """(tracking URI, artifact location for a new experiment): MLFLOW_TRACKING_URI as it is, else the
    SQLite file beside the run folder and its artifacts folder."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri, None
    root = Path(run_dir).expanduser().resolve().parent
    return f"sqlite:///{root / 'mlflow.db'}", (root / "mlartifacts").as_uri()


@contextmanager
def _brief() -> Iterator[None]:
    """Around each call into MLflow: short HTTP retries (unless set by the user), and MLflow's, alembic's
    and urllib3's log lines held back (the outcome is told in kindling's own line)."""
    added = [key for key in HTTP_LIMITS if key not in os.environ]
    os.environ.update({key: HTTP_LIMITS[key] for key in added})
    loggers = [logging.getLogger(name) for name in QUIET]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        for key in added:
            os.environ.pop(key, None)


def reason(exc: BaseException) -> str:
    """A short why: 'Connection refused' from urllib3's long chain, else the exception's first words."""
    text = " ".join(str(exc).split())
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found.group(1).strip()
    return f"{type(exc).__name__}: {text[:120]}"


class Tracker:
    """One MLflow run, used through MlflowClient. Every call is guarded: the first failure is one warning
    line and the tracker goes quiet (`alive` False); training never stops for it."""

    def __init__(self, uri: str):
        self.uri, self.run_id, self.alive = uri, "", True
        self.client = None  # made inside the first guarded call: a SQLite store is created then

    def call(self, what: str, fn, *args, **kwargs):
        if not self.alive:
            return None
        try:
            import mlflow  # noqa: F401 - its import sets its loggers' levels: before _brief lowers them; lazy: mlflow

            with _brief():
                return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - tracking is a record of the run, never a reason to stop it
            self.alive = False
            print(
                f"kindling: warning: MLflow at {self.uri} failed while {what} ({reason(exc)}); "
                "training goes on without MLflow logging",
                file=sys.stderr,
                flush=True,
            )
            return None

    def experiment_id(self, artifacts: str | None) -> str:
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or "kindling"
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(name, artifact_location=artifacts)

    def start(self, record: dict | None, artifacts: str | None, name: str, tags: dict) -> str:
        """Continue the run `record` names when it is in this store, else create one; return its id."""
        from mlflow.tracking import MlflowClient  # lazy: mlflow

        self.client = MlflowClient(tracking_uri=self.uri)
        if record and record.get("tracking_uri") == self.uri and record.get("run_id"):
            try:
                run = self.client.get_run(record["run_id"])
                self.client.update_run(run.info.run_id, status="RUNNING")
                return run.info.run_id
            except Exception:  # noqa: BLE001 - deleted from the store since: a new run, below
                pass
        experiment = self.experiment_id(artifacts)
        return self.client.create_run(experiment, tags=tags, run_name=name).info.run_id

    def log_params(self, params: dict[str, str]) -> None:
        """Params not logged yet (MLflow's params never change); a resumable key changed on resume
        (train.epochs ...) is kept as a tag instead."""
        from mlflow.entities import Param, RunTag  # lazy: mlflow

        logged = self.client.get_run(self.run_id).data.params
        new = [Param(k, v) for k, v in params.items() if k not in logged]
        changed = [RunTag(f"kindling.resumed.{k}", v) for k, v in params.items() if logged.get(k, v) != v]
        for start in range(0, len(new), 100):  # MLflow takes at most 100 params in one batch
            self.client.log_batch(self.run_id, params=new[start : start + 100])
        if changed:
            self.client.log_batch(self.run_id, tags=changed)

    def log_epochs(self, records: list[dict]) -> None:
        from mlflow.entities import Metric  # lazy: mlflow

        now = int(time.time() * 1000)
        metrics = [
            Metric(key, float(value), now, int(record["epoch"]))
            for record in records
            for key, value in record.items()
            if key not in ("epoch", "step") and not key.endswith("_n") and _number(value)
        ]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000])

    def last_logged_epoch(self) -> int:
        history = self.client.get_metric_history(self.run_id, "lr")
        return max((m.step for m in history), default=0)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def params_of(cfg) -> dict[str, str]:
    from kindling.config.load import flatten  # lazy: yaml

    shown = {k: "" if v is None else str(v) for k, v in flatten(cfg.to_dict()).items()}
    return {k: v if len(v) <= PARAM_CHARS else v[: PARAM_CHARS - 3] + "..." for k, v in shown.items()}


def tags_of(cfg, run_dir: Path) -> dict[str, str]:

    env = run_dir / "env.json"
    sha = (read_json(env, "env.json") if env.is_file() else {}).get("git_sha")
    tags = {
        "kindling.version": __version__,
        "kindling.data": cfg.data.name,
        "kindling.model": cfg.model.name,
        "kindling.run_dir": str(run_dir.resolve()),
        "mlflow.source.name": "kindling train",
    }
    if sha:
        tags["mlflow.source.git.commit"] = sha
    if os.environ.get(PARENT_ENV):
        tags["mlflow.parentRunId"] = os.environ[PARENT_ENV]
    return tags


def open_run(run_dir: Path, name: str, tags: dict, echo=print) -> Tracker | None:
    """The tracker of the run folder's MLflow run (continued from RUN/mlflow.json, else new), or None
    when MLflow cannot be reached (told in one warning line)."""

    uri, artifacts = store_for(run_dir)
    if artifacts is not None:
        Path(run_dir).resolve().parent.mkdir(parents=True, exist_ok=True)
    path = Path(run_dir) / RECORD
    record = read_json(path, RECORD) if path.is_file() else None
    tracker = Tracker(uri)
    run_id = tracker.call("starting the run", tracker.start, record, artifacts, name, tags)
    if not run_id:
        return None
    tracker.run_id = run_id
    if not record or record.get("run_id") != run_id:
        atomic_write_json(path, {"tracking_uri": uri, "run_id": run_id})
    echo(f"MLflow run {run_id} in {uri}")
    return tracker


class MlflowLogger(Logger):
    """The trainer's events, sent to MLflow: params and tags at the start (with the epochs a resumed run
    logged before it stopped), a metric batch each epoch, the artifacts once the run folder is complete."""

    def __init__(self, run_dir: Path, cfg):
        super().__init__(run_dir)
        self.cfg, self.tracker = cfg, None
        resolve_logger("mlflow")  # refused here, before training, when the package is missing

    def on_fit_start(self, trainer) -> None:
        super().on_fit_start(trainer)
        if not self.active:
            return
        self.echo = trainer.echo
        tracker = open_run(self.run_dir, self.cfg.name, tags_of(self.cfg, self.run_dir), trainer.echo)
        if tracker is None:
            return
        tracker.call("logging the config", tracker.log_params, params_of(self.cfg))
        done = tracker.call("reading the logged epochs", tracker.last_logged_epoch) or 0
        tracker.call("logging metrics", tracker.log_epochs, [r for r in trainer.history if r["epoch"] > done])
        self.tracker = tracker

    def on_epoch_end(self, trainer, record: dict) -> None:
        if self.tracker is not None:
            self.tracker.call("logging metrics", self.tracker.log_epochs, [record])

    def on_run_end(self) -> None:
        """After the run (the baseline included): report.html written, the artifacts sent, the run ended."""
        tracker = self.tracker
        if tracker is None or not tracker.alive:
            return
        report = _write_report(self.run_dir, self.echo)
        client, run_id, folder = tracker.client, tracker.run_id, self.run_dir
        for sub, where in (("best", "bundle"), ("plots", "plots")):
            if (folder / sub).is_dir():
                tracker.call("sending artifacts", client.log_artifacts, run_id, str(folder / sub), where)
        for name in ("config.yaml", "metrics.jsonl", "env.json", "baseline.json"):
            if (folder / name).is_file():
                tracker.call("sending artifacts", client.log_artifact, run_id, str(folder / name))
        if report is not None:
            tracker.call("sending artifacts", client.log_artifact, run_id, str(report))
        tracker.call("ending the run", client.set_terminated, run_id, "FINISHED")


def _write_report(run_dir: Path, echo) -> Path | None:
    """RUN/report.html for the artifacts (from the files training left: quick), or None with a note."""

    try:
        return write_report(run_dir)
    except Exception as exc:  # noqa: BLE001 - the run is complete; the page is one of its artifacts
        echo(f"note: report.html for MLflow failed ({type(exc).__name__}: {exc}); the rest is sent")
        return None


@contextmanager
def parent_run(folder: Path, name: str | None = None) -> Iterator[str | None]:
    """Every run trained inside (here or in a process started from here) is a child of one MLflow run,
    kept in FOLDER/mlflow.json: a sweep is a parent run with one child per trial, and a resumed sweep
    continues the same parent. Yields the parent's id (None when MLflow cannot be reached: one warning
    line, the runs go on as top-level runs). Ends the parent FINISHED, or FAILED on an exception.
    The children use the parent's store: MLFLOW_TRACKING_URI is set to it for the duration."""
    resolve_logger("mlflow")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tracker = open_run(folder, name or folder.name, {"kindling.sweep": str(folder.resolve())}, echo=print)
    saved = {key: os.environ.get(key) for key in (PARENT_ENV, "MLFLOW_TRACKING_URI")}
    if tracker is not None:
        os.environ.update({PARENT_ENV: tracker.run_id, "MLFLOW_TRACKING_URI": tracker.uri})
    status = "FAILED"
    try:
        yield tracker.run_id if tracker is not None else None
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if tracker is not None:
            tracker.call("ending the parent run", tracker.client.set_terminated, tracker.run_id, status)
