"""Typed run configuration: defaults < recipe YAML < CLI flags < `--set a.b=c` overrides.

Every section is a dataclass; unknown keys and wrong types are refused with a did-you-mean, and the
resolved config round-trips through YAML (`kindling train ... --print-config`). Reading a recipe and
merging the flags and `--set` into a RunConfig is kindling.config.load.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kindling.config.types import Flag, flags_of
from kindling.util.codetrust import HOME_DEFAULT


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str,  # noqa: A002 - the word argparse uses
    flag: str | None = None,
    factory: Any = dataclasses.MISSING,
    **extra: Any,
) -> Any:
    """A config field with its help text (and its `kindling train` flag, if it has one) written once,
    beside its default; the command line's flags are generated from these (`cli_flags`)."""
    metadata = {"help": help, **({"flag": flag} if flag else {}), **extra}
    return field(default=default, default_factory=factory, metadata=metadata)


@dataclass
class DataConfig:
    name: str = setting(
        "digits",
        flag="--data",
        help="data set or source: digits, wine, diabetes, mnist, cifar10, folder:DIR, csv:FILE, text:PATH, "
        "py:FILE.py:FUNCTION (your own Dataset)",
    )
    # how the run's lines, report and `kindling compare` name the data when `name` is an internal handle:
    # kindling.fit(data=<your object>) sets it ("MNIST (a Dataset)"); see `shown`
    display_name: str | None = None
    batch_size: int | None = setting(
        None,
        flag="--batch-size",
        help="global batch size, split across processes under torchrun (default: chosen for the data)",
    )
    eval_batch_size: int = 512
    val_fraction: float = 0.1  # of what is left after the test split, when no val split is given
    test_fraction: float = 0.25
    split_seed: int = 0  # the split never changes between runs with the same seed
    # cross-validation (kindling cv): train and val pooled and cut into `folds` seeded, stratified parts,
    # part `fold` validating (kindling.data.folds); None: the source's own split
    folds: int | None = None
    fold: int = 0
    train: str | None = None  # explicit split files
    val: str | None = None
    test: str | None = None
    root: str | None = None  # image root for annotation files
    data_dir: str = setting(HOME_DEFAULT, flag="--data-dir", help="where built-in data sets are stored")
    download: bool = True  # when online, built-in data sets download if missing
    image_size: int | None = setting(None, flag="--image-size", help="resize images to N x N")
    channels: int | None = setting(None, flag="--channels", help="1 or 3 image channels")
    augment: str = setting(
        "none",
        flag="--augment",
        help="none | shift | flip | light | seed003, or knobs such as hflip,rotate=15,jitter=0.2 "
        "(see kindling.data.augment)",
    )
    class_names: str | None = None  # JSON map or one name per line
    skip_bad: bool = setting(
        False,
        flag="--skip-bad",
        help="leave out unreadable images and bad annotation lines, with a warning counting them",
    )
    memory_budget_mb: int = 4096
    # tables
    target: str | None = setting(None, flag="--target", help="tables: the column to predict")
    drop: list[str] = setting(flag="--drop", factory=list, help="tables: columns to ignore, comma-separated")
    keep: list[str] = setting(
        flag="--keep",
        factory=list,
        help="tables: columns to use that kindling would leave out (IDs, rare codes, free text), comma-separated",
    )
    task: str = setting(
        "auto",
        flag="--task",
        help="auto (inferred from the target) | classification | regression | multilabel",
    )
    label_sep: str = "|"  # multi-label: what separates the labels of one cell or annotation (a|b)
    split_by: str | None = setting(
        None,
        flag="--split-by",
        help="tables: split by time on this date column (default: a seeded random split)",
    )
    categorical: str = setting(
        "onehot", flag="--categorical", help="tables: onehot | embed for low-cardinality string columns"
    )
    missing: str = setting("impute", flag="--missing", help="tables: impute (with a flag column) | refuse")
    delimiter: str = "auto"  # tables: auto | comma | semicolon | tab | pipe (or the character)
    # text
    text_col: str = setting("text", flag="--text-col", help="text: the column holding the text")
    label_col: str = setting("label", flag="--label-col", help="text: the column holding the label")
    tokenizer: str = setting(
        "auto", flag="--tokenizer", help="text: auto (char for mostly CJK, else word) | char | word"
    )
    min_freq: int = setting(1, flag="--min-freq", help="text: keep tokens seen at least N times in train")
    max_size: int = setting(50000, flag="--max-size", help="text: vocabulary size cap")
    pad_size: int | None = setting(
        None, flag="--pad-size", help="text: pad or cut to N tokens (default: 95th percentile of train)"
    )
    encoding: str = setting("utf-8", flag="--encoding", help="text and tables: file encoding, e.g. gbk")
    vocab: str | None = setting(
        None,
        flag="--vocab",
        help="text: your vocabulary, a pickled dict token -> id (vocab.pkl), used instead of fitting one",
    )

    @property
    def shown(self) -> str:
        """The data as the user knows it: `MNIST (a Dataset)` for objects handed to kindling.fit, else the
        source as given (`digits`, `csv:houses.csv`)."""
        return self.display_name or self.name


@dataclass
class ModelConfig:
    name: str = setting(
        "auto",
        flag="--model",
        help="auto (chosen for the data), a name from `kindling list models`, or your own: file.py:Name",
    )
    options: dict = setting(
        factory=dict,
        help="keyword arguments of the model's constructor",
        # model.options is the model's own keyword arguments, not a dataclass: its flags are listed here
        option_flags={"--embeddings": ("embeddings", "text: pretrained vectors (.npz or word2vec text)")},
    )
    pretrained: str | None = setting(
        None,
        flag="--pretrained",
        help="weights for a torchvision backbone: a local .pth/.pt/.safetensors file, or imagenet",
    )
    freeze: str | None = None  # None | backbone
    unfreeze_epoch: int | None = None  # two-stage fine-tuning: unfreeze everything at this epoch
    unfreeze_lr_factor: float = 0.1


@dataclass
class OptimConfig:
    name: str = setting("adamw", flag="--optimizer", help="sgd | adam | adamw")
    lr: float | None = setting(None, flag="--lr", help="learning rate (default: chosen for the data)")
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class SchedConfig:
    name: str = setting(
        "none", flag="--scheduler", help="none | step | multistep | cosine | onecycle | plateau"
    )
    step_size: int = 10
    gamma: float = 0.1
    milestones: list[int] = field(default_factory=list)
    warmup_epochs: float = 0.0
    min_lr: float = 0.0
    patience: int = 2  # plateau


@dataclass
class TrainConfig:
    epochs: int | None = setting(
        None, flag="--epochs", help="number of epochs (default: chosen for the data, with early stopping)"
    )
    seed: int = setting(0, flag="--seed", help="random seed for weights, shuffling and augmentation")
    device: str = setting("auto", flag="--device", help="auto (cuda > mps > cpu) | cpu | cuda | cuda:N | mps")
    threads: int = setting(
        0, flag="--threads", help="intra-op CPU threads; 0 measures 1 vs all cores and picks the faster"
    )
    memory_format: str = "auto"  # auto (measure conv nets on a CPU) | contiguous | channels_last
    monitor: str = setting(
        "auto",
        flag="--monitor",
        help="metric that picks the best model: auto | val_acc | val_loss | val_mae | val_rmse | val_r2 | "
        "val_f1 (multi-label) | val_KEY of your --metric",
    )
    deterministic: bool = setting(
        False, flag="--deterministic", help="deterministic algorithms (bit-identical resume on CPU)"
    )
    precision: str = setting(
        "32", flag="--precision", help="32 | bf16 | fp16 (refused where it would be slower)"
    )
    accumulate: int = setting(
        1, flag="--accumulate", help="gradient accumulation: batches per optimizer step"
    )
    clip_grad: float | None = setting(None, flag="--clip-grad", help="clip the gradient norm to this value")
    patience: int | None = setting(
        None, flag="--patience", help="early stopping: validation rounds without improvement"
    )
    min_delta: float = setting(
        0.0, flag="--min-delta", help="early stopping: smallest change that counts as improvement"
    )
    val_every_steps: int | None = setting(
        None, flag="--val-every-steps", help="also validate every N optimizer steps"
    )
    patience_steps: int | None = setting(
        None, flag="--patience-steps", help="early stopping: optimizer steps without improvement"
    )
    save_every_steps: int | None = setting(
        None, flag="--save-every-steps", help="also write checkpoints/last.pt every N batches"
    )
    ema: float | None = setting(
        None, flag="--ema", help="keep an exponential moving average of the weights with this decay"
    )
    label_smoothing: float = setting(
        0.0, flag="--label-smoothing", help="label smoothing for the cross-entropy loss"
    )
    # imbalanced classes (kindling.task.imbalance, kindling.train.sampler, kindling.task.threshold)
    class_weights: str = setting(
        "none",
        flag="--class-weights",
        help="classification: weights of the classes in the loss: none | auto (inverse square-root "
        "frequency in train) | FILE (JSON, YAML or CSV: class name -> weight; unlisted classes 1)",
    )
    sampler: str = setting(
        "none",
        flag="--sampler",
        help="none (shuffle) | balanced (each draw: a class uniformly, then one of its samples; seeded, "
        "with replacement, as many draws per epoch as train samples)",
    )
    threshold: float | str = setting(
        "none",
        flag="--threshold",
        help="two classes: predict the second class when its probability is >= this: none (argmax) | "
        "auto (maximise balanced accuracy on val) | a number in [0, 1]",
    )
    compile: bool = setting(False, flag="--compile", help="torch.compile the model (GPU only)")
    overfit_batches: int = setting(
        0, flag="--overfit-batches", help="train and validate on the first N batches (a sanity check)"
    )
    dry_run: bool = setting(
        False, flag="--dry-run", help="one batch of each phase: a cheap check that the recipe runs"
    )
    log_interval: int = 0  # 0 = a bar (TTY) or one line per epoch
    logger: str | list[str] = setting(
        "auto",
        flag="--logger",
        help="auto (TensorBoard when installed, else csv) | tensorboard | csv | mlflow | none; several "
        "comma-separated (tensorboard,mlflow)",
    )
    devices: int = setting(1, flag="--devices", help="processes on this machine (launches torchrun when > 1)")
    baseline: str = setting(
        "auto",
        flag="--baseline",
        help="auto (fit a classical scikit-learn model on the same splits after training, shown beside "
        "the network) | none",
    )
    # your own code (kindling.train.userfns; docs/callbacks.md): FILE.py:NAME, package.module:NAME
    loss: str | None = setting(
        None,
        flag="--loss",
        help="your own loss, FILE.py:NAME: a function (outputs, targets) -> a scalar tensor, or an nn.Module "
        "class (default: the task's own: cross-entropy, MSE ...)",
    )
    metrics: list[str] = setting(
        flag="--metric",
        factory=list,
        repeat=True,
        help="your own metric, [KEY=]FILE.py:NAME: a function (outputs, targets) -> a number over the whole "
        "validation split, logged as val_KEY and usable as --monitor val_KEY; repeatable",
    )
    callbacks: list[str] = setting(
        flag="--callback",
        factory=list,
        repeat=True,
        help="your own callback, FILE.py:NAME: a class (made with no arguments) or an object with "
        "on_epoch_end(trainer, record) and the other events of docs/callbacks.md; repeatable",
    )


@dataclass
class RunConfig:
    name: str = ""
    runs_dir: str = "runs"
    run_dir: str | None = setting(
        None, flag="--run-dir", help="where the run is written (default: runs/NAME)"
    )
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sched: SchedConfig = field(default_factory=SchedConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def resolved_run_dir(self) -> Path:
        if self.run_dir:
            return Path(self.run_dir).expanduser()
        return Path(self.runs_dir).expanduser() / (self.name or default_name(self))

    def to_dict(self) -> dict:
        return asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def default_name(cfg: RunConfig) -> str:
    data = cfg.data.name.split(":", 1)[-1].rstrip("/").replace("\\", "/").split("/")[-1] or "data"
    if cfg.data.display_name:  # Python objects: the type the user knows (MNIST), not the handle's number
        data = cfg.data.display_name.split(" ", 1)[0]
    model = cfg.model.name.rsplit(":", 1)[-1]  # the user's own file.py:Name -> Name
    return Path(data).stem if model == "auto" else f"{Path(data).stem}-{model}"


def cli_flags(cls: type | None = None, prefix: str = "") -> list[Flag]:
    """Every `kindling train` flag: each RunConfig field with a `flag` in its metadata, in declaration order."""
    return flags_of(cls or RunConfig, prefix)
