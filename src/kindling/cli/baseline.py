"""`kindling baseline RUN`: the classical baseline of an existing run, fitted on its data rebuilt from
config.yaml (the same splits: the split seed is in the config), saved as RUN/baseline.json and compared
with the run's best model. Nothing heavy is imported here: `kindling --help` must answer at once."""

from __future__ import annotations

import json
from pathlib import Path

from kindling import data as data_mod
from kindling.cli.args import add_trust_code
from kindling.errors import UserError
from kindling.report.html import resolve_run_dir
from kindling.util.codetrust import check_saved_data


def add_commands(sub) -> None:
    p = sub.add_parser(
        "baseline",
        help="fit the classical baseline (scikit-learn) on a run's splits and compare it with the network",
    )
    p.add_argument("run", help="run directory (runs/NAME)")
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds the search may take (default: half the run's training time, 5 s to 60 s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (default: text)")
    add_trust_code(p)
    p.set_defaults(handler=cmd_baseline)


def baseline_of_run(run: str | Path, budget_s: float | None = None, trust_code: bool = False) -> dict:
    """-> {"baseline": {...}, "network": evaluation or None, "line": the compare line}."""
    from kindling.bundle.rundir import load_saved_config  # lazy: yaml
    from kindling.evaluate.baseline import BaselineSkipped, compare_line  # lazy: numpy
    from kindling.evaluate.baseline_run import budget_for, fit_and_save, network_evaluation  # lazy: numpy
    from kindling.report.evidence import read_history  # lazy: numpy

    if budget_s is not None and not budget_s > 0:
        raise UserError(f"--budget {budget_s} must be a number of seconds > 0")
    run_dir = resolve_run_dir(run)
    cfg = load_saved_config(run_dir)
    if cfg.data.name.startswith("objects:"):
        raise UserError(
            f"{run_dir} was trained on Python objects handed to kindling.fit, which cannot be rebuilt "
            "from config.yaml; the baseline is fitted at the end of such a run"
        )
    check_saved_data(cfg.data.name, run_dir, "train a run from it here first")
    dm = data_mod.build(cfg.data, quiet=True)
    if budget_s is None:
        budget_s = budget_for(sum(r.get("seconds", 0) for r in read_history(run_dir)))
    try:
        result = fit_and_save(dm, run_dir, budget_s, cfg.data.memory_budget_mb, trust_code)
    except BaselineSkipped as exc:
        raise UserError(f"no baseline for {run_dir}: {exc}") from exc
    if not (run_dir / "best" / "model.safetensors").is_file():
        metric = "accuracy" if "accuracy" in result else "mae"
        line = f"baseline ({result['model']}) {metric} {result[metric]:.4f} on {result['split']}"
        return {"baseline": result, "network": None, "line": line + "; the run has no best model to compare"}
    network = network_evaluation(run_dir, dm, result["split"], trust_code=trust_code)
    return {"baseline": result, "network": network, "line": compare_line(network, result)}


def cmd_baseline(args) -> int:
    found = baseline_of_run(args.run, args.budget, args.trust_code)
    if args.json:
        network = found["network"]
        keys = ("split", "accuracy", "macro_f1", "loss", "mae", "rmse", "r2", "n")
        shown = {k: network[k] for k in keys if k in network} if network else None
        print(json.dumps({"baseline": found["baseline"], "network": shown, "line": found["line"]}))
    else:
        print(found["line"])
    return 0
