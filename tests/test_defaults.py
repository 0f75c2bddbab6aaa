"""Defaults that fit the data: what is left to kindling is chosen by kind and size; what was given stays."""

from __future__ import annotations

from kindling.config import RunConfig
from kindling.data.signature import Signature
from kindling.defaults import choose


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


def test_a_table_gets_an_mlp_sized_to_its_features_and_early_stopping():
    cfg = auto_config()
    line = choose(cfg, TABLE, 300)
    assert cfg.model.name == "mlp" and cfg.model.options["hidden"] == [32]
    assert (cfg.train.monitor, cfg.train.epochs, cfg.train.patience) == ("val_loss", 300, 20)
    assert cfg.data.batch_size == 32 and cfg.optim.lr == 3e-3
    assert line.startswith("kindling chose mlp (hidden [32]) for a 13-feature table of 300 rows")
    assert "early stopping after 20 rounds" in line


def test_text_small_and_large_images():
    cfg = auto_config()
    line = choose(cfg, TEXT, 4000)
    assert (cfg.model.name, cfg.model.options["ngrams"]) == ("linear-ngrams", 3)
    assert (cfg.optim.name, cfg.optim.lr, cfg.train.patience) == ("sgd", 4.0, 3)
    assert line.startswith("kindling chose linear-ngrams (char 1-3-grams) for 4,000 texts")
    words = Signature("classification", "text", [40], ["ham", "spam"], extras={"tokenizer": "word"})
    cfg = auto_config()
    choose(cfg, words, 4000)
    assert cfg.model.options["ngrams"] == 2
    cfg = auto_config()
    choose(cfg, SMALL_IMAGES, 1200)
    assert (cfg.model.name, cfg.data.augment, cfg.sched.name) == ("digits-cnn", "shift", "cosine")
    cfg = auto_config()
    choose(cfg, PHOTOS, 800)
    assert cfg.model.name == "resnet18"


def test_a_given_optimizer_keeps_the_classic_lr_not_the_rules():
    """The text rule's lr 4.0 is for SGD; with the user's Adam it would diverge."""
    cfg = auto_config(optim__name="adam")
    choose(cfg, TEXT, 4000)
    assert (cfg.model.name, cfg.optim.name, cfg.optim.lr) == ("linear-ngrams", "adam", 1e-3)


def test_what_the_user_gave_is_kept():
    cfg = auto_config(model__name="lenet", train__epochs=3, optim__lr=0.1, train__monitor="val_acc")
    line = choose(cfg, SMALL_IMAGES, 1200)
    assert (cfg.model.name, cfg.train.epochs, cfg.optim.lr, cfg.train.monitor) == ("lenet", 3, 0.1, "val_acc")
    assert cfg.model.options == {} and cfg.data.augment == "none" and cfg.train.patience is None
    assert cfg.data.batch_size == 64  # the one key left to kindling
    assert line.startswith("kindling chose training settings for 1,200 samples; batch 64")


def test_nothing_left_to_choose_says_nothing():
    cfg = auto_config(
        model__name="mlp", train__epochs=3, optim__lr=0.1, train__monitor="val_loss", data__batch_size=8
    )
    assert choose(cfg, TABLE, 300) is None
