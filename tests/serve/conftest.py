"""Fixtures of the serving tests: the digits model behind `kindling serve`, a wine table model, images."""

from __future__ import annotations

from pathlib import Path

import pytest
from serve_helpers import ThreadServer, digit_png, sentiment_tsv, start_server, stop_server, train, wait_ready


@pytest.fixture(scope="session")
def server(digits_run):
    """The digits model behind `kindling serve`, with small limits so the limit tests stay fast. One
    worker: the tests read its memory, which is per process (tests/serve/test_metrics.py runs two)."""
    srv = start_server(
        digits_run,
        "--max-upload-mb", "2", "--max-pixels", "1000000", "--max-wait-ms", "10", "--workers", "1",
    )  # fmt: skip
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def digit_image(digits_run) -> tuple[bytes, int]:
    """A real test-split digit as PNG bytes, and its true class."""
    return digit_png(digits_run)


@pytest.fixture(scope="session")
def wine_run(tmp_path_factory) -> Path:
    return train(
        tmp_path_factory.mktemp("runs") / "wine", "--data", "wine", "--model", "mlp", "--epochs", "2"
    )


@pytest.fixture(scope="session")
def wine_server(wine_run):
    from kindling.serve.app import create_app

    with ThreadServer(create_app(wine_run, max_items=8, threads=1)) as srv:
        wait_ready(srv.url)
        yield srv


@pytest.fixture(scope="session")
def text_server(tmp_path_factory):
    """A bag-of-words text classifier (2 epochs on a generated TSV) behind the app, in-process."""
    from kindling.serve.app import create_app

    folder = tmp_path_factory.mktemp("text")
    tsv = sentiment_tsv(folder / "reviews.tsv")
    run = train(folder / "run", "--data", f"text:{tsv}", "--model", "bow", "--epochs", "2")
    with ThreadServer(create_app(run, max_items=4, threads=1)) as srv:
        wait_ready(srv.url)
        yield srv
