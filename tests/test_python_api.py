"""kindling.fit / load / Run: the same run directory as the CLI, errors as UserError, no sys.exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

import kindling
from kindling.api import config_from_keywords


def test_import_kindling_loads_no_torch():
    code = "import sys, kindling; kindling.UserError; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_keywords_are_the_flags_and_the_unique_field_names():
    cfg = config_from_keywords(
        None,
        {"data": "wine", "model": "mlp", "batch_size": 7, "lr": 0.5, "weight_decay": 0.1, "epochs": 4},
        {"sched.name": "cosine"},
    )
    assert (cfg.data.name, cfg.model.name, cfg.data.batch_size) == ("wine", "mlp", 7)
    assert (cfg.optim.lr, cfg.optim.weight_decay, cfg.train.epochs, cfg.sched.name) == (0.5, 0.1, 4, "cosine")


def test_a_section_dict_and_a_recipe(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data: {name: digits}\ntrain: {epochs: 9}\noptim: {lr: 0.2}\n")
    cfg = config_from_keywords(recipe, {"optim": {"lr": 0.01}})
    assert (cfg.train.epochs, cfg.optim.lr, cfg.name) == (9, 0.01, "r")


def test_an_unknown_keyword_is_a_user_error_with_a_suggestion():
    with pytest.raises(kindling.UserError, match=r"unknown keyword 'epoch' \(did you mean 'epochs'\?\)"):
        kindling.fit(data="digits", epoch=3)


def test_a_bad_value_is_a_user_error_not_an_exit(tmp_path):
    with pytest.raises(kindling.UserError, match="unknown model"):
        kindling.fit(data="digits", model="lenett", run_dir=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def test_fit_then_use_the_run_and_resume_it(digits_run, tmp_path):
    run = kindling.fit(data="digits", epochs=1, threads=1, run_dir=str(tmp_path / "r"))
    assert [r["epoch"] for r in run.history] == [1]
    assert run.evaluate("val")["split"] == "val" and (run.dir / "metrics_val.json").is_file()
    html = run._repr_html_()
    assert "val_acc" in html and str(run.dir) in html and "data:image/png;base64," in html
    resumed = kindling.fit(resume=str(run.dir), epochs=2)
    assert resumed.dir == run.dir and [r["epoch"] for r in resumed.history] == [1, 2]


def test_load_gives_a_predictor_with_classes(digits_run):
    model = kindling.load(digits_run)
    assert model.classes == [str(i) for i in range(10)] and model.signature.input_kind == "image"


def test_run_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(kindling.UserError, match="not a kindling run directory"):
        kindling.Run(tmp_path)


def test_ctrl_c_in_fit_writes_a_checkpoint_then_raises_keyboard_interrupt(tmp_path):
    import signal
    import time

    from kindling.train import checkpoint

    run = tmp_path / "run"
    code = (
        "import kindling\n"
        "try:\n"
        f"    kindling.fit(data='digits', model='mlp', epochs=400, threads=1, run_dir={str(run)!r})\n"
        "except KeyboardInterrupt as exc:\n"
        "    print('INTERRUPTED', exc, flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-u", "-c", code], stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    for line in proc.stdout:
        if line.startswith("epoch 2/"):
            break
        assert time.time() < deadline
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert "INTERRUPTED" in out and f"kindling.fit(resume={str(run)!r})" in out
    assert checkpoint.load(run / "checkpoints" / "last.pt")["progress"]["epoch"] >= 2
