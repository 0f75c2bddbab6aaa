"""The argument parsers of the core subcommands: every flag with its default shown in --help.

Only argparse and the config dataclasses are imported here, so `kindling --help` stays instant.
"""

from __future__ import annotations

import argparse

# (flag, config key, type, help). Defaults come from the config dataclasses and are shown in --help.
TRAIN_FLAGS = [
    (
        "--data",
        "data.name",
        str,
        "data set or source: digits, wine, diabetes, mnist, cifar10, folder:DIR, csv:FILE, text:PATH",
    ),
    ("--model", "model.name", str, "model name (see `kindling list models`)"),
    ("--epochs", "train.epochs", int, "number of epochs"),
    ("--batch-size", "data.batch_size", int, "global batch size (split across processes under torchrun)"),
    ("--lr", "optim.lr", float, "learning rate"),
    ("--optimizer", "optim.name", str, "sgd | adam | adamw"),
    ("--scheduler", "sched.name", str, "none | step | multistep | cosine | onecycle | plateau"),
    ("--seed", "train.seed", int, "random seed for weights, shuffling and augmentation"),
    ("--device", "train.device", str, "auto (cuda > mps > cpu) | cpu | cuda | cuda:N | mps"),
    (
        "--threads",
        "train.threads",
        int,
        "intra-op CPU threads; 0 measures 1 vs all cores and picks the faster",
    ),
    ("--run-dir", "run_dir", str, "where the run is written (default runs/NAME)"),
    (
        "--monitor",
        "train.monitor",
        str,
        "metric that picks the best model: val_acc | val_loss | val_mae | val_rmse | val_r2",
    ),
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
    (
        "--overfit-batches",
        "train.overfit_batches",
        int,
        "train and validate on the first N batches (a sanity check)",
    ),
    ("--devices", "train.devices", int, "processes on this machine (launches torchrun when > 1)"),
    ("--image-size", "data.image_size", int, "resize images to N x N"),
    ("--channels", "data.channels", int, "1 or 3 image channels"),
    ("--augment", "data.augment", str, "none | light | seed003"),
    ("--data-dir", "data.data_dir", str, "where built-in data sets are stored"),
    ("--target", "data.target", str, "tables: the column to predict"),
    ("--drop", "data.drop", str, "tables: columns to ignore, comma-separated"),
    (
        "--split-by",
        "data.split_by",
        str,
        "tables: split by time on this date column (default: a seeded random split)",
    ),
    ("--categorical", "data.categorical", str, "tables: onehot | embed for low-cardinality string columns"),
    ("--task", "data.task", str, "auto (inferred from the target) | classification | regression"),
    ("--missing", "data.missing", str, "tables: impute (with a flag column) | refuse"),
    ("--pretrained", "model.pretrained", str, "local weights file for a torchvision backbone"),
    ("--text-col", "data.text_col", str, "text: the column holding the text"),
    ("--label-col", "data.label_col", str, "text: the column holding the label"),
    ("--tokenizer", "data.tokenizer", str, "text: auto (char for mostly CJK, else word) | char | word"),
    ("--pad-size", "data.pad_size", int, "text: pad or cut to N tokens (default: 95th percentile of train)"),
    ("--min-freq", "data.min_freq", int, "text: keep tokens seen at least N times in train"),
    ("--max-size", "data.max_size", int, "text: vocabulary size cap"),
    ("--encoding", "data.encoding", str, "text and tables: file encoding, e.g. gbk"),
    ("--embeddings", "model.options.embeddings", str, "text: pretrained vectors (.npz or word2vec text)"),
    (
        "--logger",
        "train.logger",
        str,
        "auto (TensorBoard when installed, else csv) | tensorboard | csv | none",
    ),
]
BOOL_FLAGS = [
    ("--deterministic", "train.deterministic", "deterministic algorithms (bit-identical resume on CPU)"),
    ("--compile", "train.compile", "torch.compile the model (GPU only)"),
    ("--dry-run", "train.dry_run", "one batch of each phase: a cheap check that the recipe runs"),
    (
        "--skip-bad",
        "data.skip_bad",
        "leave out unreadable images and bad annotation lines, with a warning counting them",
    ),
]


def add_set_argument(p: argparse.ArgumentParser, text: str) -> None:
    """The repeatable `--set section.key=value` override, shared by every command that reads a config."""
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help=text)


def _default_of(dotted: str):
    from kindling.config import RunConfig

    node = RunConfig()
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part)  # model.options.X: a dict
    return node


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model; writes runs/NAME",
        description="Train a model. Precedence: defaults < recipe < flags < --set.",
    )
    p.add_argument("recipe", nargs="?", help="recipe YAML (see `kindling list recipes`)")
    for flag, key, tp, text in TRAIN_FLAGS:
        p.add_argument(
            flag,
            dest=key,
            type=tp,
            default=None,
            metavar=tp.__name__.upper(),
            help=f"{text} (default: {_default_of(key)})",
        )
    for flag, key, text in BOOL_FLAGS:
        p.add_argument(flag, dest=key, action="store_true", default=None, help=f"{text} (default: off)")
    add_set_argument(p, "any config key, e.g. --set optim.momentum=0.5 (repeatable)")
    p.add_argument(
        "--resume",
        metavar="RUN",
        help="continue the run in RUN exactly where it stopped (default: a new run)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing run directory (default: refuse)"
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config as YAML and exit (default: off)",
    )


class OneLineParser(argparse.ArgumentParser):
    """A mistake on the command line is one line and exit code 2, as every user mistake (the CLI
    contract): what is wrong, a near miss named (`--epoch`: did you mean --epochs?), and where the flags
    are listed. Plain argparse prints the whole usage first: 20 lines for `kindling train`."""

    def error(self, message: str):
        message, hint = self._near_miss(message)
        self.exit(2, f"{self.prog}: {message}{hint} (see `{self.prog} --help`)\n")

    def _near_miss(self, message: str) -> tuple[str, str]:
        """(the message, "; did you mean X?" or ""); a named near miss replaces argparse's list of choices."""
        import difflib
        import re

        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            wrong, known = choice.group(1), re.findall(r"'([^']*)'", choice.group(2))
        else:
            flags = [w.split("=")[0] for w in message.partition(": ")[2].split() if w.startswith("--")]
            wrong, known = (flags or [""])[0], list(self._option_string_actions)
        close = difflib.get_close_matches(wrong, known, n=1, cutoff=0.7) if wrong else []
        if not close:
            return message, ""
        if choice:
            message = message[: choice.end(1) + 1]
        return message, f"; did you mean {close[0]}?"


class SubParser(OneLineParser):
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
        "predict",
        help="predict the class or value of inputs (files, folders, globs, tables, text)",
        intermixed=True,
    )
    p.add_argument("run", help="run directory or bundle folder")
    p.add_argument(
        "inputs",
        nargs="*",
        help="image files, .npy arrays, folders, quoted globs, a CSV (tables) or a text file (one text a line)",
    )
    p.add_argument(
        "--text",
        dest="texts",
        action="append",
        default=[],
        metavar="TEXT",
        help="a text to classify (repeatable; text models)",
    )
    p.add_argument("--top-k", type=int, default=3, help="how many classes to show per input (default: 3)")
    p.add_argument("--batch-size", type=int, default=256, help="inputs per forward pass (default: 256)")
    p.add_argument(
        "--output", metavar="FILE", help="write predictions to preds.csv or preds.jsonl (default: print them)"
    )
    p.add_argument(
        "--sort-into", metavar="DIR", help="copy images into DIR/<class>/ (and DIR/uncertain/) (default: off)"
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.5,
        help="below this probability --sort-into uses uncertain/ (default: 0.5)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (default: a table)")
    add_trust_code(p)


def add_trust_code(p) -> None:
    """--trust-code: for a model from the user's own file, import the Bundle's copy of it."""
    p.add_argument(
        "--trust-code",
        action="store_true",
        help="your own model (--model file.py:Name): import its code from the bundle's copy (best/code/) "
        "instead of the file training used (default: off)",
    )


def add_core_commands(sub) -> None:
    _add_train(sub)
    p = sub.add_parser("evaluate", help="metrics of a run's best model on its test split")
    p.add_argument("run", help="run directory (runs/NAME) or bundle folder (runs/NAME/best)")
    p.add_argument("--split", default="test", help="test | val | train (default: test)")
    p.add_argument(
        "--data",
        default=None,
        help="evaluate on another data spec of the same kind (default: the run's data)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (default: a table)")
    add_trust_code(p)
    _add_predict(sub)
    p = sub.add_parser("list", help="list data sets, models or recipes")
    p.add_argument("what", choices=["datasets", "models", "recipes"], help="what to list")
    p = sub.add_parser("inspect", help="each layer's output shape and parameter count")
    p.add_argument("model", help="model name")
    p.add_argument("--input-shape", default="3x32x32", help="C x H x W of one sample (default: 3x32x32)")
    p.add_argument("--classes", type=int, default=10, help="number of classes (default: 10)")
    p = sub.add_parser(
        "verify-resume", help="train, interrupt, resume, and check the weights are bit-identical"
    )
    p.add_argument("recipe", nargs="?", help="recipe YAML (default: the digits demo config)")
    add_set_argument(p, "config overrides (repeatable)")
    p.add_argument("--epochs", type=int, default=2, help="epochs of the comparison (default: 2)")
