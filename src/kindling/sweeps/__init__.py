"""Sweeps: many runs of one recipe over a search space, on Optuna, crash-safe.

    kindling sweep recipes/digits.yaml --param optim.lr=loguniform:1e-4:1e-1 --trials 20
    run = kindling.sweep("recipes/digits.yaml", params={"optim.lr": "loguniform:1e-4:1e-1"}, trials=20)

space (the --param grammar) -> settle (checked before anything is written) -> spec (runs/NAME/sweep.yaml)
-> engine (folder, study, workers) -> worker / trial (one normal run per trial, trained by the runner)
-> results and page (table, best.yaml, runs/NAME/best, sweep.html). The `kindling sweep` verb is kindling.cli.sweep.
Optuna is an optional extra (`pip install 'kindling[sweep]'`), imported only when a sweep runs.
"""
