"""report.html as a person sees it: headless Chromium loads every image, shows metrics.jsonl's numbers."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(digits_run, tmp_path_factory):
    from kindling.report.html import write_report

    run = tmp_path_factory.mktemp("browser") / "digits"
    shutil.copytree(digits_run, run)
    return write_report(run)


def test_report_in_chromium(report, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 5 and all(w > 0 for w in widths)
    assert all(u.startswith(("file:", "data:")) for u in requests)  # nothing from the network
    history = [json.loads(line) for line in (report.parent / "metrics.jsonl").read_text().splitlines()]
    shown = page.eval_on_selector_all(
        '#metrics tr[data-row="final"] td',
        "tds => tds.map(t => [t.dataset.key, t.dataset.value, t.innerText])",
    )
    final = history[-1]
    assert {k for k, _, _ in shown} >= {"epoch", "train_loss", "val_loss", "val_acc"}
    for key, value, text in shown:
        assert float(value) == pytest.approx(final[key], rel=0, abs=0)
        assert float(text.replace(",", "")) == pytest.approx(final[key], rel=1e-3, abs=1e-4)
    baseline = json.loads((report.parent / "baseline.json").read_text())  # fitted after training
    row = page.inner_text('#evaluation tr[data-row="baseline"]')
    assert baseline["model"] in row and f"{baseline['accuracy']:.4f}" in row
    assert page.is_visible('#evaluation tr[data-row="network"]')
    page.screenshot(path=str(report.parent / "report.png"), full_page=True)
    assert (report.parent / "report.png").stat().st_size > 10_000
    page.close()
