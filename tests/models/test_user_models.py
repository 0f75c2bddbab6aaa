"""Your own model: `--model path/to/file.py:Name` or `package.module:Name`.

The seeds' model classes (tests/seed_models.py, written as the seeds write them) are trained, evaluated,
predicted, exported and served through the real CLI on small generated image folders of their shapes;
the Bundle's record of their code guards every later load (a changed or missing file is refused, and
--trust-code uses the Bundle's copy).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from kindling.cli.main import main
from kindling_testing import train_run

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
sys.path.insert(0, str(TESTS / "data"))  # tests/data/image_files.py
sys.path.insert(0, str(TESTS / "serve"))  # tests/serve/serve_helpers.py
import image_files  # noqa: E402

CLASSES = ("ant", "bee", "cat")
SEED_MODELS = {"LeNet": 3, "Tudui": 3, "MnistNet": 1, "CNN": 1, "CifarNet": 3}  # name -> image channels


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(capsys, *argv: str) -> str:
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2, err
    lines = [line for line in err.splitlines() if line.startswith("kindling:")]  # after the data summary
    assert len(lines) == 1 and "Traceback" not in err and err.rstrip().endswith(lines[0]), err
    return lines[0]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[int, Path]:
    """3-class folders of PNGs: 3 x 32 x 32 (the CIFAR seeds) and 1 x 28 x 28 (the MNIST seeds)."""
    root = tmp_path_factory.mktemp("images")
    return {
        3: image_files.write_folder(root / "rgb32", 8, CLASSES, size=32, channels=3, splits=()),
        1: image_files.write_folder(root / "grey28", 8, CLASSES, size=28, channels=1, splits=()),
    }


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory, folders):
    """seed_run('LeNet') -> a run trained for one epoch through `--model tests/seed_models.py:LeNet`,
    the path relative to the repository (as a user types it); trained once per module."""
    runs: dict[str, Path] = {}
    base = tmp_path_factory.mktemp("seed_runs")

    def get(name: str) -> Path:
        if name not in runs:
            with pytest.MonkeyPatch.context() as mp:
                mp.chdir(REPO)
                runs[name] = train_run(
                    base / name,
                    *("--data", f"folder:{folders[SEED_MODELS[name]]}", "--epochs", "1"),
                    *("--model", f"tests/seed_models.py:{name}"),
                    *("--logger", "none", "--baseline", "none"),  # neither is read here
                )
        return runs[name]

    return get


@pytest.mark.parametrize("name", sorted(SEED_MODELS))
def test_seed_model_trains_evaluates_predicts_and_exports(name, seed_run, folders, capsys, tmp_path):
    run = seed_run(name)
    meta = json.loads((run / "best" / "bundle.json").read_text())
    code = meta["model"]["code"]
    source = (TESTS / "seed_models.py").read_bytes()
    assert code["kind"] == "file" and code["name"] == name
    assert code["path"] == str(TESTS / "seed_models.py")  # absolute, whatever the cwd was
    assert code["sha256"] == hashlib.sha256(source).hexdigest()
    assert (run / "best" / code["copy"]).read_bytes() == source

    rc, out, err = run_cli(capsys, "evaluate", run, "--json")
    assert rc == 0, err
    assert json.loads(out)["n"] > 0

    image = next((folders[SEED_MODELS[name]] / "bee").glob("*.png"))
    rc, out, err = run_cli(capsys, "predict", run, image, "--json")
    assert rc == 0, err
    assert json.loads(out)["predictions"][0]["label_name"] in CLASSES

    onnx_file = tmp_path / "model.onnx"
    rc, out, err = run_cli(capsys, "export", run, "--format", "onnx", "--output", onnx_file, "--json")
    assert rc == 0, err
    assert json.loads(out)["check"]["max_abs_diff"] < 1e-4
    described = json.loads(Path(f"{onnx_file}.json").read_text())
    assert described["postprocess"]["kind"] == ("log_probs" if name == "MnistNet" else "logits")


def test_onnx_export_runs_without_the_code(seed_run, tmp_path, capsys):
    """The ONNX file is code-free: onnxruntime runs it in a process that cannot import the model's file."""
    import subprocess

    onnx_file = tmp_path / "lenet.onnx"
    rc, _, err = run_cli(capsys, "export", seed_run("LeNet"), "--format", "onnx", "--output", onnx_file)
    assert rc == 0, err
    probe = (
        "import sys, numpy as np, onnxruntime as ort; s = ort.InferenceSession(sys.argv[1]);"
        "print(s.run(None, {s.get_inputs()[0].name: np.zeros((2, 3, 32, 32), np.float32)})[0].shape)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(onnx_file)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 3)"


def test_log_softmax_model_is_trained_with_nll(seed_run):
    """Seed 002's Net returns log_softmax: detected from its outputs, so NLL is the loss (as the seed's
    F.nll_loss) and the Bundle keeps the convention; a logits model keeps cross-entropy."""
    import torch

    from kindling.bundle.files import load_bundle
    from kindling.task import task_of_bundle

    log_probs = task_of_bundle(load_bundle(seed_run("MnistNet")))
    logits = task_of_bundle(load_bundle(seed_run("CNN")))
    assert log_probs.convention == "log_probs" and isinstance(log_probs.loss_fn, torch.nn.NLLLoss)
    assert logits.convention == "logits" and isinstance(logits.loss_fn, torch.nn.CrossEntropyLoss)


def test_serve_a_seed_model(seed_run, folders):
    import requests
    from serve_helpers import start_server, stop_server

    server = start_server(seed_run("CifarNet"), "--workers", "1", "--threads", "1")
    try:
        image = next((folders[3] / "cat").glob("*.png"))
        reply = requests.post(server.url + "/predict", files={"file": image.read_bytes()}, timeout=30)
        assert reply.status_code == 200, reply.text
        assert reply.json()["predictions"][0]["label_name"] in CLASSES
    finally:
        stop_server(server)


# ---------------------------------------------------------------- the code a Bundle records


@pytest.fixture(scope="module")
def own_run(tmp_path_factory, folders) -> tuple[Path, Path]:
    """(run, model file): a run of a model file of our own, which the tests below change and restore."""
    base = tmp_path_factory.mktemp("own")
    file = base / "my_net.py"
    file.write_bytes((TESTS / "seed_models.py").read_bytes())
    run = train_run(
        base / "run", "--data", f"folder:{folders[3]}", "--epochs", "1", "--model", f"{file}:CifarNet"
    )
    return run, file


def test_changed_code_is_refused_and_trust_code_uses_the_copy(own_run, capsys):
    run, file = own_run
    original = file.read_bytes()
    marker = file.parent / "imported.txt"
    file.write_bytes(original + f"\nopen({str(marker)!r}, 'w').write('ran')\n".encode())
    try:
        for command in (["evaluate", run], ["predict", run, "x.png"], ["export", run, "--format", "onnx"]):
            line = one_line_error(capsys, *command)
            assert f"{file} changed since training (sha256 differs)" in line
            assert "restore it, or use --code FILE.py (your file) or --trust-code (the Bundle's copy)" in line
        line = one_line_error(capsys, "serve", run, "--port", "0")
        assert "changed since training" in line
        assert not marker.exists(), "loading the bundle ran the changed file"
        rc, out, err = run_cli(capsys, "evaluate", run, "--json", "--trust-code")
        assert rc == 0, err
        assert not marker.exists()
    finally:
        file.write_bytes(original)
    rc, _, err = run_cli(capsys, "evaluate", run, "--json")
    assert rc == 0, err


def test_missing_code_is_refused_and_trust_code_uses_the_copy(own_run, capsys):
    run, file = own_run
    moved = file.with_suffix(".bak")
    file.rename(moved)
    try:
        line = one_line_error(capsys, "evaluate", run)
        assert f"{file} (the code of model 'CifarNet') is missing" in line and "--trust-code" in line
        rc, _, err = run_cli(capsys, "evaluate", run, "--json", "--trust-code")
        assert rc == 0, err
    finally:
        moved.rename(file)


def test_a_tampered_copy_is_refused(own_run, capsys):
    run, _ = own_run
    copy = run / "best" / "code" / "my_net.py"
    original = copy.read_bytes()
    copy.write_bytes(original + b"\n# edited\n")
    try:
        line = one_line_error(capsys, "evaluate", run, "--trust-code")
        assert (
            "code/my_net.py, the Bundle's copy of the code, does not match the sha256 in the header" in line
        )
        assert "bundle.json" not in line  # the header is what is checked (issue 21)
    finally:
        copy.write_bytes(original)


def test_resume_rebuilds_the_own_model_and_refuses_changed_code(own_run, tmp_path, capsys):
    import shutil

    run, file = own_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    original = file.read_bytes()
    file.write_bytes(original + b"\n# edited between the start and the resume\n")
    try:
        line = one_line_error(capsys, "train", "--resume", copy, "--epochs", "2", "--threads", "1")
        assert f"{file} changed since this run started (sha256 differs)" in line
    finally:
        file.write_bytes(original)
    rc, _, err = run_cli(capsys, "train", "--resume", copy, "--epochs", "2", "--threads", "1")
    assert rc == 0, err
    last = json.loads((copy / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["epoch"] == 2


# ---------------------------------------------------------------- mistakes are one line, before training


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_syntax_error_names_the_file_and_line(tmp_path, capsys):
    bad = write(tmp_path / "broken.py", "import torch.nn as nn\n\nclass Net(nn.Module)\n    pass\n")
    line = one_line_error(capsys, "train", "--model", f"{bad}:Net", "--run-dir", tmp_path / "r")
    assert f"{bad}:3: syntax error" in line
    assert not (tmp_path / "r").exists()


def test_wrong_output_shape_names_the_model_and_both_shapes(tmp_path, capsys):
    fixed = write(
        tmp_path / "fixed.py",
        "import torch.nn as nn\n\n\nclass Fixed(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(13, 10)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n",
    )
    run = tmp_path / "r"
    line = one_line_error(capsys, "train", "--data", "wine", "--model", f"{fixed}:Fixed", "--run-dir", run)
    assert f"model '{fixed}:Fixed' gives outputs of shape (B, 10) but the data has 3 classes" in line
    assert "needs (B, 3)" in line
    assert not run.exists()
    line = one_line_error(capsys, "train", "--data", "digits", "--model", f"{fixed}:Fixed", "--run-dir", run)
    assert "fails on a batch of this data's shape (B, 1, 8, 8)" in line


def test_option_typo_and_missing_name_get_a_did_you_mean(capsys, tmp_path):
    line = one_line_error(
        capsys, "train", "--model", f"{TESTS / 'seed_models.py'}:Lenet", "--run-dir", tmp_path
    )
    assert "has no 'Lenet' (did you mean 'LeNet'?)" in line
    line = one_line_error(
        capsys,
        *("train", "--model", f"{TESTS / 'seed_models.py'}:LeNet", "--set", "model.options.num_clases=3"),
    )
    assert "no parameter 'num_clases' (did you mean 'num_classes'?)" in line


def test_missing_file_and_non_modules_are_refused(tmp_path, capsys):
    line = one_line_error(capsys, "train", "--model", f"{tmp_path / 'nothere.py'}:Net", "--run-dir", tmp_path)
    assert f"{tmp_path / 'nothere.py'} does not exist" in line
    other = write(tmp_path / "other.py", "class Plain:\n    pass\n\nnumber = 3\n")
    assert "not an nn.Module subclass" in one_line_error(capsys, "train", "--model", f"{other}:Plain")
    assert "not an nn.Module subclass" in one_line_error(capsys, "train", "--model", f"{other}:number")
    line = one_line_error(capsys, "train", "--model", "no_such_package_xyz.nets:Net")
    assert "module 'no_such_package_xyz.nets' not found" in line


def test_softmax_outputs_are_refused(tmp_path, capsys):
    soft = write(
        tmp_path / "soft.py",
        "import torch.nn as nn\n\n\ndef soft(in_channels, image_size, num_classes):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size**2, num_classes), nn.Softmax(1))\n",
    )
    assert "returns probabilities" in one_line_error(capsys, "train", "--model", f"{soft}:soft")


# ---------------------------------------------------------------- factories, modules, regression


def test_factory_in_a_package_module_on_tables_regression(tmp_path, monkeypatch, capsys):
    """`package.module:factory` from the current folder; the data's facts fill its parameters; one
    output value for a regression table."""
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    write(pkg / "__init__.py", "")
    write(
        pkg / "nets.py",
        "import torch.nn as nn\n\n\ndef regressor(in_features, num_outputs, hidden=16):\n"
        "    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_outputs))\n",
    )
    monkeypatch.chdir(tmp_path)
    run = train_run(
        tmp_path / "run", "--data", "diabetes", "--epochs", "1", "--monitor", "val_loss", "--model", "mypkg.nets:regressor", "--set",
        "model.options.hidden=8",
    )  # fmt: skip
    code = json.loads((run / "best" / "bundle.json").read_text())["model"]["code"]
    assert code["kind"] == "module" and code["module"] == "mypkg.nets" and code["options"] == {"hidden": 8}
    assert code["file"] == str(pkg / "nets.py")
    rc, out, err = run_cli(capsys, "evaluate", run, "--json")
    assert rc == 0, err
    assert "mae" in out or "rmse" in out


def test_text_model_gets_vocab_size_and_lengths(tmp_path, capsys):
    from kindling_testing import write_sentiment_tsv

    net = write(
        tmp_path / "textnet.py",
        "import torch\nimport torch.nn as nn\n\n\nclass Bag(nn.Module):\n"
        "    def __init__(self, vocab_size, num_classes, dim=8):\n        super().__init__()\n"
        "        self.emb = nn.EmbeddingBag(vocab_size, dim, mode='sum')\n        self.fc = nn.Linear(dim, num_classes)\n\n"
        "    def forward(self, x, lengths):\n"
        "        mask = torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None]\n"
        "        return self.fc(self.emb(x, per_sample_weights=mask.float()))\n",
    )
    data = write_sentiment_tsv(tmp_path / "reviews.tsv")
    run = train_run(tmp_path / "run", "--data", f"text:{data}", "--epochs", "2", "--model", f"{net}:Bag")
    rc, out, err = run_cli(capsys, "predict", run, "--text", "good great film", "--json")
    assert rc == 0, err
    assert json.loads(out)["predictions"][0]["label_name"] in ("pos", "neg")


def test_default_run_name_uses_the_class_name():
    from kindling.config.schema import RunConfig, default_name

    cfg = RunConfig()
    cfg.data.name, cfg.model.name = "folder:data/ants", "tests/seed_models.py:LeNet"
    assert default_name(cfg) == "ants-LeNet"


def test_parse_and_is_reference():
    from kindling.models import usercode

    assert usercode.is_reference("nets.py:Net") and usercode.is_reference("pkg.mod:make")
    assert not usercode.is_reference("lenet") and not usercode.is_reference("folder:x/")
    ref = usercode.parse("sub/nets.py:Net")
    assert ref.kind == "file" and Path(ref.target).is_absolute() and ref.name == "Net"
    assert usercode.parse("pkg.mod:make").kind == "module"


# ---------------------------------------------------------------- kindling.fit(model=...)


def test_fit_takes_a_class_or_an_instance_from_a_file(seed_run, folders, tmp_path, capsys):
    import torch

    import kindling

    sys.path.insert(0, str(TESTS))
    try:
        import seed_models
    finally:
        sys.path.remove(str(TESTS))
    data = f"folder:{folders[3]}"
    run = kindling.fit(
        data=data, model=seed_models.CifarNet, epochs=1, threads=1, run_dir=str(tmp_path / "cls")
    )
    code = json.loads((run.dir / "best" / "bundle.json").read_text())["model"]["code"]
    assert code["path"] == str(TESTS / "seed_models.py") and code["name"] == "CifarNet"
    assert run.evaluate()["n"] > 0

    instance = seed_models.LeNet(num_classes=3)
    with torch.no_grad():
        instance.fc3.bias.fill_(0.5)  # the user's own starting weights
    run = kindling.fit(
        data=data, model=instance, epochs=1, threads=1, lr=1e-9, run_dir=str(tmp_path / "inst")
    )
    bias = kindling.load(run.dir).bundle.model.fc3.bias
    assert torch.allclose(bias, torch.full((3,), 0.5), atol=1e-4)  # trained from the instance's weights
    rc, _, err = run_cli(capsys, "predict", run.dir, next((folders[3] / "ant").glob("*.png")))
    assert rc == 0, err

    with pytest.raises(kindling.UserError, match=r"the LeNet instance differs from what LeNet\(...\) builds"):
        kindling.fit(
            data=data, model=seed_models.LeNet(num_classes=10), epochs=1, run_dir=str(tmp_path / "x")
        )

    def local_net(num_classes):
        return torch.nn.Linear(3, num_classes)

    with pytest.raises(kindling.UserError, match="inside a function cannot be found again"):
        kindling.fit(data=data, model=local_net, epochs=1, run_dir=str(tmp_path / "y"))


def test_fit_takes_a_class_defined_in_the_session(folders, tmp_path, monkeypatch):
    """A notebook's `class Net` lives in `__main__`: trained and loaded in that session with the class;
    another process (the CLI) uses the Bundle's ONNX graph rather than re-running a script to find it."""
    import subprocess

    import torch

    import kindling

    class SessionNet(torch.nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.fc = torch.nn.Linear(3 * 32 * 32, num_classes)

        def forward(self, x):
            return self.fc(torch.flatten(x, 1))

    SessionNet.__module__, SessionNet.__qualname__ = "__main__", "SessionNet"  # as a notebook cell makes it
    monkeypatch.setattr(sys.modules["__main__"], "SessionNet", SessionNet, raising=False)
    data = f"folder:{folders[3]}"
    run = kindling.fit(
        data=data, model=SessionNet(num_classes=3), epochs=1, threads=1, run_dir=str(tmp_path / "s")
    )
    code = json.loads((run.dir / "best" / "bundle.json").read_text())["model"]["code"]
    assert code["kind"] == "session" and code["name"] == "SessionNet"
    here = run.evaluate()
    assert here["n"] > 0
    assert run.predict(next((folders[3] / "ant").glob("*.png")))[0]["label_name"] in CLASSES
    assert type(kindling.load(run.dir).bundle.model) is SessionNet
    done = subprocess.run(
        [sys.executable, "-m", "kindling", "evaluate", str(run.dir), "--json"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    there = json.loads(done.stdout)
    assert there["accuracy"] == here["accuracy"] and there["loss"] == pytest.approx(here["loss"], abs=1e-4)


@pytest.mark.parametrize("name", sorted(SEED_MODELS))
def test_every_seed_model_through_kindling_fit(name, folders, tmp_path):
    """kindling.fit(model=TheClass): trained on data of its shape, then evaluated, predicted, exported."""
    import kindling

    sys.path.insert(0, str(TESTS))
    try:
        import seed_models
    finally:
        sys.path.remove(str(TESTS))
    folder = folders[SEED_MODELS[name]]
    run = kindling.fit(
        data=f"folder:{folder}", model=getattr(seed_models, name), epochs=1, threads=1, run_dir=str(tmp_path)
    )
    assert run.evaluate("val")["n"] > 0
    assert run.predict(next((folder / "bee").glob("*.png")))[0]["label_name"] in CLASSES
    assert run.export("onnx")["check"]["max_abs_diff"] < 1e-3
