"""Defaults that fit the data: what is left to kindling is chosen by kind and size; what was given stays."""

from __future__ import annotations

from kindling.config.defaults import choose
from kindling.config.schema import RunConfig
from kindling.data.signature import Signature


def auto_config(**given) -> RunConfig:
    cfg = RunConfig()
    cfg.model.name, cfg.train.monitor = "auto", "auto"
    cfg.data.batch_size = cfg.train.epochs = cfg.optim.lr = None
    for dotted, value in given.items():
        section, key = dotted.split("__")
        setattr(getattr(cfg, section), key, value)
    return cfg


TABLE = Signature("regression", "tabular", [13])
TEXT = Signature("classification", "text", [200], ["ham", "spam"], extras={"tokenizer": "char"})
SMALL_IMAGES = Signature("classification", "image", [1, 8, 8], [str(i) for i in range(10)])
PHOTOS = Signature("classification", "image", [3, 224, 224], ["cat", "dog"])


def settled_monitor(cfg: RunConfig, sig: Signature, n_val: int) -> None:
    """What the runner does before `choose`: the Task's rule for a monitor left to kindling."""
    from kindling.task import task_for

    cfg.train.monitor = task_for(sig).monitor_for(cfg.train.monitor, n_val)


def test_a_table_gets_an_mlp_sized_to_its_features_and_early_stopping():
    cfg = auto_config()
    settled_monitor(cfg, TABLE, 30)
    cfg, line = choose(cfg, TABLE, 300, monitor_chosen=True, n_val=30)
    assert cfg.model.name == "mlp" and cfg.model.options["hidden"] == [32]
    assert "numbers" not in cfg.model.options  # a small table's numbers go in plain: embeddings overfit it
    assert (cfg.train.monitor, cfg.train.epochs, cfg.train.patience) == ("val_mae", 300, 20)
    assert cfg.data.batch_size == 32
    assert (cfg.optim.lr, cfg.optim.weight_decay) == (1e-3, 1.0)  # a small table: slow and shrunk
    assert line.startswith("kindling chose mlp (hidden [32]) for a 13-feature table of 300 rows")
    assert "early stopping after 20 rounds without a better val_mae" in line
    assert "the best epoch by val_mae (30 validation samples)" in line


def test_a_larger_classification_table_gets_the_faster_lr_and_accuracy_on_a_large_split():
    sig = Signature("classification", "tabular", [20], ["a", "b"])
    cfg = auto_config()
    settled_monitor(cfg, sig, 2_000)
    cfg, line = choose(cfg, sig, 20_000, monitor_chosen=True, n_val=2_000)
    assert cfg.model.options == {"hidden": [32, 16], "dropout": 0.1, "numbers": "plr"}
    assert line.startswith(
        "kindling chose mlp (hidden [32, 16], each number embedded) for a 20-feature table"
    )
    assert (cfg.train.monitor, cfg.optim.lr, cfg.optim.weight_decay) == ("val_acc", 3e-3, 1e-2)


def test_a_tables_numbers_are_embedded_from_numbers_rows_on_and_never_for_arrays():
    from kindling.config.defaults import NUMBERS_ROWS

    vectors = Signature("classification", "vector", [20], ["a", "b"])
    for sig, n, embedded in [
        (TABLE, NUMBERS_ROWS - 1, False),
        (TABLE, NUMBERS_ROWS, True),
        (vectors, 20_000, False),
    ]:
        cfg, line = choose(auto_config(), sig, n)
        assert (cfg.model.options.get("numbers") == "plr") == embedded, (sig.input_kind, n)
        assert ("each number embedded" in line) == embedded


def test_only_the_monitor_left_to_kindling_is_still_named():
    cfg = auto_config(model__name="mlp", train__epochs=3, optim__lr=0.1, data__batch_size=8)
    settled_monitor(cfg, SMALL_IMAGES, 43)
    cfg, line = choose(cfg, SMALL_IMAGES, 300, monitor_chosen=True, n_val=43)
    assert line == "kindling chose the best epoch by val_loss (43 validation samples) (--monitor to choose)"


def test_text_small_and_large_images():
    cfg = auto_config()
    cfg, line = choose(cfg, TEXT, 4000)
    assert (cfg.model.name, cfg.model.options["ngrams"]) == ("linear-ngrams", 3)
    assert (cfg.optim.name, cfg.optim.lr, cfg.train.patience) == ("sgd", 4.0, 3)
    # trained until validation stops improving: the cap only bounds the run; smoothing bounds the logits
    assert (cfg.train.epochs, cfg.train.label_smoothing) == (100, 0.1)
    assert line.startswith("kindling chose linear-ngrams (char 1-3-grams) for 4,000 texts")
    assert "up to 100 epochs, early stopping after 3 rounds" in line and "label smoothing 0.1" in line
    words = Signature("classification", "text", [40], ["ham", "spam"], extras={"tokenizer": "word"})
    cfg = auto_config()
    cfg, _ = choose(cfg, words, 4000)
    assert cfg.model.options["ngrams"] == 2
    cfg = auto_config(model__name="textrnn")  # the user's text model: not linear-ngrams' SGD at lr 4
    cfg, _ = choose(cfg, TEXT, 4000)
    assert (cfg.optim.name, cfg.optim.lr, cfg.train.epochs) == ("adamw", 1e-3, 20)
    assert cfg.train.label_smoothing == 0.0  # linear-ngrams' own settings are not the user's model's
    cfg = auto_config(train__epochs=5)  # the user's epochs: exactly that run, no smoothing added
    cfg, _ = choose(cfg, TEXT, 4000)
    assert (cfg.model.name, cfg.train.epochs, cfg.train.label_smoothing) == ("linear-ngrams", 5, 0.0)
    cfg = auto_config()
    cfg, _ = choose(
        cfg, TEXT, 30_000
    )  # zh_reviews' size: the linear model still beats the baseline, in seconds
    assert cfg.model.name == "linear-ngrams"
    cfg = auto_config()
    cfg, _ = choose(cfg, SMALL_IMAGES, 1200)
    assert (cfg.model.name, cfg.data.augment, cfg.sched.name) == ("digits-cnn", "shift", "cosine")
    cfg = auto_config()
    cfg, _ = choose(cfg, PHOTOS, 800)
    assert cfg.model.name == "resnet18"


def test_a_given_optimizer_keeps_the_classic_lr_not_the_rules():
    """The text rule's lr 4.0 is for SGD; with the user's Adam it would diverge."""
    cfg = auto_config(optim__name="adam")
    cfg, _ = choose(cfg, TEXT, 4000)
    assert (cfg.model.name, cfg.optim.name, cfg.optim.lr) == ("linear-ngrams", "adam", 1e-3)


def test_what_the_user_gave_is_kept():
    cfg = auto_config(model__name="lenet", train__epochs=3, optim__lr=0.1, train__monitor="val_acc")
    cfg, line = choose(cfg, SMALL_IMAGES, 1200)
    assert (cfg.model.name, cfg.train.epochs, cfg.optim.lr, cfg.train.monitor) == ("lenet", 3, 0.1, "val_acc")
    assert cfg.model.options == {} and cfg.data.augment == "none" and cfg.train.patience is None
    assert cfg.data.batch_size == 64  # the one key left to kindling
    assert line.startswith("kindling chose training settings for 1,200 samples; batch 64")


def test_nothing_left_to_choose_says_nothing():
    cfg = auto_config(
        model__name="mlp", train__epochs=3, optim__lr=0.1, train__monitor="val_loss", data__batch_size=8
    )
    assert choose(cfg, TABLE, 300)[1] is None


def test_a_few_photos_resized_by_kindling_get_a_small_cnn_from_scratch():
    from kindling.config.defaults import PHOTO_AUGMENT

    photos = Signature("classification", "image", [3, 80, 80], ["cat", "dog"], extras={"photo_side": 80})
    cfg = auto_config()
    cfg, line = choose(cfg, photos, 700)
    assert (cfg.model.name, cfg.model.options, cfg.data.image_size) == ("photo-cnn", {"width": 16}, 80)
    assert (cfg.data.augment, cfg.sched.name, cfg.train.epochs, cfg.train.patience) == (
        PHOTO_AUGMENT,
        "cosine",
        60,
        20,
    )
    assert "photo-cnn, width 16) for 700 photos resized to 80x80" in line
    assert f"augmentation {PHOTO_AUGMENT}" in line


def test_transfer_learning_or_a_given_size_keeps_the_photos_own_size():
    from kindling.config.defaults import PHOTO_SIDE, photo_side

    assert photo_side(auto_config()) == PHOTO_SIDE
    assert photo_side(auto_config(model__pretrained="imagenet")) is None
    assert photo_side(auto_config(data__image_size=96)) is None
    assert photo_side(auto_config(model__name="resnet18")) is None


def test_a_bare_folder_of_photos_trains_the_small_cnn_at_80_pixels(tmp_path, capsys):
    """>80 px photos in class folders, nothing else said: kindling resizes them, says so, trains."""
    import json
    import sys
    from pathlib import Path

    import yaml

    sys.path.insert(0, str(Path(__file__).parent / "data"))
    from image_files import write_folder

    from kindling_testing import train_run

    root = write_folder(tmp_path / "photos", per_class=10, classes=("cat", "dog"), size=100, splits=())
    run = train_run(
        tmp_path / "run", "--data", f"folder:{root}", "--data-dir", str(tmp_path), "--epochs", "1"
    )
    out = capsys.readouterr().out
    assert "kindling chose a small CNN from scratch (photo-cnn, width 16)" in out
    assert "resized to 80x80" in out
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["name"] == "photo-cnn" and saved["data"]["image_size"] == 80
    assert saved["train"]["epochs"] == 1
    bundle = json.loads((run / "best" / "bundle.json").read_text())
    assert bundle["signature"]["input_shape"] == [3, 80, 80]  # predict resizes to what the model saw


def test_the_task_kindling_chose_from_the_target_leads_the_line_with_its_flag():
    sig = Signature("classification", "tabular", [12], ["0", "1"])
    sig.extras["task_reason"] = "'Survived' holds 2 distinct whole numbers"
    _, line = choose(auto_config(), sig, 600)
    assert line.startswith(
        "kindling chose classification, as 'Survived' holds 2 distinct whole numbers "
        "(--task regression to change); mlp (hidden [32])"
    )
    given = auto_config(model__name="mlp", data__batch_size=32, train__epochs=5, optim__lr=0.01)
    assert choose(given, sig, 600)[1] == (
        "kindling chose classification, as 'Survived' holds 2 distinct whole numbers (--task regression to change)"
    )
    assert "--task" not in choose(auto_config(), TABLE, 300)[1]  # a task the user gave is not announced
