"""The `kindling` command. Thin: parse, call the library, map errors to exit codes.

Exit codes: 0 done; 2 the user's input is wrong (one line, no traceback); 1 a bug; 130 interrupted.
Nothing heavy is imported until a command runs, so `kindling --help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from kindling import plugins
from kindling.cli.args import OneLineParser, SubParser, add_core_commands
from kindling.errors import GUARD, UserError, one_line
from kindling.util.envinfo import VERSION as __version__


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="kindling", description="From data to a served PyTorch prediction, one command per step."
    )
    parser.add_argument("--version", action="version", version=f"kindling {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=SubParser)
    add_core_commands(sub)
    for name, handler in COMMANDS.items():
        sub.choices[name].set_defaults(handler=handler)
    parser.origins = add_plugin_commands(sub)
    parser.commands = sub.choices  # the subcommand parsers, to tell a leftover flag's mistake in theirs
    # argparse keeps a subcommand's one-line help only on its choices' pseudo-actions
    parser.command_help = {action.dest: action.help or "" for action in sub._choices_actions}
    return parser


def add_plugin_commands(sub) -> dict[str, plugins.Plugin]:
    """Every other command comes from a `kindling.commands` entry point (kindling's serve, export, report,
    data; another package's): an `add_commands(subparsers)` that adds parsers with `set_defaults(handler=)`.
    Returns which entry added each command. Another package's entry that fails is one warning line."""
    origins: dict[str, plugins.Plugin] = {}
    for plugin, add_commands in plugins.load_each(plugins.COMMANDS):
        before = set(sub.choices)
        try:
            add_commands(sub)
        except Exception as exc:  # a clash with a command's name, or a bug in the package
            if plugin.builtin:
                raise
            plugins.warn(plugin.failure(exc))
        origins.update({name: plugin for name in sub.choices if name not in before})
    return origins


def cmd_train(args) -> int:
    from kindling.config.load import load_config

    flags = {k: v for k, v in vars(args).items() if "." in k or k == "run_dir"}
    base = None
    if args.resume and not args.recipe:  # resume the run's own saved config, with any flags on top
        from kindling.bundle.rundir import load_saved_config

        base = load_saved_config(Path(args.resume)).to_dict()
    cfg = load_config(args.recipe, flags, args.sets, base=base)
    if args.resume:  # your loss, metrics and callbacks named again: used as they are now
        from kindling.models.userrefs import given_again

        loss = [flags["train.loss"]] if flags.get("train.loss") else []
        given_again(loss + (flags.get("train.metrics") or []) + (flags.get("train.callbacks") or []))
    if args.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    if cfg.train.devices > 1 and "LOCAL_RANK" not in os.environ:
        from kindling.cli.launch import launch_torchrun

        return launch_torchrun(cfg.train.devices, args.argv)
    from kindling.crossval import cross_validate, instead_of_one_network, is_cv_dir
    from kindling.runner import train

    if args.resume and is_cv_dir(args.resume):  # a small table's fold ensemble, chosen by the defaults
        cross_validate(cfg, resume=args.resume)
        return 0
    train(cfg, resume=args.resume, overwrite=args.overwrite, instead=instead_of_one_network(args.overwrite))
    return 0


def cmd_evaluate(args) -> int:
    from kindling.bundle.files import bundle_dir
    from kindling.evaluate.evaluation import evaluate, format_table
    from kindling.predict.batch import finite
    from kindling.util.fileio import atomic_write_json

    result = evaluate(args.run, args.split, args.data, trust_code=args.trust_code, tta=args.tta)
    strict, bad = finite(result)  # JSON stays JSON: a NaN metric is null, and says why
    if bad:
        strict["error"] = "some metrics are not finite numbers (null here): the model's outputs overflow"
    folder = bundle_dir(args.run)
    run_dir = folder.parent if folder.name == "best" else None
    if run_dir is not None:
        atomic_write_json(run_dir / f"metrics_{args.split}{'_tta' if args.tta else ''}.json", strict)
    baseline = _saved_baseline(run_dir, result["split"]) if run_dir is not None and not args.data else None
    if args.json:
        shown = {**strict, "baseline": finite(baseline)[0]} if baseline else strict
        print(json.dumps(shown, allow_nan=False))
    else:
        from kindling.bundle.files import read_meta

        print(format_table(result, read_meta(folder)["signature"].get("class_names", [])))
        if baseline:
            from kindling.evaluate.baseline import compare_line

            print(compare_line(result, baseline))
    return 0


def _saved_baseline(run_dir: Path, split: str) -> dict | None:
    """RUN/baseline.json when it was scored on the split evaluated (the run's own data only)."""
    from kindling.evaluate.baseline_run import load

    return load(run_dir, split)


def cmd_predict(args) -> int:
    from kindling.predict.batch import (
        Job,
        check_job,
        format_results,
        json_ready,
        run_job,
        sort_into,
        write_output,
    )
    from kindling.predict.predictor import Predictor

    job = Job(
        args.inputs,
        args.texts,
        args.top_k,
        args.batch_size,
        Path(args.output) if args.output else None,
        Path(args.sort_into) if args.sort_into else None,
        args.min_confidence,
        progress=not args.json,
    )
    predictor = Predictor.load(args.run, trust_code=args.trust_code, tta=args.tta)
    check_job(job, predictor)
    results, frame = run_job(job, predictor)
    if job.output is not None:
        write_output(job.output, results, frame)
        print(f"wrote {len(results)} predictions to {job.output}", file=sys.stderr)
    if job.sort_into is not None:
        counts = sort_into(job.sort_into, results, job.min_confidence)
        print(
            f"sorted {len(results)} images into {job.sort_into}: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
            file=sys.stderr,
        )
    tta = {"tta": predictor.tta} if predictor.tta is not None else {}
    if args.json:
        print(json.dumps({"predictions": json_ready(results), **tta}, allow_nan=False))
    elif job.output is None:
        print(format_results(results))
    if tta and not args.json:
        views = predictor.tta["views"]
        print(f"test-time augmentation: {predictor.tta['averaged']} averaged over {len(views)} views "
              f"({', '.join(views)}; {predictor.tta['from']})", file=sys.stderr)  # fmt: skip
    return 0


def cmd_list(args) -> int:
    if args.what == "datasets":
        _print_rows((p.name, p.package, text) for p, text in plugins.listed(plugins.DATA))
    elif args.what == "models":
        _print_rows((p.name, p.package, text) for p, text in plugins.listed(plugins.MODELS))
        print(
            "...and every torchvision classification model by name (resnet18, vgg16, mobilenet_v3_small, ...)"
        )
    elif args.what == "commands":
        parser = build_parser()
        _print_rows(
            (name, parser.origins[name].package if name in parser.origins else "kindling", text)
            for name, text in parser.command_help.items()
        )
    else:
        for path in sorted(Path("recipes").glob("*.yaml")):
            first = next(
                (
                    ln[1:].strip()
                    for ln in path.read_text(encoding="utf-8").splitlines()
                    if ln.startswith("#")
                ),
                "",
            )
            print(f"{str(path):<36} {first}")
    return 0


def _print_rows(rows) -> None:
    """name, package, description in aligned columns."""
    rows = list(rows)
    name_width = max((len(r[0]) for r in rows), default=0) + 2
    package_width = max((len(r[1]) for r in rows), default=0) + 2
    for name, package, text in rows:
        print(f"{name:<{name_width}}{package:<{package_width}}{text}".rstrip())


def cmd_inspect(args) -> int:
    from kindling.models.inspect import inspect_model

    print(inspect_model(args.model, args.input_shape, args.classes))
    return 0


def cmd_verify_resume(args) -> int:
    from kindling.cli.verify_resume import verify_resume

    return 0 if verify_resume(args.recipe, args.sets, args.epochs) else 1


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "list": cmd_list,
    "inspect": cmd_inspect,
    "verify-resume": cmd_verify_resume,
}


def entry() -> int:
    """The `kindling` command: main(), then the end of the process without the interpreter's teardown.
    After `kindling train`, freeing torch's modules and objects one by one is slow, and the last garbage
    collection walks every object torch created, adding a noticeable pause. Nothing is lost: the atexit
    handlers run first and the output is flushed; every file was written and closed (atomically) before
    main returned. With another thread still running, the process ends the usual way, which joins it."""
    import atexit
    import gc
    import threading

    code = main()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None or threading.active_count() > 1:
        gc.freeze()  # the usual way then skips the collection over torch's objects
        return code
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be told
            pass
    os._exit(int(code or 0))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, leftover = parser.parse_known_args(argv)
    if leftover:  # argparse tells these at the top level; the mistake is in the subcommand's flags
        parser.commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(leftover)}")
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what torchrun re-runs for --devices N
    if not args.command:
        parser.print_help()
        return 0
    try:
        if getattr(args, "code", None):  # --code FILE.py: the user's own file, named for this process
            from kindling.util.codetrust import point_at

            point_at(args.code)
        return args.handler(args)
    except UserError as exc:
        print(f"kindling: {one_line(str(exc), GUARD)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kindling: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        line = _user_exit(exc)
        if line is None:
            raise
        print(f"kindling: {one_line(line, GUARD)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `kindling evaluate RUN | head`: the reader left; not an error
        sys.stderr.close()
        return 0
    except Exception as exc:
        from kindling.train.events import Interrupted

        if isinstance(exc, Interrupted):
            run = getattr(args, "run_dir", None) or "RUN"
            print(
                f"kindling: {exc}\nresume with: kindling train --resume {_resume_target(args, run)}",
                file=sys.stderr,
            )
            return 130
        raise


def _user_exit(exc: SystemExit) -> str | None:
    """The line for a sys.exit() that the user's own code (a model's forward, a Dataset's __getitem__) called
    while a command ran it: it would end kindling with that code and nothing said. kindling never exits
    from inside a command, so an exit raised outside Python's and kindling's own files is the user's; any
    other (a library's) is left as it is (None)."""
    import sysconfig

    tb, frame = exc.__traceback__, None
    while tb is not None:
        frame, tb = tb.tb_frame, tb.tb_next
    file = frame.f_code.co_filename if frame is not None else "<unknown>"
    paths = sysconfig.get_paths()
    ours = (str(Path(__file__).parent), sys.prefix, sys.base_prefix, paths["stdlib"], paths["purelib"])
    if file.startswith(("<", *(os.path.join(folder, "") for folder in ours))):
        return None
    return (
        f"{file}:{frame.f_lineno} called sys.exit({exc.code!r}) while kindling ran it; remove the exit "
        "(raise an exception to stop with a message)"
    )


def _resume_target(args, fallback: str) -> str:
    if getattr(args, "resume", None):
        return args.resume
    try:
        from kindling.config.load import load_config

        flags = {k: v for k, v in vars(args).items() if "." in k or k == "run_dir"}
        return str(load_config(args.recipe, flags, args.sets).resolved_run_dir())
    except UserError:
        return fallback


if __name__ == "__main__":
    sys.exit(main())
