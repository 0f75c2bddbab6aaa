"""`kindling report` and `kindling compare`: the page holds what the run holds, and says what is missing."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from kindling.cli.main import main


@pytest.fixture(scope="module")
def run_copy(digits_run, tmp_path_factory):
    """A private copy of the shared run (the report writes into the run directory)."""
    target = tmp_path_factory.mktemp("report") / "digits"
    shutil.copytree(digits_run, target)
    return target


def _values(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', page))


def test_report_is_one_self_contained_page(run_copy, capsys):
    assert main(["report", str(run_copy)]) == 0
    assert "report written to" in capsys.readouterr().out
    page = (run_copy / "report.html").read_text()
    assert "http://" not in page and "https://" not in page  # no network
    srcs = re.findall(r'<img[^>]+src="([^"]+)"', page)
    assert len(srcs) == 5 and all(s.startswith("data:image/png;base64,") for s in srcs)
    for section in (
        "Summary",
        "Metrics (from metrics.jsonl)",
        "Per class",
        "Data (data doctor)",
        "Config",
        "Environment",
    ):
        assert section in page
    history = [json.loads(line) for line in (run_copy / "metrics.jsonl").read_text().splitlines()]
    final_row = page.split('data-row="final"')[1].split("</tr>")[0]
    assert dict(re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', final_row))["val_acc"] == repr(
        history[-1]["val_acc"]
    )
    assert "training time" in page and f"{sum(r['seconds'] for r in history):.1f} s" in page
    env = dict(re.findall(r'<tr><td class="">([^<]+)</td><td class="">([^<]*)</td></tr>', page))
    assert env["device"] == "cpu" and env["threads"] == "1"  # what training chose (best/bundle.json)


def test_report_shows_evaluate_per_class_numbers(run_copy):
    from kindling.evaluate.evaluation import evaluate
    from kindling.report.html import write_report

    write_report(run_copy)
    values = _values((run_copy / "report.html").read_text())
    result = evaluate(run_copy, "test")
    assert float(values["test_accuracy"]) == result["accuracy"]
    assert float(values["test_macro_f1"]) == result["macro_f1"]


def test_interrupted_run_without_best_model_still_reports(run_copy, tmp_path):
    run = tmp_path / "cut"
    shutil.copytree(run_copy, run)
    shutil.rmtree(run / "best")
    shutil.rmtree(run / "plots")
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "no best model" in page and "resume it with" in page
    assert (run / "plots" / "learning_curves.png").is_file()
    assert not (run / "plots" / "confusion_matrix.png").exists()


def test_run_without_validation_and_without_logger(tmp_path):
    from kindling.report.html import write_report
    from kindling_testing import train_run

    run = train_run(
        tmp_path / "noval",
        "--data",
        "digits",
        "--epochs",
        "1",
        "--set",
        "data.val_fraction=0",
        "--set",
        "train.logger=none",
        "--monitor",
        "val_acc",
    )
    assert not (run / "plots").exists() and not (run / "tb").exists()  # logger none: no logs, no plots
    page = write_report(run).read_text()
    assert "no validation split" in page
    assert "no TensorBoard logs: the run was trained with train.logger=none" in page
    assert "confusion_matrix" in page  # the report draws what training skipped


def test_without_tensorboard_installed_the_run_logs_csv_and_the_report_says_so(tmp_path, monkeypatch):
    import sys

    from kindling.errors import UserError
    from kindling.report.html import write_report
    from kindling.report.loggers import resolve_logger
    from kindling_testing import train_run

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # importlib finds no such package
    assert resolve_logger("auto") == "csv"
    with pytest.raises(UserError, match="pip install tensorboard"):
        resolve_logger("tensorboard")
    run = train_run(tmp_path / "notb", "--data", "digits", "--epochs", "1")
    assert not (run / "tb").exists() and (run / "steps.csv").is_file()
    page = write_report(run).read_text()
    assert "no TensorBoard logs: the tensorboard package is not installed" in page
    assert 'id="plot-confusion_matrix"' in page


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a kindling run directory" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_compare_overlays_runs(run_copy, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(run_copy, other)
    out = tmp_path / "compare.html"
    assert main(["compare", str(run_copy), str(other), "--output", str(out)]) == 0
    page = out.read_text()
    values = _values(page)
    history = [json.loads(line) for line in (run_copy / "metrics.jsonl").read_text().splitlines()]
    assert float(values["digits:final_val_acc"]) == history[-1]["val_acc"]
    assert float(values["other:final_val_loss"]) == history[-1]["val_loss"]
    assert page.count("data:image/png;base64,") == 1
