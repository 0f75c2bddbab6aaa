"""Tables: typing, fitted encoders, splits and the prediction helpers, on a generated temps-like CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kindling.config.schema import DataConfig
from kindling.data import build
from kindling.data.tables import encode_records, prediction_frame, read_table
from kindling.data.tables.synth import TEMPS_COLUMNS, temps_frame
from kindling.errors import UserError


@pytest.fixture(scope="module")
def temps_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("tables") / "temps.csv"
    temps_frame(days=120, seed=1).to_csv(path, index=False)
    return path


def temps_cfg(path, **kw) -> DataConfig:
    return DataConfig(name=f"csv:{path}", target="actual", drop=["friend"], **kw)


def test_generated_temps_has_the_seeds_columns():
    frame = temps_frame(days=348)
    assert list(frame.columns) == TEMPS_COLUMNS
    assert len(frame) == 348 and frame["week"].nunique() == 7


def test_typing_and_features_of_temps(temps_csv, capsys):
    dm = build(temps_cfg(temps_csv))
    sig = dm.signature
    table = capsys.readouterr().err
    assert "year+month+day" in table and "one-hot (7 categories)" in table and "dropped (data.drop)" in table
    assert sig.task == "regression" and sig.input_kind == "tabular"
    names = sig.extras["feature_names"]
    assert sig.input_shape == [len(names)] == [16]  # 6 date features + 7 weekdays + temp_2, temp_1, average
    assert "friend" not in sig.extras["columns"] and "actual" not in sig.extras["columns"]
    assert str(dm.train.x.dtype) == "torch.float32" and dm.train.x.ndim == 2
    # numeric columns standardised on the training rows only
    i = names.index("temp_1")
    assert abs(float(dm.train.x[:, i].mean())) < 1e-5 and abs(float(dm.train.x[:, i].std()) - 1) < 0.01
    assert sig.extras["target_mean"] == pytest.approx(float(dm.train.y.mean()), rel=1e-5)
    assert len(dm.train) + len(dm.val) + len(dm.test) == 120


def test_encode_records_round_trip_matches_training(temps_csv):
    dm = build(temps_cfg(temps_csv))
    frame = read_table(temps_csv)
    x = encode_records(dm.signature, frame)
    assert x.dtype == np.float32 and x.shape == (120, 16)
    row = int(dm.test.names[0].split()[1]) - 1
    np.testing.assert_allclose(x[row], dm.test.x[0].numpy(), rtol=1e-6, atol=1e-6)
    one = encode_records(dm.signature, frame.iloc[row].to_dict())  # a single record as a dict
    np.testing.assert_allclose(one[0], x[row], atol=1e-6)


def test_unseen_category_is_all_zero_and_missing_column_is_named(temps_csv):
    sig = build(temps_cfg(temps_csv)).signature
    record = temps_frame(days=5, seed=2).drop(columns=["actual"]).iloc[0].to_dict()
    record["week"] = "Caturday"
    record["extra"] = "ignored"
    x = encode_records(sig, [record])
    week = [i for i, n in enumerate(sig.extras["feature_names"]) if n.startswith("week=")]
    assert x[0, week].sum() == 0.0
    del record["temp_1"]
    with pytest.raises(UserError, match="'temp_1'"):
        encode_records(sig, [record])
    record["temp_1"] = "warm"
    with pytest.raises(UserError, match="not a number"):
        encode_records(sig, [record])


def test_split_by_time_puts_the_latest_rows_in_test(temps_csv):
    cfg = temps_cfg(temps_csv, split_by="date", test_fraction=0.25, val_fraction=0.2)
    from kindling.data.tables.source import load_frames

    frames = load_frames(cfg)

    def dates(f):
        return pd.to_datetime(f[["year", "month", "day"]])

    assert (
        dates(frames.train).max()
        < dates(frames.val).min()
        <= dates(frames.val).max()
        < dates(frames.test).min()
    )
    assert len(frames.test) == 30


def test_seeded_split_is_stable_and_explicit_files_are_used(temps_csv, tmp_path):
    a, b = build(temps_cfg(temps_csv)), build(temps_cfg(temps_csv))
    assert a.test.names == b.test.names
    test_file = tmp_path / "test.csv"
    temps_frame(days=10, seed=9).to_csv(test_file, index=False)
    dm = build(temps_cfg(temps_csv, test=str(test_file)))
    assert len(dm.test) == 10 and len(dm.train) + len(dm.val) == 120


def test_classification_task_inferred_and_overridable(tmp_path):
    frame = temps_frame(days=80, seed=3)
    frame["hot"] = np.where(frame["actual"] > 60, "yes", "no")
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    dm = build(DataConfig(name=f"csv:{path}", target="hot", drop=["actual", "friend"]))
    assert dm.signature.task == "classification" and dm.signature.class_names == ["no", "yes"]
    assert str(dm.train.y.dtype) == "torch.int64"
    dm = build(DataConfig(name=f"csv:{path}", target="month", drop=["hot"], task="classification"))
    assert dm.signature.task == "classification" and "1" in dm.signature.class_names


def test_missing_values_imputed_with_flag_or_refused(tmp_path):
    frame = temps_frame(days=60, seed=4)
    frame.loc[[3, 10, 20], "temp_2"] = np.nan
    frame.loc[[5], "week"] = np.nan
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    dm = build(temps_cfg(path, test_fraction=0.0, val_fraction=0.0))
    names = dm.signature.extras["feature_names"]
    assert "temp_2.missing" in names and "week.missing" in names
    assert float(dm.train.x[:, names.index("temp_2.missing")].sum()) == 3.0
    assert not dm.train.x.isnan().any()
    with pytest.raises(UserError, match=r"temp_2 \(3\).*data.missing"):
        build(temps_cfg(path, missing="refuse"))


def test_constant_and_id_columns_are_dropped_with_a_note(tmp_path, capsys):
    frame = temps_frame(days=40, seed=5)
    frame.insert(0, "row_id", range(1000, 1040))
    frame["station"] = "PDX"
    frame["code"] = [f"k{i:03d}" for i in range(40)]
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    sig = build(temps_cfg(path)).signature
    err = capsys.readouterr().err
    assert "ID-like" in err and "constant" in err
    assert not {"row_id", "station", "code"} & set(sig.extras["columns"])
    assert set(sig.extras["dropped"]) >= {"row_id", "station", "code", "friend"}


def test_date_strings_become_date_features(tmp_path):
    frame = temps_frame(days=50, seed=6)
    frame["when"] = pd.to_datetime(frame[["year", "month", "day"]]).dt.strftime("%Y-%m-%d")
    path = tmp_path / "dates.csv"
    frame.drop(columns=["year", "month", "day"]).to_csv(path, index=False)
    sig = build(temps_cfg(path)).signature
    assert "when.weekday" in sig.extras["feature_names"]
    assert sig.extras["date_axis"] == {"kind": "date", "sources": ["when"]}


def test_embed_categorical_feeds_an_embedding_model(tmp_path):
    import torch

    from kindling.models import build as build_model

    path = tmp_path / "t.csv"
    temps_frame(days=60, seed=7).to_csv(path, index=False)
    dm = build(temps_cfg(path, categorical="embed"))
    sig = dm.signature
    (col,) = sig.extras["embed"]
    assert col["name"] == "week" and col["cardinality"] == 8
    assert set(dm.train.x[:, col["index"]].unique().tolist()) <= set(range(1, 8))
    model = build_model("mlp", sig, {"hidden": [16]})
    out = model(dm.train.x[:4])
    assert out.shape == (4, 1) and torch.isfinite(out).all()
    record = temps_frame(days=3, seed=8).iloc[[0]].assign(week="Caturday")
    assert encode_records(sig, record)[0, col["index"]] == 0.0  # the unknown row


@pytest.mark.parametrize("categorical", ["onehot", "embed"])
@pytest.mark.parametrize("form", ["plr", "periodic"])
def test_periodic_numbers_embed_the_numbers_and_date_parts_and_pass_the_rest(tmp_path, categorical, form):
    import torch

    from kindling.models import build as build_model
    from kindling.models.mlp import PeriodicNumbers

    path = tmp_path / "t.csv"
    temps_frame(days=60, seed=7).to_csv(path, index=False)
    sig = build(temps_cfg(path, categorical=categorical)).signature
    names = sig.extras["feature_names"]
    numbers = [names[i] for i in sig.extras["numbers"]]
    assert numbers == [n for n in names if n.startswith("date.") or n in ("temp_2", "temp_1", "average")]
    assert len(numbers) == 9  # 6 date parts and 3 numbers; no weekday one-hot or index among them
    torch.manual_seed(0)
    model = build_model("mlp", sig, {"hidden": [16], "numbers": form})
    periodic = [m for m in model.modules() if isinstance(m, PeriodicNumbers)]
    # the weekdays: 7 one-hot columns, or one index column whose embedding has 5 numbers
    rest = len(names) - 9 if categorical == "onehot" else len(names) - 1 - 9 + 5
    assert len(periodic) == 1 and periodic[0].out_features == rest + 9 * 16
    layers = {name: tuple(p.shape) for name, p in periodic[0].named_parameters()}
    if form == "plr":  # each number its own layer over 32 frequencies
        assert layers == {"frequency": (9, 32), "weight": (9, 64, 16), "bias": (9, 16)}
    else:  # PLR lite, the previous default, whose Bundles keep loading: one layer over 16, shared
        assert layers == {"frequency": (9, 16), "project.weight": (16, 32), "project.bias": (16,)}
    x = encode_records(sig, temps_frame(days=4, seed=3))
    out = model(torch.from_numpy(x))
    assert out.shape == (4, 1) and torch.isfinite(out).all()
    x[:, names.index("temp_1")] += 1.0  # one number moved: the output moves
    assert not torch.equal(model(torch.from_numpy(x)), out)


def test_periodic_numbers_are_for_tables_only():
    from kindling.data.signature import Signature
    from kindling.models import build as build_model

    images = Signature("classification", "image", [1, 8, 8], ["a", "b"])
    for numbers in ("plr", "periodic"):
        with pytest.raises(UserError, match=f"numbers='{numbers}' embeds the number columns of a table"):
            build_model("mlp", images, {"numbers": numbers})
    with pytest.raises(UserError, match="numbers must be 'plain', 'plr' or 'periodic'"):
        build_model("mlp", images, {"numbers": "fourier"})


def test_embedded_wine_and_diabetes_run_through_the_table_pipeline():
    wine = build(DataConfig(name="wine"))
    assert wine.signature.input_kind == "tabular" and wine.signature.class_names == [
        "class_0",
        "class_1",
        "class_2",
    ]
    diabetes = build(DataConfig(name="diabetes"))
    assert diabetes.signature.task == "regression" and diabetes.signature.input_shape == [10]
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    x = encode_records(diabetes.signature, frame)
    assert x.shape == (442, 10)


def test_prediction_frame_adds_prediction_and_probabilities():
    sig = build(DataConfig(name="wine")).signature
    rows = pd.DataFrame({"alcohol": [13.0, 12.0]})
    results = [
        {
            "label": 1,
            "label_name": "class_1",
            "probability": 0.7,
            "top_k": [
                {"label": 1, "probability": 0.7},
                {"label": 0, "probability": 0.2},
                {"label": 2, "probability": 0.1},
            ],
        },
        {
            "label": 0,
            "label_name": "class_0",
            "probability": 0.9,
            "top_k": [
                {"label": 0, "probability": 0.9},
                {"label": 2, "probability": 0.06},
                {"label": 1, "probability": 0.04},
            ],
        },
    ]
    out = prediction_frame(sig, rows, results)
    assert list(out["prediction"]) == ["class_1", "class_0"]
    assert out["prob_class_2"].tolist() == pytest.approx([0.1, 0.06])
    assert list(out.columns[:1]) == ["alcohol"]
    reg = build(DataConfig(name="diabetes")).signature
    out = prediction_frame(reg, pd.DataFrame({"bmi": [0.1]}), [{"value": 151.5}])
    assert out["prediction"].tolist() == [151.5]
