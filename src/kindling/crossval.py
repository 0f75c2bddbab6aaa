"""`kindling cv`: K-fold cross-validation, each fold a normal run, and the fold ensemble.

    cv_dir = cross_validate(load_config(None, {"data.name": "wine"}), folds=5, ensemble=True)

    runs/NAME/
      config.yaml   the resolved config the folds share (data.folds = K; each fold's config.yaml adds its data.fold)
      cv.json       the folds' metrics and state, rewritten atomically as each fold ends: what --resume reads
      fold-0/ ...   normal run directories (evaluate, report, predict, `train --resume` take each); a
                    fold's pictures are drawn by `kindling report runs/NAME/fold-0` when first asked for
      best/         with --ensemble: the K fold models as one Bundle, their prediction the average
      report.html   one page comparing the folds (kindling.report.folds)

The folds are cut from the source's train and val together, seeded and stratified (kindling.data.folds);
the test split stays held out, so every fold model and the ensemble are scored on the same test rows.
What kindling chooses for the data (model, batch, epochs ...) is chosen once, for fold 0's training size,
so the K models share one model spec and one Signature. A cv killed at any moment continues with
`kindling cv --resume runs/NAME`: finished folds are kept, the fold it was in resumes from its last
checkpoint (mid-epoch with --save-every-steps), the rest start. Each fold is scored on its held-out part
(`val`) and on the test split; the summary is the mean and the sample standard deviation over the folds.
"""

from __future__ import annotations

import copy
import shutil
import statistics
import time
from dataclasses import asdict
from pathlib import Path

from kindling import data as data_mod
from kindling.bundle.files import read_bundle, save_bundle
from kindling.bundle.rundir import load_saved_config
from kindling.config import defaults
from kindling.config.schema import RunConfig, default_name
from kindling.data.folds import stratified
from kindling.errors import UserError
from kindling.evaluate.baseline_run import after_training
from kindling.evaluate.evaluation import evaluate
from kindling.models import build
from kindling.report.evidence import read_history
from kindling.report.folds import write_page
from kindling.runner import check_resume_config, has_checkpoint, train
from kindling.task import task_for
from kindling.task.threshold import decision_record
from kindling.util.fileio import atomic_write_json, atomic_write_text, read_json

STATE = "cv.json"
HEADLINE = ("accuracy", "macro_f1", "loss", "mae", "rmse", "r2")  # shown first, in this order


def check_count(folds: int | None) -> int:
    """The fold count of a new cross-validation: given, and at least 2."""
    if folds is None:
        raise UserError("kindling cv needs --folds K (K >= 2, e.g. --folds 5), or --resume RUN")
    if folds < 2:
        raise UserError(f"--folds {folds}: cross-validation needs at least 2 folds; use --folds 5 (or fewer)")
    return folds


def is_cv_dir(path: str | Path) -> bool:
    return (Path(path) / STATE).is_file()


def fold_dir(cv_dir: Path, i: int) -> Path:
    return Path(cv_dir) / f"fold-{i}"


def read_state(cv_dir: Path) -> dict:
    state = read_json(Path(cv_dir) / STATE, STATE)
    if not isinstance(state, dict) or not isinstance(state.get("folds"), int) or state["folds"] < 2:
        raise UserError(
            f"{Path(cv_dir) / STATE} is damaged (no fold count); start the cross-validation again"
        )
    state.setdefault("done", {})
    return state


def cross_validate(
    cfg: RunConfig,
    folds: int | None = None,
    ensemble: bool = False,
    resume: str | Path | None = None,
    overwrite: bool = False,
    echo=print,
    announced: bool = False,
    objects: dict | None = None,
) -> Path:
    """Run (or resume) the cross-validation of `cfg` and return its folder; see the module.
    `announced`: the data's notes and what kindling chose were printed already (`kindling train` chose
    the fold ensemble for a small table: `instead_of_one_network`). `objects`: what kindling.fit / cv
    handed over, when the data is theirs (kindling.data.objects). `cfg` is not changed."""
    started = time.perf_counter()
    if resume is not None:
        cv_dir, cfg, state = _resumed(copy.deepcopy(cfg), Path(resume), folds, ensemble)
    else:
        cv_dir, cfg, state = _started(cfg, folds, ensemble, overwrite, echo, announced, objects)
    k = state["folds"]
    for i in range(k):
        if str(i) in state["done"]:
            continue
        echo(f"== fold {i + 1} of {k}: {fold_dir(cv_dir, i)}")
        record = _run_fold(cfg, cv_dir, i, echo, objects)
        state = {**read_state(cv_dir), "ensemble": state["ensemble"]}  # with the fold's `trained` mark
        state["done"][str(i)] = record
        atomic_write_json(cv_dir / STATE, state)
        echo(f"fold {i + 1} of {k}: {_scores_line(record)}")
    state["summary"] = summarise([state["done"][str(i)] for i in range(k)])
    if state["ensemble"]:
        state["ensemble_metrics"] = write_ensemble(cv_dir, cfg, k, echo, objects)
        state["bundle"] = str(cv_dir / "best")
    atomic_write_json(cv_dir / STATE, state)
    for line in summary_lines(state):
        echo(line)
    echo(f"page comparing the folds: {write_page(cv_dir)}")
    if state["ensemble"]:
        _baseline(cfg, cv_dir, time.perf_counter() - started, echo, objects)
    return cv_dir


def instead_of_one_network(overwrite: bool = False, echo=print):
    """What `kindling train` runs when the defaults choose the fold ensemble for a small table
    (kindling.config.defaults.ENSEMBLE_ROWS): the cross-validation of the settled config, kept as one Bundle."""

    def run(cfg: RunConfig, objects: dict | None = None) -> Path:
        return cross_validate(cfg, cfg.data.folds, True, None, overwrite, echo, True, objects)

    return run


def _baseline(cfg: RunConfig, cv_dir: Path, seconds: float, echo, objects: dict | None = None) -> None:
    """The classical baseline beside the ensemble, as a run ends with one: fitted on the source's own train
    split (the folds fit none), scored on the split the ensemble's evaluation used."""
    if cfg.train.baseline == "none" or cfg.train.dry_run:
        return
    whole = copy.deepcopy(cfg.data)
    whole.folds, whole.fold = None, 0
    after_training(
        data_mod.build(whole, quiet=True, objects=objects), cv_dir, seconds, cfg.data.memory_budget_mb, echo
    )


def _started(
    cfg: RunConfig,
    folds: int | None,
    ensemble: bool,
    overwrite: bool,
    echo,
    announced: bool,
    objects: dict | None,
):
    """A new cross-validation: checked against the data (fold count, classes) and settled before any write."""
    check_count(folds)
    if cfg.train.devices > 1:
        raise UserError(
            "kindling cv runs its folds one after another in one process; for several processes train one "
            "fold: kindling train --set data.folds=K --set data.fold=I --devices N"
        )
    cfg = copy.deepcopy(cfg)
    cfg.data.folds, cfg.data.fold = folds, 0
    cfg.name = cfg.name or default_name(cfg)
    with data_mod.held_notes() as notes:  # fold 0: a fold count the data cannot hold is refused here
        dm = data_mod.build(cfg.data, photos=defaults.photo_side(cfg), objects=objects)
    # chosen once, so every fold builds the same model; each fold's run settles its own monitor
    cfg, chose = defaults.choose(cfg, dm.signature, len(dm.train))
    if not announced:
        for text in notes:
            data_mod.note(text)
        if chose:
            echo(chose.replace("kindling chose", "kindling chose for every fold", 1))
    cv_dir = _prepare(cfg.resolved_run_dir(), overwrite)
    atomic_write_text(cv_dir / "config.yaml", cfg.to_yaml())
    state = {"folds": folds, "ensemble": bool(ensemble), "seed": cfg.data.split_seed, "done": {}}
    atomic_write_json(cv_dir / STATE, state)
    echo(
        f"cross-validation: {folds} folds of the {len(dm.train) + len(dm.val or [])} train and val samples "
        f"(seeded, {'stratified' if stratified(dm) else 'shuffled'}), each fold a run in {cv_dir}/fold-I"
    )
    return cv_dir, cfg, state


def _prepare(cv_dir: Path, overwrite: bool) -> Path:
    if cv_dir.exists() and any(cv_dir.iterdir()):
        if not overwrite:
            how = (
                f"continue it with `kindling cv --resume {cv_dir}`"
                if is_cv_dir(cv_dir)
                else "choose another --run-dir"
            )
            raise UserError(f"{cv_dir} already holds a run; {how}, replace it with --overwrite")
        if not (cv_dir / "config.yaml").is_file():
            raise UserError(f"{cv_dir} holds other files, not a kindling run; choose another --run-dir")
        shutil.rmtree(cv_dir)
    cv_dir.mkdir(parents=True, exist_ok=True)
    return cv_dir


def _resumed(cfg: RunConfig, cv_dir: Path, folds: int | None, ensemble: bool):
    """The saved config and state of a cross-validation to continue; flags may change only what a
    resumed run may (epochs, device ...), and --folds, when given, must be the saved count."""
    if not is_cv_dir(cv_dir):
        raise UserError(
            f"{cv_dir} is not a cross-validation (no {STATE}); start one with kindling cv --folds K"
        )
    saved = load_saved_config(cv_dir)
    state = read_state(cv_dir)
    if folds is not None and folds != state["folds"]:
        raise UserError(
            f"--folds {folds}: {cv_dir} was cut into {state['folds']} folds; resume without --folds, "
            "or start a new cross-validation (--run-dir)"
        )
    defaults.adopt(cfg, saved)
    cfg.data.folds, cfg.data.fold = saved.data.folds, 0
    cfg.run_dir, cfg.name = str(cv_dir), cfg.name or saved.name
    check_resume_config(saved, cfg)
    state["ensemble"] = bool(state.get("ensemble") or ensemble)
    return cv_dir, cfg, state


class _Trained:
    """Marks a fold trained in cv.json as its training ends, before the baseline: a fold killed after it
    is not trained again (a resumed run that stopped early would train one more epoch)."""

    def __init__(self, cv_dir: Path, i: int):
        self.cv_dir, self.i = cv_dir, i

    def on_fit_end(self, trainer) -> None:
        state = read_state(self.cv_dir)
        state.setdefault("trained", [])
        if self.i not in state["trained"]:
            state["trained"].append(self.i)
        atomic_write_json(self.cv_dir / STATE, state)

    def __getattr__(self, name):  # the other events are no-ops
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)


def _run_fold(cfg: RunConfig, cv_dir: Path, i: int, echo, objects: dict | None = None) -> dict:
    """Train fold `i` (or resume it where it stopped) and score it on its held-out part and the test."""
    run_dir = fold_dir(cv_dir, i)
    fold_cfg = copy.deepcopy(cfg)
    fold_cfg.data.fold, fold_cfg.run_dir, fold_cfg.name = i, str(run_dir), f"{cfg.name}-fold-{i}"
    fold_cfg.train.baseline = "none"  # one baseline, beside the ensemble, not one per fold
    trained = i in read_state(cv_dir).get("trained", [])
    if not trained:
        resume = run_dir if has_checkpoint(run_dir) else None
        if resume is not None:
            echo(f"resuming fold {i + 1} from {run_dir / 'checkpoints' / 'last.pt'}")
        said = lambda line: None if line.startswith("kindling chose") else echo(line)  # noqa: E731 - shown once
        with data_mod.held_notes():  # the data's notes (the table's columns) were shown once, at the start
            callbacks = [_Trained(cv_dir, i)]  # a fold's pictures: drawn by `kindling report FOLD` when asked
            train(fold_cfg, resume=resume, echo=said, callbacks=callbacks, objects=objects, draw=False)
    record = {"dir": run_dir.name, "val": _scores(evaluate(run_dir, "val", objects=objects))}
    try:
        record["test"] = _scores(evaluate(run_dir, "test", objects=objects))
    except UserError:  # a source without a test split
        pass
    history = read_history(run_dir)
    record["epochs"] = len(history)
    record["seconds"] = round(sum(r.get("seconds", 0) for r in history), 3)
    return record


def _scores(result: dict) -> dict:
    """The numbers worth a mean and a spread: every top-level number of an evaluation but the count."""
    scores = {
        k: float(v)
        for k, v in result.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n"
    }
    for key, value in (result.get("user_metrics") or {}).items():  # your own metrics (--metric FILE.py:NAME)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            scores.setdefault(str(key), float(value))
    scores["n"] = int(result.get("n", 0))
    return scores


def summarise(records: list[dict]) -> dict:
    """{split: {metric: {"mean", "std", "values"}}}: the mean and sample standard deviation over the folds."""
    out: dict = {}
    for split in ("val", "test"):
        rows = [r[split] for r in records if split in r]
        if len(rows) != len(records):
            continue
        keys = [k for k in rows[0] if k != "n" and all(k in r for r in rows)]
        out[split] = {
            k: {
                "mean": statistics.fmean(r[k] for r in rows),
                "std": statistics.stdev(r[k] for r in rows) if len(rows) > 1 else 0.0,
                "values": [r[k] for r in rows],
            }
            for k in _ordered(keys)
        }
    return out


def _ordered(keys: list[str]) -> list[str]:
    return [k for k in HEADLINE if k in keys] + [k for k in keys if k not in HEADLINE]


def _scores_line(record: dict) -> str:
    parts = []
    for split, label in (("val", "held-out fold"), ("test", "test")):
        if split in record:
            shown = [f"{k} {record[split][k]:.4f}" for k in _ordered(list(record[split]))[:2] if k != "n"]
            parts.append(f"{label} {', '.join(shown)}")
    return "; ".join(parts)


def summary_lines(state: dict) -> list[str]:
    """What `kindling cv` prints at the end: mean ± std of each metric, per split, and the ensemble's."""
    k = state["folds"]
    lines = []
    for split, label in (("val", "held-out folds"), ("test", "test split")):
        metrics = state.get("summary", {}).get(split)
        if metrics:
            shown = ", ".join(f"{m} {s['mean']:.4f} ± {s['std']:.4f}" for m, s in metrics.items())
            lines.append(f"{k}-fold cross-validation, {label}: {shown}")
    ens = state.get("ensemble_metrics")
    if ens:
        split = ens.get("split", "test")
        shown = ", ".join(f"{m} {ens[m]:.4f}" for m in _ordered([m for m in ens if m not in ("split", "n")]))
        lines.append(f"ensemble of the {k} fold models on {split}: {shown}; bundle in {state.get('bundle')}")
    return lines


# ---------------------------------------------------------------- the fold ensemble


def write_ensemble(cv_dir: Path, cfg: RunConfig, k: int, echo=print, objects: dict | None = None) -> dict:
    """The K fold models as one Bundle in `cv_dir/best` (kindling.models.averaged), scored on the test
    split (else val: then every row was some member's training data, and the line says so)."""
    bundles = [read_bundle(fold_dir(cv_dir, i)) for i in range(k)]
    sig, first = bundles[0].signature, bundles[0].meta
    conventions = {(b.meta.get("metrics") or {}).get("outputs") for b in bundles}
    for i, b in enumerate(bundles[1:], 1):
        if b.signature.to_dict() != sig.to_dict() or b.meta["model"].get("name") != first["model"]["name"]:
            raise UserError(f"fold {i} was trained on other preprocessing or another model than fold 0; "
                            "start the cross-validation again (--overwrite)")  # fmt: skip
    if any((b.meta["model"].get("code") or {}).get("kind") == "session" for b in bundles):
        raise UserError(
            f"the model {first['model']['name']} is defined in this session, so its fold models cannot be kept "
            "as one Bundle; move its class to a .py file, or drop --ensemble"
        )
    convention = conventions.pop() if len(conventions) == 1 else None
    task = task_for(sig, convention=convention)
    options = {"members": [b.meta["model"] for b in bundles], "convention": task.convention}
    model = build("ensemble", sig, {**options, "members": [b.model for b in bundles]})
    outputs = "log_probs" if "log_probs" in type(task).conventions else task.convention
    folder = cv_dir / "best"
    for code in (b.path / "code" for b in bundles[:1] if (b.path / "code").is_dir()):
        shutil.copytree(
            code, folder / "code", dirs_exist_ok=True
        )  # the user's model file, as each fold kept it
    data = asdict(cfg.data)
    data.update(folds=None, fold=0)
    metrics = {"outputs": outputs, "ensemble": {"folds": k, "members": [f"fold-{i}" for i in range(k)]}}
    if (first.get("metrics") or {}).get(
        "user_code"
    ):  # your loss and metrics: evaluate recomputes the metrics
        metrics["user_code"] = first["metrics"]["user_code"]
    spec = {"name": "ensemble", "options": options}
    save_bundle(folder, model, spec, sig, metrics, first.get("env", {}), data, _members_extra(bundles))
    try:
        result = evaluate(cv_dir, "test", objects=objects)
    except UserError:
        result = evaluate(cv_dir, "val", objects=objects)
        echo("note: the data has no test split; the ensemble is scored on val, which its members trained on")
    return {**_scores(result), "split": result["split"]}


def _members_extra(bundles: list) -> dict:
    """The header keys the members share beyond their model (kindling.task.threshold's two-class
    `decision`, `imbalance`): a threshold set with --threshold is kept; thresholds each fold chose on its
    held-out part give their median, and the header says so."""
    extra = {}
    if bundles[0].meta.get("imbalance") is not None:
        extra["imbalance"] = bundles[0].meta["imbalance"]
    decisions = [b.meta.get("decision") for b in bundles]
    if all(isinstance(d, dict) for d in decisions):
        thresholds = [float(d["threshold"]) for d in decisions]
        if len(set(thresholds)) == 1:
            extra["decision"] = decisions[0]
        else:
            names = list(bundles[0].signature.class_names)
            how = (
                f"auto: the median of the {len(bundles)} folds' thresholds, each chosen on its held-out fold"
            )
            extra["decision"] = decision_record(statistics.median(thresholds), how, names, folds=thresholds)
    return extra
