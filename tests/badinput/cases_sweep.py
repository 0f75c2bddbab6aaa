"""Bad sweeps: the search space (keys, ranges, choices), the sweep's own flags and recipe section, a
storage that cannot be reached, and a study or folder made for another recipe. Each is refused before
the sweep writes anything: no folder, no database, no trial.
"""

from __future__ import annotations

from pathlib import Path

from badinput.harness import Case
from badinput.trainargs import write

RECIPE = """\
data: {name: digits, batch_size: 64}
model: {name: mlp, options: {hidden: [16]}}
train: {epochs: 1, threads: 1, logger: none, baseline: none, dry_run: true}
"""
LR = "optim.lr=loguniform:1e-4:1e-1"


def _sweep(*args, recipe: str = RECIPE):
    def build(folder: Path) -> list[str]:
        write(folder / "recipe.yaml", recipe)
        return ["sweep", str(folder / "recipe.yaml"), "--trials", "2", *args]

    return build


def _param(text: str):
    return _sweep("--param", text)


# (name, --param, fragment of the line)
PARAMS = [
    ("key-typo", "optim.lrr=loguniform:1e-4:1e-1", "did you mean 'optim.lr'"),
    ("section-typo", "optimiser.lr=loguniform:1e-4:1e-1", "did you mean 'optim.lr'"),
    ("key-is-a-path", "run_dir=choice:a,b", "the sweep's to choose"),
    ("model-option-typo", "model.options.hiden=choice:8,16", "did you mean 'hidden'"),
    ("model-option-wrong-type", "model.options.dropout=choice:a,b", "model 'mlp'"),
    ("empty-range", "optim.lr=loguniform:0.01:0.01", "empty range"),
    ("reversed-range", "optim.lr=uniform:0.1:0.001", "reversed range (0.1 > 0.001)"),
    ("reversed-int-range", "train.epochs=int:5:2", "write int:2:5"),
    ("range-not-numbers", "optim.lr=uniform:a:b", "'a' is not a number"),
    ("range-infinite", "optim.lr=uniform:0.1:inf", "not a finite number"),
    ("range-one-end", "optim.lr=uniform:0.1", "is not uniform:LO:HI"),
    ("int-range-fraction", "train.epochs=int:1:2.5", "not an integer"),
    ("int-step-too-big", "train.epochs=int:1:3:5", "the step 5"),
    ("log-from-zero", "optim.lr=loguniform:0:0.1", "a log scale needs LO > 0"),
    ("range-end-out-of-range", "optim.lr=uniform:-0.1:0.1", "optim.lr = -0.1 is out of range"),
    ("kind-typo", "optim.lr=logunifrom:1e-4:1e-1", "did you mean 'loguniform'"),
    ("no-kind", "optim.lr=0.01", "unknown kind '0.01'"),
    ("no-equals", "optim.lr", "is not KEY=KIND:ARGS"),
    ("choice-wrong-type", "train.epochs=choice:a,b", "train.epochs must be an integer"),
    ("choice-bad-name", "optim.name=choice:sgd,adamm", "did you mean 'adam'"),
    ("choice-bad-augment", "data.augment=choice:none,shfit", "unknown augmentation preset 'shfit'"),
    ("choice-mixed-kinds", "data.batch_size=choice:32,big", "mixes kinds of values"),
    ("choice-empty", "data.augment=choice:", "empty value"),
    ("choice-empty-item", "data.augment=choice:none,,shift", "empty value"),
    ("choice-twice", "data.augment=choice:none,none", "lists a value twice"),
]


def _two_params(folder: Path) -> list[str]:
    return _sweep("--param", LR, "--param", "optim.lr=uniform:0.01:0.1")(folder)


def _no_params(folder: Path) -> list[str]:
    return _sweep()(folder)


def _foreign_study(fingerprint: str | None):
    """A study already in the database: made for another recipe (a fingerprint that is not this one's),
    or by something else than kindling (a finished trial and no fingerprint)."""

    def build(folder: Path) -> list[str]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        url = f"sqlite:///{folder / 'shared.db'}"
        study = optuna.create_study(storage=url, study_name="shared")
        if fingerprint:
            study.set_user_attr("kindling.fingerprint", fingerprint)
            study.set_user_attr("kindling.recipe", "data wine, model mlp, params optim.lr")
            study.set_user_attr("kindling.trials", 3)
        else:
            study.tell(study.ask(), 1.0)
        return _sweep("--param", LR, "--storage", url, "--name", "shared")(folder)

    return build


def _other_sweep_in_folder(folder: Path) -> list[str]:
    """runs/NAME already holds the sweep of another search space."""
    from kindling.sweeps.spec import Sweep

    other = Sweep(
        "taken", {"data": {"name": "digits"}}, ["optim.lr=uniform:0.01:0.1"], 3, "val_acc", "maximize"
    )
    other.folder = folder / "runs" / "taken"
    other.folder.mkdir(parents=True)
    other.save()
    return _sweep("--param", LR, "--name", "taken")(folder)


def _sweep_without_db(folder: Path) -> None:
    """A sweep folder whose sweep.db was deleted."""
    from kindling.sweeps.spec import Sweep

    gone = Sweep("target", {"data": {"name": "digits"}}, [LR], 3, "val_acc", "maximize")
    gone.folder = folder / "target"
    gone.folder.mkdir(parents=True)
    gone.save()


def _resume(make, *args):
    def build(folder: Path) -> list[str]:
        make(folder)
        return ["sweep", "--resume", str(folder / "target"), *args]

    return build


CASES = [
    *(Case(name, _param(text), expect) for name, text, expect in PARAMS),
    Case("param-twice", _two_params, "--param optim.lr is given twice"),
    Case("no-params", _no_params, "nothing to search"),
    Case("trials-0", _sweep("--param", LR, "--trials", "0"), "--trials 0 must be a whole number >= 1"),
    Case("workers-0", _sweep("--param", LR, "--workers", "0"), "--workers 0"),
    Case("timeout-negative", _sweep("--param", LR, "--timeout", "-5"), "--timeout -5.0"),
    Case("pruner-typo", _sweep("--param", LR, "--pruner", "meidan"), "did you mean 'median'"),
    Case("name-a-path", _sweep("--param", LR, "--name", "../elsewhere"), "is not a folder name"),
    Case("no-recipe", lambda folder: ["sweep", "--param", LR], "needs a RECIPE"),
    Case(
        "section-key-typo",
        _sweep(recipe=RECIPE + "sweep:\n  params: {optim.lr: 'loguniform:1e-4:1e-1'}\n  trails: 3\n"),
        "did you mean 'trials'",
    ),
    Case("section-not-mapping", _sweep(recipe=RECIPE + "sweep: 3\n"), "must be a mapping"),
    Case(
        "section-bad-range",
        _sweep(recipe=RECIPE + "sweep:\n  params: {optim.lr: 'uniform:0.1:0.01'}\n"),
        "reversed range",
    ),
    Case(
        "no-validation-split",
        _sweep("--param", LR, "--set", "data.val_fraction=0"),
        "no validation split",
    ),
    Case(
        "storage-refused",
        _sweep("--param", LR, "--storage", "postgresql://kindling:secret@127.0.0.1:1/sweeps"),
        "cannot be reached",
    ),
    Case(
        "storage-missing-folder",
        _sweep("--param", LR, "--storage", "sqlite:////nonexistent-kindling/dir/sweep.db"),
        "cannot be reached",
    ),
    Case("storage-not-a-url", _sweep("--param", LR, "--storage", "nope"), "cannot be reached"),
    Case("study-of-another-recipe", _foreign_study("0123456789abcdef"), "created for another recipe"),
    Case("study-not-kindling", _foreign_study(None), "was not made by kindling sweep"),
    Case("folder-of-another-sweep", _other_sweep_in_folder, "holds a sweep of another recipe"),
    Case("resume-not-a-sweep", _resume(lambda f: (f / "target").mkdir()), "is not a sweep folder"),
    Case("resume-missing", _resume(lambda f: None), "does not exist"),
    Case(
        "resume-damaged-spec",
        _resume(lambda f: write(f / "target" / "sweep.yaml", "name: [unclosed\n")),
        "is damaged",
    ),
    Case("resume-database-gone", _resume(_sweep_without_db), "sweep.db is missing"),
    Case(
        "resume-with-param",
        _resume(lambda f: (f / "target").mkdir(), "--param", LR),
        "drop --param",
    ),
]
