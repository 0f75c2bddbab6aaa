"""Bad configuration: flags, `--set` overrides and recipe files, each refused where the config is built.

Wrong types, out-of-range numbers, NaN and infinities, zero and negative counts, unknown keys and
choices, broken YAML. The line names the key, the value and what is allowed.
"""

from __future__ import annotations

from badinput.harness import Case
from badinput.trainargs import train, write

# (name, flags, fragment of the line)
FLAGS = [
    (
        "epochs-0",
        ["--epochs", "0"],
        "train.epochs = 0 is out of range: it must be an integer >= 1 (--epochs)",
    ),
    ("epochs-negative", ["--epochs", "-1"], "train.epochs = -1"),
    ("epochs-word", ["--epochs", "ten"], "--epochs"),
    ("epochs-float", ["--epochs", "1.5"], "--epochs"),
    ("batch-size-0", ["--batch-size", "0"], "data.batch_size = 0"),
    ("batch-size-negative", ["--batch-size", "-8"], "data.batch_size = -8"),
    ("lr-nan", ["--lr", "nan"], "optim.lr = nan is out of range: it must be a finite number > 0 (--lr)"),
    ("lr-negative", ["--lr", "-0.1"], "optim.lr = -0.1"),
    ("lr-inf", ["--lr", "inf"], "optim.lr = inf"),
    ("lr-minus-inf", ["--lr=-inf"], "optim.lr = -inf"),
    ("lr-zero", ["--lr", "0"], "optim.lr = 0.0"),
    ("lr-word", ["--lr", "fast"], "--lr"),
    ("accumulate-0", ["--accumulate", "0"], "train.accumulate = 0"),
    ("ema-above-1", ["--ema", "1.5"], "train.ema = 1.5"),
    ("ema-0", ["--ema", "0"], "train.ema = 0.0"),
    ("label-smoothing-1", ["--label-smoothing", "1"], "train.label_smoothing = 1.0"),
    ("clip-grad-0", ["--clip-grad", "0"], "train.clip_grad = 0.0"),
    ("clip-grad-nan", ["--clip-grad", "nan"], "train.clip_grad = nan"),
    ("patience-0", ["--patience", "0"], "train.patience = 0"),
    ("min-delta-negative", ["--min-delta", "-1"], "train.min_delta = -1.0"),
    ("devices-0", ["--devices", "0"], "train.devices = 0"),
    ("channels-2", ["--channels", "2"], "data.channels = 2 is not a valid choice: it must be one of 1 | 3"),
    ("image-size-0", ["--image-size", "0"], "data.image_size = 0"),
    ("min-freq-0", ["--min-freq", "0"], "data.min_freq = 0"),
    ("max-size-1", ["--max-size", "1"], "data.max_size = 1"),
    ("pad-size-0", ["--pad-size", "0"], "data.pad_size = 0"),
    ("save-every-steps-0", ["--save-every-steps", "0"], "train.save_every_steps = 0"),
    ("val-every-steps-negative", ["--val-every-steps", "-5"], "train.val_every_steps = -5"),
    ("patience-steps-0", ["--patience-steps", "0"], "train.patience_steps = 0"),
    ("overfit-batches-negative", ["--overfit-batches", "-1"], "train.overfit_batches = -1"),
    ("threads-negative", ["--threads", "-2"], "train.threads = -2"),
    ("optimizer-typo", ["--optimizer", "sgdd"], "did you mean 'sgd'"),
    ("scheduler-typo", ["--scheduler", "cosinee"], "sched.name = 'cosinee'"),
    ("precision-16", ["--precision", "16"], "train.precision = '16'"),
    ("monitor-unknown", ["--monitor", "val_f1"], "train.monitor = 'val_f1'"),
    ("logger-unknown", ["--logger", "wandb"], "train.logger = 'wandb'"),
    ("task-typo", ["--task", "clasification"], "did you mean 'classification'"),
    ("missing-unknown", ["--missing", "drop"], "data.missing = 'drop'"),
    ("categorical-unknown", ["--categorical", "hash"], "data.categorical = 'hash'"),
    ("tokenizer-unknown", ["--tokenizer", "bpe"], "data.tokenizer = 'bpe'"),
    ("flag-typo", ["--epohcs", "3"], "did you mean --epochs"),
    ("flag-unknown", ["--learning-rate", "0.1"], "unrecognized arguments"),
]

# (name, --set item, fragment)
SETS = [
    ("set-lr-word", "optim.lr=abc", "optim.lr must be a number"),
    ("set-lr-nan", "optim.lr=.nan", "optim.lr = nan"),
    ("set-lr-inf-string", "optim.lr=inf", "optim.lr = inf"),
    ("set-key-typo", "optim.lrr=0.1", "did you mean 'lr'"),
    ("set-section-unknown", "optimiser.lr=0.1", "unknown config key 'optimiser'"),
    ("set-top-unknown", "nope=1", "unknown config key 'nope'"),
    ("set-section-not-mapping", "optim=3", "optim must be a mapping"),
    ("set-under-a-value", "optim.lr.x=1", "optim.lr must be a number"),
    ("set-no-equals", "optim.lr", "not of the form section.key=value"),
    ("set-no-key", "=3", "has no key"),
    ("set-epochs-fraction", "train.epochs=1.5", "train.epochs must be an integer"),
    ("set-epochs-bool", "train.epochs=true", "train.epochs must be an integer"),
    ("set-epochs-list", "train.epochs=[1,2]", "train.epochs must be an integer"),
    ("set-deterministic-word", "train.deterministic=maybe", "train.deterministic must be true or false"),
    ("set-betas-one", "optim.betas=[0.9]", "optim.betas"),
    ("set-betas-above-1", "optim.betas=[1.5,0.9]", "optim.betas = [1.5, 0.9]"),
    ("set-betas-words", "optim.betas=[a,b]", "optim.betas[0] must be a number"),
    ("set-milestones-0", "sched.milestones=[0,3]", "sched.milestones = [0, 3]"),
    ("set-val-fraction-1", "data.val_fraction=1", "data.val_fraction = 1.0"),
    ("set-test-fraction-negative", "data.test_fraction=-0.1", "data.test_fraction = -0.1"),
    ("set-momentum-2", "optim.momentum=2", "optim.momentum = 2.0"),
    ("set-weight-decay-negative", "optim.weight_decay=-1", "optim.weight_decay = -1.0"),
    ("set-gamma-0", "sched.gamma=0", "sched.gamma = 0.0"),
    ("set-step-size-0", "sched.step_size=0", "sched.step_size = 0"),
    ("set-warmup-negative", "sched.warmup_epochs=-1", "sched.warmup_epochs = -1.0"),
    ("set-eval-batch-0", "data.eval_batch_size=0", "data.eval_batch_size = 0"),
    ("set-memory-budget-negative", "data.memory_budget_mb=-1", "data.memory_budget_mb = -1"),
    ("set-unfreeze-epoch-0", "model.unfreeze_epoch=0", "model.unfreeze_epoch = 0"),
    ("set-unfreeze-factor-0", "model.unfreeze_lr_factor=0", "model.unfreeze_lr_factor = 0.0"),
    ("set-freeze-unknown", "model.freeze=all", "model.freeze = 'all'"),
    ("set-train-file-missing", "data.train=nowhere.csv", "data.train = 'nowhere.csv' does not exist"),
    ("set-root-missing", "data.root=no/such/folder", "data.root = 'no/such/folder' does not exist"),
    ("set-options-not-mapping", "model.options=3", "model.options must be a mapping"),
    ("set-drop-not-strings", "data.drop=[[1]]", "data.drop[0] must be a string"),
]

# (name, recipe text or bytes, fragment)
RECIPES = [
    ("recipe-yaml-syntax", "train:\n  epochs: [1\n", "invalid YAML"),
    ("recipe-tab-indent", "train:\n\tepochs: 2\n", "invalid YAML"),
    ("recipe-a-list", "- train\n- data\n", "a recipe must be a mapping"),
    ("recipe-a-number", "3\n", "a recipe must be a mapping"),
    ("recipe-unknown-section", "trian:\n  epochs: 2\n", "did you mean 'train'"),
    ("recipe-section-a-number", "optim: 5\n", "optim must be a mapping"),
    ("recipe-lr-word", "optim:\n  lr: fast\n", "optim.lr must be a number"),
    ("recipe-lr-nan", "optim:\n  lr: .nan\n", "optim.lr = nan"),
    ("recipe-lr-negative", "optim:\n  lr: -1e-3\n", "optim.lr = -0.001"),
    ("recipe-batch-0", "data:\n  batch_size: 0\n", "data.batch_size = 0"),
    ("recipe-fraction-2", "data:\n  val_fraction: 2\n", "data.val_fraction = 2.0"),
    ("recipe-momentum-inf", "optim:\n  name: sgd\n  momentum: .inf\n", "optim.momentum = inf"),
    ("recipe-sched-typo", "sched:\n  name: cosine_annealing\n", "sched.name = 'cosine_annealing'"),
    ("recipe-not-utf8", b"optim:\n  lr: \xff\xfe\n", "not UTF-8 text (byte 13)"),
    ("recipe-duplicate-anchor", "a: *nothing\n", "invalid YAML"),
]


def _flag_case(name: str, flags: list[str], expect: str) -> Case:
    return Case(f"flag-{name}", lambda folder: train(folder, *flags), expect)


def _set_case(name: str, item: str, expect: str) -> Case:
    return Case(name, lambda folder: train(folder, "--set", item), expect)


def _recipe_case(name: str, text, expect: str) -> Case:
    return Case(name, lambda folder: train(folder, write(folder / "recipe.yaml", text)), expect)


def _missing_recipe(folder):
    return train(folder, folder / "no-such-recipe.yaml")


CASES = [
    *(_flag_case(*c) for c in FLAGS),
    *(_set_case(*c) for c in SETS),
    *(_recipe_case(*c) for c in RECIPES),
    Case("recipe-missing", _missing_recipe, "does not exist"),
]
