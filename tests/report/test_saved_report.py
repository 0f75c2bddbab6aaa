"""`kindling report` on a finished run reads what training left (plots/*.png, plots/report.json) and needs
no torch; a run changed since, or --refresh, is evaluated and drawn again."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys

import pytest

from kindling.cli.main import main

NAMES = {"learning_curves", "confusion_matrix", "per_class_accuracy", "prediction_grid", "top_losses"}


@pytest.fixture
def run(digits_run, tmp_path):
    target = tmp_path / "digits"
    shutil.copytree(digits_run, target)  # copy2: modification times kept, so the saved results stay current
    return target


def _values(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', html))


def _figures(html: str) -> dict[str, bytes]:
    found = re.findall(
        r'<figure id="plot-([^"]+)"[^>]*><img alt="[^"]*" src="data:image/png;base64,([^"]+)"', html
    )
    return {name: base64.b64decode(data) for name, data in found}


def _report_in_a_fresh_process(run, heavy: tuple[str, ...]) -> list[str]:
    """write_report(run) in a new interpreter -> which of the `heavy` modules it imported."""
    script = (
        "import json, sys\n"
        "from kindling.report.html import write_report\n"
        f"write_report({str(run)!r})\n"
        f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # the one line printed: nothing else on stdout


def test_finished_run_reports_from_files_without_torch(run):
    assert _report_in_a_fresh_process(run, ("torch", "torchvision", "matplotlib")) == []  # nothing heavy
    html = (run / "report.html").read_text()
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    final_row = html.split('data-row="final"')[1].split("</tr>")[0]
    for key, value in _values(final_row).items():
        assert float(value) == history[-1][key]
    figures = _figures(html)
    assert set(figures) == NAMES
    for name, png in figures.items():
        assert png == (run / "plots" / f"{name}.png").read_bytes()
    evaluation = json.loads((run / "plots" / "report.json").read_text())["evaluation"]
    values = _values(html)
    assert float(values["test_accuracy"]) == evaluation["accuracy"]
    assert "Per class" in html and "Data (data doctor)" in html


def test_lost_pictures_are_drawn_again_from_the_evidence_without_torch(run):
    pngs = {p.name: p.read_bytes() for p in (run / "plots").glob("*.png")}
    for name in pngs:
        (run / "plots" / name).unlink()
    assert (
        _report_in_a_fresh_process(run, ("torch",)) == []
    )  # drawn from plots/evidence.* and metrics.jsonl alone
    assert set(_figures((run / "report.html").read_text())) == NAMES
    assert {p.name for p in (run / "plots").glob("*.png")} == set(pngs)


def test_saved_evaluation_equals_evaluate(run):
    from kindling.evaluate.evaluation import evaluate

    saved = json.loads((run / "plots" / "report.json").read_text())["evaluation"]
    result = evaluate(run, "test")
    assert saved["confusion_matrix"] == result["confusion_matrix"]
    assert saved["accuracy"] == result["accuracy"] and saved["n"] == result["n"]
    assert saved["loss"] == pytest.approx(result["loss"], rel=1e-5)


def test_same_page_as_a_refreshed_report(run, tmp_path):
    from kindling.report.html import write_report

    fast = write_report(run, tmp_path / "fast.html").read_text()
    slow = write_report(run, tmp_path / "slow.html", refresh=True).read_text()
    fast_values, slow_values = _values(fast), _values(slow)
    assert fast_values.keys() == slow_values.keys()
    for key, value in fast_values.items():
        assert float(value) == pytest.approx(float(slow_values[key]), rel=1e-5), key
    assert set(_figures(fast)) == set(_figures(slow)) == NAMES
    strip = re.compile(r"<figure.*?</figure>|data-value=\"[^\"]*\"|<footer>.*?</footer>", re.S)
    assert strip.sub("", fast) == strip.sub("", slow)


def test_changed_run_is_evaluated_again(run, capsys):
    from kindling.report import saved

    assert saved.load(run) is not None
    before = (run / "plots" / "report.json").stat().st_mtime_ns
    metrics = run / "metrics.jsonl"
    metrics.write_text(metrics.read_text())  # a resumed run rewrites it: the saved results are stale
    assert saved.load(run) is None
    assert main(["report", str(run)]) == 0
    after = (run / "plots" / "report.json").stat().st_mtime_ns
    assert after > before and saved.load(run) is not None  # evaluated, drawn and saved again
    assert main(["report", str(run), "--refresh"]) == 0
    assert (run / "plots" / "report.json").stat().st_mtime_ns > after
    assert "report written to" in capsys.readouterr().out


@pytest.mark.parametrize("min_delta", [0.0, 10.0])  # 10: only the first epoch counts as an improvement
def test_without_a_test_split_the_evaluation_is_the_best_model_on_val(tmp_path, min_delta):
    """No test split: the plots and the saved evaluation are the best model's (not the last epoch's) on
    val, and equal what evaluate gives."""
    from kindling.evaluate.evaluation import evaluate
    from kindling_testing import train_run

    sets = ["--set", "data.test_fraction=0", "--set", f"train.min_delta={min_delta}"]
    run = train_run(tmp_path / "r", "--data", "digits", "--epochs", "3", *sets)
    if min_delta:  # the best model is epoch 1's, not the last pass's
        assert json.loads((run / "best" / "bundle.json").read_text())["metrics"]["epoch"] == 1
    saved = json.loads((run / "plots" / "report.json").read_text())["evaluation"]
    result = evaluate(run, "val")
    assert saved["split"] == result["split"] == "val"
    assert saved["confusion_matrix"] == result["confusion_matrix"]
    assert saved["accuracy"] == result["accuracy"] and saved["n"] == result["n"] == 179
    assert saved["loss"] == pytest.approx(result["loss"], rel=1e-5)
    index = json.loads((run / "plots" / "index.json").read_text())
    assert {entry["name"] for entry in index} == NAMES
