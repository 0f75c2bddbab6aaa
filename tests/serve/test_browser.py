"""A person at the web page: headless Chromium (Playwright + Debian's chromium) chooses an image file,
sees the predicted class and the probability bars; a table model gets a generated form. Screenshots
are saved (to $KINDLING_SCREENSHOTS when set, else the test's tmp folder)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("KINDLING_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _only_this_server(page, url: str) -> list[str]:
    """Every request the page makes; the test asserts they all go to the server under test."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def test_choose_an_image_and_see_the_class_and_bars(server, digit_image, browser, tmp_path):
    png, label = digit_image
    image = tmp_path / "seven.png"
    image.write_bytes(png)
    page = browser.new_page()
    requests_seen = _only_this_server(page, server.url)
    page.goto(server.url + "/")
    page.wait_for_selector("#image-input:not([hidden])")
    assert "digits-cnn" in page.text_content("#model-info")
    page.set_input_files("#file", str(image))
    page.wait_for_selector("#result:not([hidden]) #bars li")
    assert page.text_content("#top-label") == str(label)
    bars = page.query_selector_all("#bars li")
    assert len(bars) == 3
    assert bars[0].query_selector(".name").text_content() == str(label)
    widths = [b.query_selector(".fill").evaluate("e => e.getBoundingClientRect().width") for b in bars]
    assert widths[0] > 0 and widths == sorted(widths, reverse=True)
    assert page.is_visible("#preview") and not page.is_visible("#error")
    shot = _shots(tmp_path) / "serve_image_page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
    assert requests_seen and all(u.startswith(server.url) or u.startswith("blob:") for u in requests_seen)


def test_a_bad_file_shows_the_error_and_the_page_keeps_working(server, digit_image, browser, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    good = tmp_path / "seven.png"
    good.write_bytes(digit_image[0])
    page = browser.new_page()
    page.goto(server.url + "/")
    page.wait_for_selector("#image-input:not([hidden])")
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("#error:not([hidden])")
    assert "not an image" in page.text_content("#error")
    page.set_input_files("#file", str(good))
    page.wait_for_selector("#result:not([hidden]) #bars li")
    assert not page.is_visible("#error")


def test_a_table_model_gets_a_form_from_its_columns(wine_server, browser, tmp_path):
    from sklearn.datasets import load_wine

    row = load_wine(as_frame=True).frame.drop(columns="target").iloc[0]
    page = browser.new_page()
    page.goto(wine_server.url + "/")
    page.wait_for_selector("#table-input:not([hidden])")
    inputs = page.query_selector_all("#table-form input")
    assert [i.get_attribute("name") for i in inputs] == list(row.index)
    for name, value in row.items():
        page.fill(f'#table-form [name="{name}"]', str(value))
    page.click("#table-go")
    page.wait_for_selector("#result:not([hidden]) #bars li")
    assert page.text_content("#top-label") in {"class_0", "class_1", "class_2"}
    page.screenshot(path=str(_shots(tmp_path) / "serve_table_page.png"), full_page=True)


def test_a_text_model_gets_a_text_box(text_server, browser):
    page = browser.new_page()
    page.goto(text_server.url + "/")
    page.wait_for_selector("#text-input:not([hidden])")
    page.fill("#text", "what a lovely great film")
    page.fill("#top-k", "2")
    page.click("#text-go")
    page.wait_for_selector("#result:not([hidden]) #bars li")
    assert page.text_content("#top-label") in {"pos", "neg"}
    assert len(page.query_selector_all("#bars li")) == 2
