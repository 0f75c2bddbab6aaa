"""Defaults that fit the data: what `kindling train --data SPEC` chooses when nothing else is said.

The config marks what it leaves to kindling with `auto` (model.name, train.monitor) or null (batch size,
epochs, learning rate): these are the defaults. Once the data is read, `choose(cfg, sig, n_train)` returns a copy of the config with those keys
filled for the kind of problem and its size, and the one line saying what it chose and why (the input
config is left as it was; `kindling.train.settle.settle` is its one caller on a run). What a recipe, a flag or
`--set` gave is never touched, and the resolved values are what config.yaml keeps, so a resumed run
never re-chooses.

The rules, by input kind (n = training samples). For a table the data source has already chosen the kind
of problem from the target's values (`kindling.data.tables.schema.infer_task`, data.task=auto); the line
names it first, with the flag that overrides it (`Signature.extras["task_reason"]`).
- tables: an MLP with one hidden layer twice as wide as the features (32..256; two layers from 5,000 rows),
  AdamW with weight decay, batch 32..256 by size, up to 300 epochs stopped early after 20 rounds without a
  better validation figure (small tables train in milliseconds per epoch; early stopping picks the length).
  Under 1,000 rows: lr 1e-3 and weight decay 1.0 (above: 3e-3, 1e-2, and dropout 0.1). From 800 rows
  (NUMBERS_ROWS) each number is embedded (`mlp` numbers=plr, models/mlp.py). A few hundred rows are mostly
  noise to an MLP, so it needs ridge-like shrinkage; and the validation split is a few dozen rows, so a
  fast lr lets one lucky early epoch win the checkpoint and stop the run before the model has learnt much:
  the slower lr makes the validation curve smooth. From 100 to 19,999 training rows, when `kindling train`
  (or `kindling.fit`) chooses the model and the epochs, it trains the 5-fold ensemble of that MLP instead
  of one (`kindling cv --ensemble`, ENSEMBLE_ROWS): measured on eight small real tables, it is what closed
  the gap to linear models and gradient boosting where one network trailed them, and it helped the three
  larger ones too. Tried on the tables where gradient boosting still leads and not kept (3 seeds, medians):
  a signed log1p of skewed columns (adult 0.8556 -> 0.8524, seattle_weather unchanged) and one-hot quantile
  bins beside each number (seattle_weather 0.7787 -> 0.7978 with 8 bins but 0.7787 with 16; adult 0.8554
  with 8). The number embeddings (sin/cos of 16 learned frequencies drawn at scale 1, then a shared 32 ->
  16 layer: scale 0.1 gave seattle_weather 0.7842, scale 3 gave 0.7787 and adult 0.8642 against 0.7869 and
  0.8614 at 1, these three with the numbers but not the dates embedded) help from 883 training rows (adult
  0.8556 -> 0.8614, fair's MAE 0.911 -> 0.906, and in their fold ensembles titanic 0.9633 -> 0.9664 and
  seattle_weather 0.7787 -> 0.7951, whose labels change with the year) but overfit from 637 down
  (stackloss's MAE 2.47 -> 5.22, diabetes 43.6 -> 49.8, anes96 0.928 -> 0.915, breast_cancer 0.958 ->
  0.951; star98 alone gained, 193.0 -> 190.9): NUMBERS_ROWS draws the line between. Tried beside them and
  not kept: embedded categories (adult 0.8600) and a linear path beside the MLP (star98's MAE 193.0 ->
  204.1, the other small tables unchanged but stackloss, already ahead of ridge). Then each column's own
  layer (PLR, numbers=plr) against the shared one (PLR lite, numbers=periodic), on seattle_weather / adult
  (3 seeds, medians): shared over 16 frequencies 0.7951 / 0.8614; own over 16: 0.8005 / 0.8636; own over
  32: 0.8142 / 0.8620 (titanic 0.9664 -> 0.9694, fair's MAE 0.906 -> 0.915, still far under its classical
  models' 0.992); own over 16 of 8 dims: 0.8033 / 0.8646; 32 of 8: 0.8087 / 0.8644; 32 of 32: 0.7896 /
  0.8628; frequencies at scale 0.3: 0.8060 / 0.8616. The own layer over 32 frequencies is the default,
  chosen on this same suite (not a held-out result); it is the first to reach gradient boosting on
  seattle_weather. Tried on top and not kept: a quantile-normal transform of each number before its layer
  (adult 0.8620 -> 0.8586).
- text: a linear model over hashed n-grams (`linear-ngrams`: TF-IDF + linear SVM as a network), which
  comes close to that baseline where the embedding models (`bow`, `textcnn`, `textrnn`) trail it;
  1-3-grams of characters or 1-2-grams of words (as the tokeniser chose), SGD at lr 4, label smoothing
  0.1, patience 3, and up to 100 epochs: a convex model is trained until the validation figure stops
  improving, and the cap only bounds that (20 epochs stopped a 10-topic news set with its validation
  loss still falling). BENCHMARKS.md, against the TF-IDF + linear-SVM baseline (3 seeds, medians): at
  or above it on zh_reviews and sms_spam, 0.4 to 0.6 points under it on Rotten Tomatoes and tnews.
  On tnews the gap is the loss: fitted to convergence on the baseline's own features, logistic
  regression (the softmax this model trains) trails the SVM at every C (0.5102 at best against 0.5189;
  benchmarks/bench_text_losses.py), while on the other three some C reaches it. A squared hinge
  trained by SGD at the SVM's C = 0.3 reached it on tnews (0.5198, 3 seeds) but not on the other three
  (Rotten Tomatoes 0.7866, zh_reviews 0.9162 with one seed), whose SVM wants C = 1; and its scores are
  margins, not the probabilities predict, serve and the thresholds read. Tried
  there and not kept, each within the seeds' spread or worse: sublinear term frequencies, the
  baseline's 1-2-grams of characters, 4x the hash buckets, a multi-class hinge loss, LinearSVC's own
  one-vs-rest squared hinge (10 points worse on tnews at lr 0.3, diverging at 4), label smoothing 0 or
  0.2, patience 6, weight decay 1e-6 (no change) to 1e-4 (4 points worse on tnews), an average of
  the weights (EMA 0.99), halving the rate on a plateau (tnews 0.5124, Rotten Tomatoes 0.7881), the
  validation loss as the monitor (0.5127, 0.7875), dropping n-gram occurrences while training (0.2:
  0.5136, 0.7887; 0.4: 0.5142, 0.7855), weight decay 1e-5 (0.5059, 0.7875) and a one-vs-rest logistic
  loss (0.5049, 0.7809). Then LinearSVC itself as this model: sublinear term frequencies, its
  one-vs-rest squared hinge and its L2 of 1/(C n), to the best validation epoch of 20 (cosine). Trained
  by Adam (lr 0.01) at C = 1 it reached the SVM on Rotten Tomatoes (0.7924), tnews (0.5220) and
  zh_reviews (0.9458) but fell under it on sms_spam (0.9849 against 0.9885; 3 seeds); by SGD (lr 2) at
  C = 0.3, tnews 0.5204 but Rotten Tomatoes 0.7751 (one seed); the hinge plus the softmax, by Adam at
  C = 1, reached none (0.5182, 0.7907, sms_spam 0.9821; one seed). Each loss wins where the other loses;
  choosing between them on validation would double the training, and the margins would need a fitted
  temperature to be the probabilities predict and serve show. A text model the user names gets
  AdamW, up to 20 epochs, patience 3.
- images up to 64 pixels a side: kindling's small CNN (`digits-cnn`), wider for more data, with shift
  augmentation, cosine schedule, up to 40 epochs, patience 20: a cosine run settles in its late,
  low-lr epochs, so early stopping only ends one that has not improved for half the schedule.
- a few hundred to a few thousand photos larger than 64 pixels, with no --image-size and no --pretrained:
  resized to 80 x 80 (`PHOTO_SIDE`, decoded once and cached) for a small CNN from scratch (`photo-cnn`,
  a conv-BN-ReLU block per halving, scores averaged with the mirror image's when evaluating), flips,
  shifts, zooms, turns and colour jitter (`PHOTO_AUGMENT`), cosine schedule, 60 epochs, patience 20. A
  resnet18 from scratch on a few hundred photos ends near chance on some splits; this learns, in a
  fraction of the time. On cats_dogs (BENCHMARKS.md) 80 px beat 64 (more detail) and 96 (half again
  the time for no gain).
- larger images otherwise: resnet18 (fine-tuned in two stages when ImageNet weights are given with
  --pretrained, at the photos' own size).
The monitor (what picks the best epoch), when nothing set it, follows one rule whoever chose the model
(kindling, a recipe, a flag or `kindling.fit(model=...)`): on a validation split of fewer than
`kindling.task.problems.SMALL_VAL` samples the loss (MAE for regression), where accuracy ties and the
first of a tie is rarely the best model; above it the Task's default (val_acc for classification). The
settling step (kindling.train.settle) resolves it before `choose`, which names it in its line.
Schedules, augmentation and early stopping come with the epochs: a user who gives --epochs gets exactly
that many, unaugmented, as before.
"""

from __future__ import annotations

import copy
import math

AUTO = "auto"


def _pow2(x: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, 2 ** round(math.log2(max(x, 1))))))


# From this many training rows the table default embeds each number (mlp numbers=plr): measured on the
# tables suite, it helped every table from 883 training rows up (titanic, seattle_weather in their fold
# ensembles; fair, adult) and hurt every one from 637 down but star98 (anes96, breast_cancer, diabetes,
# stackloss): the line is drawn between the two.
NUMBERS_ROWS = 800


def _table(sig, n: int) -> tuple[dict, str]:
    features = math.prod(sig.input_shape)
    width = _pow2(2 * features, 32, 256)
    hidden = [width] if n < 5000 else [width, max(16, width // 2)]
    small = n < 1000
    options = {"hidden": hidden, "dropout": 0.0 if small else 0.1}
    # a table read from a file (its number columns known) of NUMBERS_ROWS training rows or more
    embedded = n >= NUMBERS_ROWS and sig.input_kind == "tabular"
    if embedded:
        options["numbers"] = "plr"
    chosen = {
        "model.name": "mlp",
        "model.options": options,
        "optim.lr": 1e-3 if small else 3e-3,
        "optim.weight_decay": 1.0 if small else 1e-2,
        "data.batch_size": _pow2(n / 30, 32, 256),
        "train.epochs": 300,
        "train.patience": 20,
    }
    numbers = ", each number embedded" if embedded else ""
    return chosen, f"mlp (hidden {hidden}{numbers}) for a {features}-feature table of {n:,} rows"


OWN_MODEL = "own_model"  # a rule's settings that suit only its own model (dropped for the user's model)
TEXT_EPOCHS = 100
TEXT_SMOOTHING = 0.1


def _text(sig, n: int) -> tuple[dict, str]:
    tokenizer = sig.extras.get("tokenizer", "char")
    ngrams = 3 if tokenizer == "char" else 2
    chosen = {
        "model.name": "linear-ngrams",
        "model.options": {"ngrams": ngrams, "buckets": 262_144},
        "data.batch_size": 64,
        "train.epochs": 20,  # a text model the user names (bow, textcnn, textrnn): AdamW, 20 epochs
        "train.patience": 3,
    }
    # linear-ngrams' own training (OWN_MODEL: not for a model the user names): plain SGD, since Adam's
    # per-weight steps overfit rare n-grams; a convex model, so the run ends when the validation figure
    # stops improving, not at a cap (TEXT_EPOCHS only bounds it: the 20-epoch cap stopped a 10-topic news
    # set with its validation loss still falling); label smoothing bounds the logits, as a margin does
    chosen[OWN_MODEL] = {
        "optim.name": "sgd",
        "optim.lr": 4.0,
        "train.epochs": TEXT_EPOCHS,
        "train.label_smoothing": TEXT_SMOOTHING,
    }
    return chosen, f"linear-ngrams ({tokenizer} 1-{ngrams}-grams) for {n:,} texts"


PHOTO_SIDE = 80
# flips, shifts, zooms, small turns and colour jitter: a few hundred photos need every view they can get
PHOTO_AUGMENT = "hflip,shift=0.1,scale=0.3,rotate=10,jitter=0.2"


def photo_side(cfg) -> int | None:
    """The side a folder of a few photos is resized to before kindling chooses the model for it: only
    when it chooses the model and the size (no --model, --pretrained or --image-size)."""
    given = not is_auto(cfg, "model.name") or cfg.model.pretrained or cfg.data.image_size is not None
    return None if given else PHOTO_SIDE


def _photos(sig, n: int) -> tuple[dict, str]:
    side = sig.extras["photo_side"]
    width = 16 if n < 2000 else 32
    chosen = {
        "model.name": "photo-cnn",
        "model.options": {"width": width},
        "data.image_size": side,
        "optim.lr": 3e-3,
        "optim.weight_decay": 5e-4,
        "sched.name": "cosine",
        "data.batch_size": 32,
        "data.augment": PHOTO_AUGMENT,
        # the whole cosine schedule pays: over 5 seeds on cats_dogs, 60 epochs reached 0.748 (median test
        # accuracy), 40 epochs 0.692 (benchmarks/bench_photo_stops.py). Patience 30 ended 1 run in 5;
        # 20 is the shortest whose replay of those runs never changed the model kept, and it ends 2 in 5
        # (a validation set of a few dozen photos is noisy: patience 5 or 10 stopped every run by epoch 20)
        "train.epochs": 60,
        "train.patience": 20,
    }
    what = f"a small CNN from scratch (photo-cnn, width {width}) for {n:,} photos resized to {side}x{side}"
    return chosen, what + " (--image-size N to keep more pixels, --pretrained PATH for transfer learning)"


def _image(sig, n: int) -> tuple[dict, str]:
    side = max(sig.input_shape[1:])
    shape = "x".join(str(s) for s in sig.input_shape)
    if sig.extras.get("photo_side"):
        return _photos(sig, n)
    if side <= 64:
        width = 32 if n < 2000 else 48 if n < 20_000 else 64
        chosen = {
            "model.name": "digits-cnn",
            "model.options": {"width": width},
            "optim.lr": 3e-3,
            "optim.weight_decay": 1e-4,
            "sched.name": "cosine",
            "data.batch_size": 64 if n < 20_000 else 128,
            "data.augment": "shift",
            "train.epochs": 40,
            "train.patience": 20,
        }
        return chosen, f"a small CNN (digits-cnn, width {width}) for {n:,} images of {shape}"
    chosen = {
        "model.name": "resnet18",
        "optim.lr": 1e-3,
        "data.batch_size": 32,
        "data.augment": "light",
        "train.epochs": 30,
        "train.patience": 6,
    }
    return chosen, f"resnet18 for {n:,} images of {shape}"


RULES = {"tabular": _table, "vector": _table, "text": _text, "image": _image}


# keys a config leaves to kindling with `auto` or null
LEADERS = ("model.name", "data.batch_size", "train.epochs", "optim.lr")
# keys with a plain default that are chosen together with their leader, while they hold that default:
# a user who gives --epochs gets exactly the classic behaviour (no early stopping unless asked)
COMPANIONS = {
    "model.options": ("model.name", {}),
    "data.augment": ("train.epochs", "none"),  # augmentation pays off over a long run
    "train.patience": ("train.epochs", None),
    "sched.name": ("train.epochs", "none"),
    "optim.weight_decay": ("optim.lr", 0.0),
    "optim.name": ("optim.lr", "adamw"),  # a rule's learning rate is meant for its optimizer
    "train.label_smoothing": ("train.epochs", 0.0),
    "data.image_size": ("model.name", None),  # photos resized for the chosen model: config.yaml keeps it
}
CLASSIC = {"data.batch_size": 64, "train.epochs": 10, "optim.lr": 1e-3}


def _get(cfg, dotted: str):
    section, key = dotted.split(".")
    return getattr(getattr(cfg, section), key)


def _set(cfg, dotted: str, value) -> None:
    section, key = dotted.split(".")
    setattr(getattr(cfg, section), key, value)


def is_auto(cfg, dotted: str) -> bool:
    """Whether `dotted` was left to kindling (no recipe, flag, keyword or --set gave it)."""
    return _get(cfg, dotted) in (None, AUTO)


def adopt(cfg, saved) -> None:
    """On resume: what the run chose when it started, for every key this config leaves to kindling."""
    auto = {k for k in LEADERS if is_auto(cfg, k)}
    auto |= {k for k, (leader, plain) in COMPANIONS.items() if leader in auto and _get(cfg, k) == plain}
    if is_auto(cfg, "train.monitor"):  # what the monitor rule gave for the run's validation split
        auto.add("train.monitor")
    for dotted in auto:
        _set(cfg, dotted, _get(saved, dotted))


# A table of this many training rows gets the fold ensemble (`kindling cv --ensemble`) instead of one network
# when kindling chooses its model and epochs (issue 26 §4). Measured on eight small real tables (21 to 944
# rows, BENCHMARKS.md "One network or the fold ensemble"): the 5-fold ensemble of the same network reached
# the better of linear / logistic regression and gradient boosting on 5, one network on 3; it closed the gap
# on iris, diabetes and anes96 and narrowed star98's, for 1.5 to 6 times the training time. Under 100 rows
# (the folds validate on a handful of rows each) it did not help. Above 1,000 training rows it helped every
# table measured too, up to 13,600 rows: fair's MAE 0.915 -> 0.887, adult 0.8620 -> 0.8644 and randhie
# (held out: never tuned on) 2.398 -> 2.384, for 3 to 8 times the time (adult 6 s -> 23 s). The upper
# bound keeps the default's run to about a minute for a small MLP: from 20,000 rows one network.
ENSEMBLE_ROWS = (100, 20_000)
ENSEMBLE_FOLDS = 5
ENSEMBLE_WHY = (
    f"under {ENSEMBLE_ROWS[1]:,} training rows the {ENSEMBLE_FOLDS} networks' average, each validated on "
    "its own fifth, came closer to linear models and gradient boosting on most tables measured than one "
    "network, whose single validation split's luck picks its epoch (BENCHMARKS.md); --model mlp trains one"
)


def _fold_ensemble(cfg, sig, n_train: int, filled: dict) -> bool:
    """Whether the defaults train the fold ensemble instead of one network (ENSEMBLE_ROWS)."""
    return (
        sig.input_kind == "tabular"
        and {"model.name", "train.epochs"} <= set(filled)
        and ENSEMBLE_ROWS[0] <= n_train < ENSEMBLE_ROWS[1]
        and not cfg.data.folds
        and cfg.train.devices == 1
    )


def choose(
    cfg,
    sig,
    n_train: int,
    model_given: bool = False,
    monitor_chosen: bool = False,
    n_val: int = 0,
    ensemble_ok: bool = False,
):
    """The keys `cfg` left to kindling, filled for data of signature `sig` with `n_train` training samples:
    -> (a new config, the line saying what was chosen, or None when everything was given); `cfg` itself is
    not changed. `model_given`: the model is
    already built (a Trainer handed a module), so only the training settings are chosen.
    `monitor_chosen`: cfg.train.monitor was left to kindling and holds what the monitor rule gave for a
    validation split of `n_val` samples (kindling.train.settle resolves it), which the line names.
    `ensemble_ok`: the caller can train the fold ensemble (kindling.crossval), which a small table then
    gets (`data.folds` set: ENSEMBLE_ROWS)."""
    cfg = copy.deepcopy(cfg)
    return cfg, _fill(cfg, sig, n_train, model_given, monitor_chosen, n_val, ensemble_ok)


def _fill(cfg, sig, n_train: int, model_given: bool, monitor_chosen: bool, n_val: int, ensemble_ok: bool):
    """`choose` on its own copy: fills it in place and returns the line."""
    rule = RULES.get(sig.input_kind, _table)
    chosen, what = rule(sig, n_train)
    own = chosen.pop(OWN_MODEL, {})
    auto = {k for k in LEADERS if is_auto(cfg, k) and not (model_given and k == "model.name")}
    if "model.name" not in auto:  # the user's model: only the training settings follow the data
        chosen = {k: v for k, v in chosen.items() if not k.startswith("model.")}
    else:  # the rule's own model: its own optimizer, lr and length of run (linear-ngrams: SGD at 4)
        chosen.update(own)
    auto |= {k for k, (leader, plain) in COMPANIONS.items() if leader in auto and _get(cfg, k) == plain}
    if "optim.name" in chosen and "optim.name" not in auto:  # the rule's lr is for its own optimizer
        auto.discard("optim.lr")
    filled = {k: v for k, v in chosen.items() if k in auto}
    for dotted, value in filled.items():
        _set(cfg, dotted, value)
    for dotted, value in CLASSIC.items():  # what no rule chose keeps the classic default
        if is_auto(cfg, dotted):
            _set(cfg, dotted, value)
    task = _task_part(sig)
    if not filled and not monitor_chosen:
        return f"kindling chose {task}" if task else None
    if not filled:
        said = [task] if task else []
        return "kindling chose " + "; ".join([*said, _monitor_part(cfg, n_val)]) + " (--monitor to choose)"
    if ensemble_ok and _fold_ensemble(cfg, sig, n_train, filled):
        cfg.data.folds, cfg.data.fold = ENSEMBLE_FOLDS, 0
        what = f"the {ENSEMBLE_FOLDS}-fold ensemble of {what} ({ENSEMBLE_WHY})"
    parts = [what if "model.name" in filled else f"training settings for {n_train:,} samples"]
    if "data.batch_size" in filled:
        parts.append(f"batch {filled['data.batch_size']}")
    if "train.epochs" in filled:
        patience = cfg.train.patience
        better = f"a better {cfg.train.monitor}" if cfg.train.monitor != AUTO else "improvement"
        stop = f", early stopping after {patience} rounds without {better}" if patience else ""
        parts.append(f"up to {filled['train.epochs']} epochs{stop}")
    if "optim.lr" in filled:
        parts.append(f"lr {filled['optim.lr']:g}")
    if filled.get("train.label_smoothing"):
        parts.append(f"label smoothing {filled['train.label_smoothing']:g}")
    if filled.get("data.augment") not in (None, "none"):
        parts.append(f"augmentation {filled['data.augment']}")
    if monitor_chosen:
        parts.append(_monitor_part(cfg, n_val))
    parts = [task, *parts] if task else parts
    flags = (
        "--model, --epochs, --batch-size, --lr or --monitor"
        if monitor_chosen
        else "--model, --epochs, --batch-size or --lr"
    )
    return "kindling chose " + "; ".join(parts) + f" (set {flags} to choose)"


def _monitor_part(cfg, n_val: int) -> str:
    """`the best epoch by val_loss (43 validation samples)`: what picks the model, and on how much."""
    on = f" ({n_val:,} validation samples)" if n_val else ""
    return f"the best epoch by {cfg.train.monitor}{on}"


def _task_part(sig) -> str:
    """'classification, as 'Survived' holds 2 distinct whole numbers (--task regression to change)' when
    the data source chose the kind of problem from the target (tables), else ''."""
    reason = (getattr(sig, "extras", None) or {}).get("task_reason")
    if not reason:
        return ""
    other = "regression" if sig.task == "classification" else "classification"
    return f"{sig.task}, as {reason} (--task {other} to change)"
