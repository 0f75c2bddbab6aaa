"""The user's own data: a seed-style Dataset, torchvision's FakeData with a real transform, (X, y)
arrays, a DataFrame, `--data py:FILE.py:FUNCTION`, the streamed path, and every kind of bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset
from torchvision import datasets, transforms

from kindling import data as data_mod
from kindling.cli.main import main
from kindling.config.schema import DataConfig
from kindling.data.objects import hand_over
from kindling.data.streamed import StreamSplit
from kindling.errors import UserError


class MyDataset(Dataset):
    """As the seeds write one: arrays in __init__, (tensor, int) from __getitem__; ToTensor-like pixels."""

    classes = ["cat", "dog", "fox"]

    def __init__(self, n: int = 90, seed: int = 0, shape=(1, 12, 12), bad: dict | None = None):
        rng = np.random.default_rng(seed)
        self.y = np.arange(n) % 3
        noise = rng.integers(0, 60, (n, *shape))
        self.pixels = (noise + self.y[:, None, None, None] * 90).astype(np.uint8)
        self.bad = bad or {}

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        if i in self.bad:
            return self.bad[i]()
        return torch.from_numpy(self.pixels[i]).float() / 255.0, int(self.y[i])


def build(handed, **options):
    """The DataModule of a data spec, or of objects handed over (`hand_over(...)`: the spec and the objects)."""
    spec, objects = (handed, None) if isinstance(handed, str) else handed
    return data_mod.build(DataConfig(name=spec, **options), objects=objects)


def fit_objects(tmp_path, train, model: str = "mlp", **keywords):
    """What `cli_train` is for a spec, for Python objects: they go in through kindling.fit."""
    import kindling

    options = {"epochs": 1, "threads": 1, "logger": "none", "run_dir": str(tmp_path / "run")}
    return kindling.fit(data=train, model=model, **options, **keywords)


def cli_train(tmp_path, spec: str, *extra: str, model: str = "mlp") -> int:
    return main(
        [
            "train",
            "--data",
            spec,
            "--model",
            model,
            "--epochs",
            "1",
            "--threads",
            "1",
            "--run-dir",
            str(tmp_path / "run"),
            "--set",
            "train.logger=none",
            *extra,
        ]
    )


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    lines = [ln for ln in err.splitlines() if ln.startswith("kindling: ") and "warning" not in ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_dataset_goes_in_memory_as_uint8_with_its_classes_and_a_seeded_split():
    dm = build(hand_over(MyDataset()))
    sig = dm.signature
    assert (sig.task, sig.input_kind, sig.input_shape) == ("classification", "image", [1, 12, 12])
    assert sig.class_names == ["cat", "dog", "fox"]
    assert dm.train.x.dtype == torch.uint8  # exact multiples of 1/255: stored as pixels
    assert len(dm.train) + len(dm.val) + len(dm.test) == 90
    assert set(dm.test.y.tolist()) == set(dm.val.y.tolist()) == {0, 1, 2}  # stratified
    again = build(hand_over(MyDataset()))
    assert torch.equal(again.train.y, dm.train.y) and torch.equal(again.train.x, dm.train.x)
    pixels = dm.train.x.double() / 255
    assert sig.mean[0] == pytest.approx(float(pixels.mean()), abs=1e-4)


def test_dataset_trains_through_the_runner_and_the_bundle_predicts_an_array(tmp_path):
    from kindling.config.load import load_config
    from kindling.runner import train

    spec, objects = hand_over(MyDataset(), val=MyDataset(30, seed=1))
    flags = {"data.name": spec, "model.name": "mlp", "train.epochs": 1, "train.threads": 1}
    cfg = load_config(None, {**flags, "train.logger": "none", "run_dir": str(tmp_path / "run")})
    train(cfg, objects=objects)  # the objects go to the data step as an argument
    bundle = json.loads((tmp_path / "run" / "best" / "bundle.json").read_text())
    assert bundle["signature"]["class_names"] == ["cat", "dog", "fox"]
    np.save(tmp_path / "x.npy", MyDataset(3, seed=2).pixels[2])
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "x.npy"), "--json"]) == 0


def fake_data(transform, n: int = 24):
    return datasets.FakeData(
        size=n, image_size=(3, 30, 26), num_classes=4, transform=transform, random_offset=3
    )


STANDARD = transforms.Compose(
    [
        transforms.Resize(20),
        transforms.CenterCrop(16),
        transforms.ToTensor(),
        transforms.Normalize((0.5, 0.4, 0.3), (0.2, 0.25, 0.3)),
    ]
)


def test_a_standard_transform_is_replayed_on_raw_files_exactly(tmp_path, capsys):
    ds = fake_data(STANDARD)
    dm = build(hand_over(ds, val=ds, test=ds))  # unsplit: train.x[i] is sample i
    assert dm.train.x.dtype == torch.uint8 and list(dm.train.x.shape) == [24, 3, 16, 16]
    assert dm.signature.extras["image_steps"] == [{"resize": 20}, {"center_crop": [16, 16]}]
    raw = fake_data(None)
    for i in (0, 5):
        raw[i][0].save(tmp_path / f"img{i}.png")
    fit_objects(tmp_path, ds, model="lenet")
    from kindling.predict.predictor import Predictor

    predictor = Predictor.load(tmp_path / "run")
    for i in (0, 5):
        assert np.array_equal(predictor.load_input(tmp_path / f"img{i}.png"), dm.train.x[i].numpy())
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "img0.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"][0]["label_name"] in ("0", "1", "2", "3")


def test_an_unknown_transform_is_said_once(capsys):
    odd = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda t: t.flip(-1))])
    dm = build(hand_over(fake_data(odd)))
    err = capsys.readouterr().err
    assert "not a standard torchvision one (Lambda)" in err and "resize raw images to 30x26" in err
    assert dm.signature.extras["transform_replayed"] is False


def test_a_random_transform_streams_so_the_augmentation_stays(capsys):
    flip = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.ToTensor()])
    dm = build(hand_over(fake_data(flip, n=40)))
    assert "random (RandomHorizontalFlip)" in capsys.readouterr().err
    assert isinstance(dm.train, StreamSplit)
    batches = list(dm.train.batches(8, torch.arange(len(dm.train)).flip(0)))
    assert sum(len(y) for _, y, _ in batches) == len(dm.train)
    assert batches[0][0].shape[1:] == (3, 30, 26) and batches[0][0].dtype == torch.float32


def test_over_the_memory_budget_streams_the_same_samples(tmp_path):
    whole = build(hand_over(MyDataset()))
    streamed = build(hand_over(MyDataset()), memory_budget_mb=0)
    assert isinstance(streamed.train, StreamSplit)
    assert torch.equal(streamed.train.y, whole.train.y)
    order = torch.randperm(len(whole.train), generator=torch.Generator().manual_seed(1))
    (x_mem, y_mem, _), (x_str, y_str, _) = (
        next(whole.train.batches(16, order)),
        next(streamed.train.batches(16, order)),
    )
    assert torch.equal(y_mem, y_str) and torch.allclose(x_mem.float() / 255, x_str)
    assert streamed.signature.mean == pytest.approx(whole.signature.mean, abs=1e-4)
    fit_objects(tmp_path, MyDataset(), set={"data.memory_budget_mb": 0})


def test_arrays_become_feature_vectors_and_float_labels_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5)).astype(np.float32)
    y = np.where(X[:, 0] > 0, 7, 3)
    dm = build(hand_over((X, y)))
    sig = dm.signature
    assert (sig.input_kind, sig.input_shape, sig.class_names) == ("vector", [5], ["3", "7"])
    assert set(dm.train.y.tolist()) == {0, 1} and len(sig.mean) == 5
    reg = build(hand_over((torch.from_numpy(X), torch.from_numpy(X[:, 1] * 2.5))))
    assert reg.signature.task == "regression" and reg.train.y.dtype == torch.float32
    assert reg.signature.extras["target_std"] > 0


def test_a_dataframe_with_target_is_the_csv_pipeline(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"size": rng.normal(size=60), "colour": rng.choice(["red", "blue"], 60), "kind": ["a", "b", "c"] * 20}
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    ours = build(hand_over(frame, target="kind"))
    files = build(f"csv:{tmp_path / 't.csv'}", target="kind")
    assert ours.signature.input_kind == "tabular" and ours.signature.class_names == ["a", "b", "c"]
    assert ours.signature.extras["feature_names"] == files.signature.extras["feature_names"]
    assert torch.equal(ours.train.x, files.train.x) and torch.equal(ours.test.y, files.test.y)
    with pytest.raises(UserError, match="target"):
        build(hand_over(frame))


def test_a_dataframe_regression_handed_over_draws_its_plots_and_names_the_frame(tmp_path, capsys):
    """The table plots predict every row again: from the DataFrame itself, not a file the run never had."""
    import pandas as pd

    import kindling

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"size": rng.normal(size=80), "noise": rng.normal(size=80)})
    frame["price"] = 3 * frame["size"] + 0.1 * frame["noise"]
    run = kindling.fit(
        data=frame, target="price", epochs=1, threads=1, baseline="none", run_dir=str(tmp_path)
    )
    shown = capsys.readouterr()
    assert "objects:" not in shown.out + shown.err and "DataFrame (80 rows)" in shown.out
    assert (run.dir / "plots" / "predicted_vs_actual.png").is_file()


DATA_FILE = """
import torch
from torch.utils.data import Dataset


class Blobs(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((6,), float(i % 2)) + 0.1 * (i % 5), i % 2


def make():
    return {"train": Blobs(60), "val": Blobs(20)}


def broken():
    raise RuntimeError("no data here")
"""


def test_py_spec_through_the_cli(tmp_path, capsys):
    (tmp_path / "mydata.py").write_text(DATA_FILE)
    assert cli_train(tmp_path, f"py:{tmp_path / 'mydata.py'}:make") == 0
    assert (tmp_path / "run" / "best" / "bundle.json").is_file()
    capsys.readouterr()
    assert cli_train(tmp_path / "b", f"py:{tmp_path / 'mydata.py'}:mkae") == 2
    assert "no function 'mkae' (did you mean 'make'?)" in one_line_error(capsys)
    assert cli_train(tmp_path / "c", f"py:{tmp_path / 'mydata.py'}:broken") == 2
    assert "broken() raised RuntimeError: no data here" in one_line_error(capsys)
    assert not (tmp_path / "b" / "run").exists() and not (tmp_path / "c" / "run").exists()


def _raise():
    raise ValueError("corrupt record")


BAD = {
    "shape": (
        MyDataset(bad={37: lambda: (torch.zeros(3, 12, 12), 0)}),
        "sample 37 has shape (3, 12, 12), expected (1, 12, 12) as the training samples have",
    ),
    "type": (MyDataset(bad={4: lambda: ("not an image", 0)}), "sample 4 has an input of type str"),
    "label": (
        MyDataset(bad={5: lambda: (torch.zeros(1, 12, 12), 12)}),
        "label 12 at index 5 is out of range for 3 classes",
    ),
    "empty": (MyDataset(n=0), "the train dataset is empty"),
    "raises": (MyDataset(bad={14: _raise}), "__getitem__(14) raised ValueError: corrupt record"),
    "not a pair": (
        MyDataset(bad={2: lambda: torch.zeros(1, 12, 12)}),
        "sample 2 is a Tensor, expected a pair (input, label)",
    ),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_input_is_one_line_naming_the_index_and_nothing_is_written(tmp_path, capsys, kind):
    dataset, expected = BAD[kind]
    with pytest.raises(UserError) as refused:
        fit_objects(tmp_path, dataset)
    assert expected in str(refused.value) and "\n" not in str(refused.value)
    assert not (tmp_path / "run").exists()


def test_bad_input_is_found_when_streamed_too():
    dataset, expected = BAD["raises"]
    with pytest.raises(UserError, match=r"__getitem__\(14\) raised ValueError"):
        build(hand_over(dataset), memory_budget_mb=0)


def test_objects_from_another_process_are_named():
    with pytest.raises(UserError, match="another process"):
        build("objects:999")  # a handle with no objects passed: nothing in this process keeps them


def test_a_large_dataset_is_read_by_workers_and_a_bad_sample_still_names_its_index():
    from kindling.data.samples import PARALLEL_FROM, workers

    big = MyDataset(n=PARALLEL_FROM + 30, shape=(1, 4, 4))
    if workers(len(big)) == 0:
        pytest.skip("DataLoader workers are only forked on Linux")
    dm = build(hand_over(big))
    assert dm.train.x.dtype == torch.uint8 and len(dm.train) + len(dm.val) + len(dm.test) == len(big)
    big.bad = {PARALLEL_FROM + 7: _raise}
    with pytest.raises(
        UserError, match=rf"__getitem__\({PARALLEL_FROM + 7}\) raised ValueError: corrupt record"
    ):
        build(hand_over(big))


def test_kindling_fit_takes_the_objects_themselves(tmp_path, capsys):
    import kindling

    run = kindling.fit(
        data=MyDataset(),
        val=MyDataset(30, seed=1),
        model="mlp",
        epochs=1,
        threads=1,
        logger="none",
        run_dir=str(tmp_path / "run"),
    )
    assert run.evaluate("val")["n"] == 30
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "objects:" in config and "val: null" in config  # the val Dataset is no split file
    assert "display_name: MyDataset (a Dataset)" in config
    shown = capsys.readouterr()
    assert "on MyDataset (a Dataset):" in shown.out and "objects:" not in shown.out + shown.err


def test_objects_are_named_as_the_user_knows_them():
    import pandas as pd

    from kindling.config.schema import RunConfig, default_name
    from kindling.data.objects import display_name

    X = np.zeros((1797, 64), dtype=np.float32)
    assert display_name(MyDataset()) == "MyDataset (a Dataset)"
    assert display_name(torch.utils.data.Subset(MyDataset(), [0, 1])) == "MyDataset (a Dataset)"
    assert display_name((X, np.zeros(1797))) == "arrays (1797×64)"
    assert display_name(pd.DataFrame({"a": range(569)})) == "DataFrame (569 rows)"
    cfg = RunConfig()
    cfg.data.name, cfg.data.display_name, cfg.model.name = (
        "objects:3",
        "MyDataset (a Dataset)",
        "__main__:Net",
    )
    assert cfg.data.shown == "MyDataset (a Dataset)" and default_name(cfg) == "MyDataset-Net"
