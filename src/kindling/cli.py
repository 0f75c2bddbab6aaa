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

from kindling import __version__
from kindling.errors import UserError

# (flag, config key, type, help). Defaults come from the config dataclasses and are shown in --help.
TRAIN_FLAGS = [
    ("--data", "data.name", str, "data set or source: digits, wine, diabetes, mnist, cifar10, folder:DIR, csv:FILE, text:PATH"),
    ("--model", "model.name", str, "model name (see `kindling list models`)"),
    ("--epochs", "train.epochs", int, "number of epochs"),
    ("--batch-size", "data.batch_size", int, "global batch size (split across processes under torchrun)"),
    ("--lr", "optim.lr", float, "learning rate"),
    ("--optimizer", "optim.name", str, "sgd | adam | adamw"),
    ("--scheduler", "sched.name", str, "none | step | multistep | cosine | onecycle | plateau"),
    ("--seed", "train.seed", int, "random seed for weights, shuffling and augmentation"),
    ("--device", "train.device", str, "auto (cuda > mps > cpu) | cpu | cuda | cuda:N | mps"),
    ("--threads", "train.threads", int, "intra-op CPU threads; 0 measures 1 vs all cores and picks the faster"),
    ("--run-dir", "run_dir", str, "where the run is written (default runs/NAME)"),
    ("--monitor", "train.monitor", str, "metric that picks the best model: val_acc | val_loss | val_mae | val_rmse | val_r2"),
    ("--patience", "train.patience", int, "early stopping: validation rounds without improvement"),
    ("--min-delta", "train.min_delta", float, "early stopping: smallest change that counts as improvement"),
    ("--accumulate", "train.accumulate", int, "gradient accumulation: batches per optimizer step"),
    ("--clip-grad", "train.clip_grad", float, "clip the gradient norm to this value"),
    ("--ema", "train.ema", float, "keep an exponential moving average of the weights with this decay"),
    ("--label-smoothing", "train.label_smoothing", float, "label smoothing for the cross-entropy loss"),
    ("--precision", "train.precision", str, "32 | bf16 | fp16 (refused where it would be slower)"),
    ("--save-every-steps", "train.save_every_steps", int, "also write checkpoints/last.pt every N batches"),
    ("--val-every-steps", "train.val_every_steps", int, "also validate every N optimizer steps"),
    ("--patience-steps", "train.patience_steps", int, "early stopping: optimizer steps without improvement"),
    ("--overfit-batches", "train.overfit_batches", int, "train and validate on the first N batches (a sanity check)"),
    ("--devices", "train.devices", int, "processes on this machine (launches torchrun when > 1)"),
    ("--image-size", "data.image_size", int, "resize images to N x N"),
    ("--channels", "data.channels", int, "1 or 3 image channels"),
    ("--augment", "data.augment", str, "none | light | seed003"),
    ("--data-dir", "data.data_dir", str, "where built-in data sets are stored"),
    ("--target", "data.target", str, "tables: the column to predict"),
    ("--drop", "data.drop", str, "tables: columns to ignore, comma-separated"),
    ("--split-by", "data.split_by", str, "tables: split by time on this date column (default: a seeded random split)"),
    ("--categorical", "data.categorical", str, "tables: onehot | embed for low-cardinality string columns"),
    ("--task", "data.task", str, "auto (inferred from the target) | classification | regression"),
    ("--missing", "data.missing", str, "tables: impute (with a flag column) | refuse"),
    ("--pretrained", "model.pretrained", str, "local weights file for a torchvision backbone"),
    ("--logger", "train.logger", str, "auto (TensorBoard when installed, else csv) | tensorboard | csv | none"),
]
BOOL_FLAGS = [
    ("--deterministic", "train.deterministic", "deterministic algorithms (bit-identical resume on CPU)"),
    ("--compile", "train.compile", "torch.compile the model (GPU only)"),
    ("--dry-run", "train.dry_run", "one batch of each phase: a cheap check that the recipe runs"),
    ("--skip-bad", "data.skip_bad", "leave out unreadable images and bad annotation lines, with a warning counting them"),
]


def _default_of(dotted: str):
    from kindling.config import RunConfig

    node = RunConfig()
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model; writes runs/NAME", description="Train a model. Precedence: defaults < recipe < flags < --set.")
    p.add_argument("recipe", nargs="?", help="recipe YAML (see `kindling list recipes`)")
    for flag, key, tp, text in TRAIN_FLAGS:
        p.add_argument(flag, dest=key, type=tp, default=None, metavar=tp.__name__.upper(), help=f"{text} (default: {_default_of(key)})")
    for flag, key, text in BOOL_FLAGS:
        p.add_argument(flag, dest=key, action="store_true", default=None, help=f"{text} (default: off)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="any config key, e.g. --set optim.momentum=0.5 (repeatable)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in RUN exactly where it stopped (default: a new run)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory (default: refuse)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit (default: off)")


class _Parser(argparse.ArgumentParser):
    """A subcommand parser that can let options sit between positionals (`predict RUN --output p.csv photos/`):
    plain argparse matches a nargs='*' positional once, at its first chunk, and rejects inputs after an option."""

    def __init__(self, *args, intermixed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.intermixed = intermixed
        self._inside = False

    def parse_known_args(self, args=None, namespace=None):
        if not self.intermixed or self._inside:  # parse_known_intermixed_args calls back into this method
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def _add_predict(sub) -> None:
    p = sub.add_parser(
        "predict", help="predict the class or value of inputs (files, folders, globs, tables, text)", intermixed=True
    )
    p.add_argument("run", help="run directory or bundle folder")
    p.add_argument("inputs", nargs="*", help="image files, .npy arrays, folders, quoted globs, a CSV (tables) or a text file (one text a line)")
    p.add_argument("--text", dest="texts", action="append", default=[], metavar="TEXT", help="a text to classify (repeatable; text models)")
    p.add_argument("--top-k", type=int, default=3, help="how many classes to show per input (default: 3)")
    p.add_argument("--batch-size", type=int, default=256, help="inputs per forward pass (default: 256)")
    p.add_argument("--output", metavar="FILE", help="write predictions to preds.csv or preds.jsonl (default: print them)")
    p.add_argument("--sort-into", metavar="DIR", help="copy images into DIR/<class>/ (and DIR/uncertain/) (default: off)")
    p.add_argument("--min-confidence", type=float, default=0.5, help="below this probability --sort-into uses uncertain/ (default: 0.5)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (default: a table)")


def _add_commands(sub) -> None:
    _add_train(sub)
    p = sub.add_parser("evaluate", help="metrics of a run's best model on its test split")
    p.add_argument("run", help="run directory (runs/NAME) or bundle folder (runs/NAME/best)")
    p.add_argument("--split", default="test", help="test | val | train (default: test)")
    p.add_argument("--data", default=None, help="evaluate on another data spec of the same kind (default: the run's data)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (default: a table)")
    _add_predict(sub)
    p = sub.add_parser("list", help="list data sets, models or recipes")
    p.add_argument("what", choices=["datasets", "models", "recipes"], help="what to list")
    p = sub.add_parser("inspect", help="each layer's output shape and parameter count")
    p.add_argument("model", help="model name")
    p.add_argument("--input-shape", default="3x32x32", help="C x H x W of one sample (default: 3x32x32)")
    p.add_argument("--classes", type=int, default=10, help="number of classes (default: 10)")
    p = sub.add_parser("verify-resume", help="train, interrupt, resume, and check the weights are bit-identical")
    p.add_argument("recipe", nargs="?", help="recipe YAML (default: the digits demo config)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="config overrides (repeatable)")
    p.add_argument("--epochs", type=int, default=2, help="epochs of the comparison (default: 2)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kindling", description="From data to a served PyTorch prediction, one command per step.")
    parser.add_argument("--version", action="version", version=f"kindling {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_commands(sub)
    try:
        from kindling.cli_extra import add_commands as add_extra  # serve, export, report ... when present
    except ImportError:
        add_extra = None
    if add_extra:
        add_extra(sub)
    return parser


def cmd_train(args) -> int:
    from kindling.config import load_config

    flags = {k: v for k, v in vars(args).items() if "." in k or k == "run_dir"}
    base = None
    if args.resume and not args.recipe:  # resume the run's own saved config, with any flags on top
        from kindling.runner import load_saved_config

        base = load_saved_config(Path(args.resume)).to_dict()
    cfg = load_config(args.recipe, flags, args.sets, base=base)
    if args.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    if cfg.train.devices > 1 and "LOCAL_RANK" not in os.environ:
        from kindling.launch import launch_torchrun

        return launch_torchrun(cfg.train.devices, args.argv)
    from kindling.runner import train

    train(cfg, resume=args.resume, overwrite=args.overwrite)
    return 0


def cmd_evaluate(args) -> int:
    from kindling.bundle import bundle_dir
    from kindling.evaluate import evaluate, format_table
    from kindling.fileio import atomic_write_json

    result = evaluate(args.run, args.split, args.data)
    folder = bundle_dir(args.run)
    run_dir = folder.parent if folder.name == "best" else None
    if run_dir is not None:
        atomic_write_json(run_dir / f"metrics_{args.split}.json", result)
    if args.json:
        print(json.dumps(result))
    else:
        from kindling.bundle import read_meta

        print(format_table(result, read_meta(folder)["signature"].get("class_names", [])))
    return 0


def cmd_predict(args) -> int:
    from kindling.batch_predict import Job, check_job, format_results, run_job, sort_into, write_output
    from kindling.predict import Predictor

    job = Job(args.inputs, args.texts, args.top_k, args.batch_size, Path(args.output) if args.output else None,
              Path(args.sort_into) if args.sort_into else None, args.min_confidence, progress=not args.json)
    predictor = Predictor.load(args.run)
    check_job(job, predictor)
    results, frame = run_job(job, predictor)
    if job.output is not None:
        write_output(job.output, results, frame)
        print(f"wrote {len(results)} predictions to {job.output}", file=sys.stderr)
    if job.sort_into is not None:
        counts = sort_into(job.sort_into, results, job.min_confidence)
        print(f"sorted {len(results)} images into {job.sort_into}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=sys.stderr)
    if args.json:
        print(json.dumps({"predictions": results}))
    elif job.output is None:
        print(format_results(results))
    return 0


def cmd_list(args) -> int:
    if args.what == "datasets":
        from kindling.data import KINDS, NAMED

        for name, (_, text) in {**NAMED, **KINDS}.items():
            print(f"{name:<14} {text}")
    elif args.what == "models":
        from kindling.models import registry

        for name in registry.names():
            print(f"{name:<14} {registry.describe(name)}")
        print("...and every torchvision classification model by name (resnet18, vgg16, mobilenet_v3_small, ...)")
    else:
        for path in sorted(Path("recipes").glob("*.yaml")):
            first = next((ln[1:].strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")), "")
            print(f"{str(path):<36} {first}")
    return 0


def cmd_inspect(args) -> int:
    from kindling.inspect_model import inspect_model

    print(inspect_model(args.model, args.input_shape, args.classes))
    return 0


def cmd_verify_resume(args) -> int:
    from kindling.verify import verify_resume

    return 0 if verify_resume(args.recipe, args.sets, args.epochs) else 1


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "list": cmd_list,
            "inspect": cmd_inspect, "verify-resume": cmd_verify_resume}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what torchrun re-runs for --devices N
    if not args.command:
        parser.print_help()
        return 0
    handler = COMMANDS.get(args.command) or getattr(args, "handler", None)
    try:
        return handler(args)
    except UserError as exc:
        print(f"kindling: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kindling: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `kindling evaluate RUN | head`: the reader left; not an error
        sys.stderr.close()
        return 0
    except Exception as exc:
        from kindling.train.trainer import Interrupted

        if isinstance(exc, Interrupted):
            run = getattr(args, "run_dir", None) or "RUN"
            print(f"kindling: {exc}\nresume with: kindling train --resume {_resume_target(args, run)}", file=sys.stderr)
            return 130
        raise


def _resume_target(args, fallback: str) -> str:
    if getattr(args, "resume", None):
        return args.resume
    try:
        from kindling.config import load_config

        flags = {k: v for k, v in vars(args).items() if "." in k or k == "run_dir"}
        return str(load_config(args.recipe, flags, args.sets).resolved_run_dir())
    except UserError:
        return fallback


if __name__ == "__main__":
    sys.exit(main())
