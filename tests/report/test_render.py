"""The renderer on small evidence files written by hand: every picture is drawn from the run folder alone,
and the numbers each one carries are the evidence's. Also: the report package's import graph."""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kindling.report import evidence
from kindling.report.evidence import Evidence
from kindling.report.render import render_run

SRC = Path(__file__).resolve().parents[2] / "src" / "kindling"


def _run(tmp_path: Path, ev: Evidence | None, epochs: int = 3, lr=lambda e: 1e-3) -> Path:
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_acc": 1 - 0.5 / e, "lr": lr(e)}
        for e in range(1, epochs + 1)
    ]
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
    if ev is not None:
        (tmp_path / "plots").mkdir()
        evidence.save(tmp_path / "plots", ev)
    return tmp_path


def _image_evidence(n: int = 30) -> Evidence:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    pred = np.where(np.arange(n) % 4 == 0, (y + 1) % 3, y)
    loss = rng.random(n) + (pred != y)
    ev = Evidence("test", "classification", "image", ["cat", "dog", "emu"], y, pred, loss, rng.random(n))
    ev.names = [f"img{i}.png" for i in range(n)]
    ev.sample_index = np.union1d(evidence.grid_indices(n), evidence.top_indices(loss))
    ev.sample_images = rng.integers(0, 256, (len(ev.sample_index), 3, 8, 8), dtype=np.uint8)
    return ev


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def test_evidence_files_round_trip(tmp_path):
    ev = _image_evidence()
    evidence.save(tmp_path, ev)
    back = evidence.load(tmp_path)
    for key in ("y", "pred", "loss", "p_pred", "sample_index", "sample_images"):
        assert np.array_equal(getattr(back, key), getattr(ev, key)), key
    assert (back.split, back.class_names, back.names) == (ev.split, ev.class_names, ev.names)
    (tmp_path / "evidence.json").write_text('{"version": 0}')
    assert evidence.load(tmp_path) is None  # another version is not read


def test_image_classifier_views_carry_the_evidence(tmp_path):
    ev = _image_evidence()
    run = _run(tmp_path, ev)
    plots, notes = render_run(run)
    by_name = {p.name: p for p in plots}
    assert list(by_name) == [
        "learning_curves",
        "confusion_matrix",
        "per_class_accuracy",
        "prediction_grid",
        "top_losses",
    ]
    assert notes == []
    for plot in plots:
        assert (run / "plots" / f"{plot.name}.png").read_bytes() == plot.png
        width, height = _size(plot.png)
        assert width > 200 and height > 150
    cm = np.bincount(ev.y * 3 + ev.pred, minlength=9).reshape(3, 3)
    assert by_name["confusion_matrix"].data["matrix"] == cm.tolist()
    assert by_name["per_class_accuracy"].data["per_class_accuracy"] == pytest.approx(
        {"cat": cm[0, 0] / cm[0].sum(), "dog": cm[1, 1] / cm[1].sum(), "emu": cm[2, 2] / cm[2].sum()}
    )
    pick = evidence.grid_indices(len(ev.y))
    grid = by_name["prediction_grid"].data["samples"]
    assert [s["correct"] for s in grid] == (ev.y[pick] == ev.pred[pick]).tolist()
    rows = by_name["top_losses"].data["rows"]
    assert [r["index"] for r in rows] == np.argsort(-ev.loss, kind="stable")[:9].tolist()
    assert rows[0]["probability"] == pytest.approx(ev.p_pred[rows[0]["index"]])
    assert rows[0]["name"] == ev.names[rows[0]["index"]]
    index = json.loads((run / "plots" / "index.json").read_text())
    assert [e["name"] for e in index] == list(by_name)


def test_constant_learning_rate_is_labelled_once():
    """A constant lr of 1e-3 gets one labelled tick (the PIL axis labelled it 1.0e-3 three times)."""
    from kindling.report.plots import lr_axis, new_figure

    for rates in ([1e-3] * 5, [1e-3, 5e-4, 1e-4, 5e-5, 1e-5]):
        fig = new_figure(5, 3)
        lr_ax = lr_axis(fig.add_subplot(), list(range(1, 6)), rates)
        fig.canvas.draw()
        lo, hi = lr_ax.get_ylim()
        labels = [
            t.get_text() for t in lr_ax.get_yticklabels() if t.get_text() and lo <= t.get_position()[1] <= hi
        ]
        assert labels and len(labels) == len(set(labels)), labels
    assert len(labels) >= 3  # the decaying rate spans decades, each labelled


def test_text_run_shows_confused_pairs_with_their_lines(tmp_path):
    source = tmp_path / "test.txt"
    texts = ["great film", "awful film", "superb film", "dull film"]
    source.write_text("".join(f"{t}\tx\n" for t in texts))
    y, pred = np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1])
    ev = Evidence("test", "classification", "text", ["pos", "neg"], y, pred, np.array([0.1, 2.0, 1.5, 0.2]))
    ev.names = [f"{source}:{i + 1}" for i in range(4)]
    plots, _ = render_run(_run(tmp_path, ev))
    by_name = {p.name: p for p in plots}
    assert "prediction_grid" not in by_name
    examples = {(p["true"], p["predicted"]): p["examples"] for p in by_name["confused_pairs"].data["pairs"]}
    assert examples == {("neg", "pos"): ["awful film | x"], ("pos", "neg"): ["superb film | x"]}
    assert by_name["top_losses"].data["rows"][0]["name"] == "awful film | x"


def test_regression_views(tmp_path):
    y = np.linspace(0, 10, 40)
    ev = Evidence("test", "regression", "tabular", [], y, y + 0.5, np.full(40, 0.25))
    plots, _ = render_run(_run(tmp_path / "plain", ev))
    assert [p.name for p in plots] == ["learning_curves", "regression"]
    assert plots[1].data["mae"] == pytest.approx(0.5)
    dates = np.datetime64("2020-01-01") + np.arange(40).astype("timedelta64[D]")
    split = np.array(["train"] * 30 + ["test"] * 10)
    rows = {"actual": y, "predicted": y + 1.0, "split": split, "eval": "test", "target": "temp"}
    for folder, extra, first in (
        ("dated", {"dates": dates}, "actual_vs_predicted"),
        ("undated", {}, "predicted_vs_actual"),
    ):
        ev.table = {**rows, **extra}
        plots, notes = render_run(_run(tmp_path / folder, ev))
        assert [p.name for p in plots] == ["learning_curves", first, "residuals"] and notes == []
        assert plots[1].data["mae"] == pytest.approx(1.0) and plots[2].data["mean"] == pytest.approx(1.0)


def test_a_plot_that_fails_is_a_note_and_the_others_are_drawn(tmp_path):
    ev = _image_evidence()
    ev.class_names = ["cat", "dog"]  # class 2 has no name: the class views cannot be drawn
    plots, notes = render_run(_run(tmp_path, ev))
    assert "learning_curves" in {p.name for p in plots}
    assert any(n.startswith("the confusion matrix plot failed") for n in notes)


def _imports(path: Path) -> set[str]:
    """Every kindling module a file imports, at any level (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kindling"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("kindling"))
    return found


def test_report_modules_import_no_cycle():
    modules = {f"kindling.report.{p.stem}": p for p in (SRC / "report").glob("*.py") if p.stem != "__init__"}
    graph = {name: _imports(path) & set(modules) for name, path in modules.items()}

    def reaches(start: str, target: str, seen: set) -> bool:
        return any(n == target or (n not in seen and reaches(n, target, seen | {n})) for n in graph[start])

    cycles = [name for name in graph if reaches(name, name, {name})]
    assert cycles == []


def test_data_imports_no_loop_evaluation_or_report():
    banned = (
        "kindling.train",
        "kindling.evaluate.evaluation",
        "kindling.runner",
        "kindling.cli.main",
        "kindling.report",
    )
    for path in (SRC / "data").rglob("*.py"):
        bad = [m for m in _imports(path) if m.startswith(banned)]
        assert bad == [], f"{path.relative_to(SRC)} imports {bad}"
