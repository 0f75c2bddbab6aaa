"""docs/quickstart.ipynb runs in a real Jupyter kernel, and its outputs say what the notebook promises;
the model its cell defines is then predicted, served and exported outside the notebook (through the
Bundle's graph: no other process has the notebook's class; `kindling serve` runs in its own)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
NOTEBOOK = TESTS.parent / "docs" / "quickstart.ipynb"
sys.path.insert(0, str(TESTS / "serve"))  # tests/serve/serve_helpers.py

# appended by the test, not part of the notebook: the session's own predictions on image files
SESSION_PREDICTIONS = """
import json
from PIL import Image
paths = []
for i in range(3):
    paths.append(f"digit{i}.png")
    Image.fromarray((val_ds[i][0][0].numpy() * 255).round().astype("uint8")).save(paths[-1])
json.dump({"type": type(model.bundle.model).__name__, "predictions": model.predict(paths)}, open("session.json", "w"))
"""


def text_of(cell) -> str:
    """A cell's stdout as it was printed, then its other outputs a line each: one print can reach the
    notebook in several stream messages, with stderr's between them (a fresh-clone CI run saw 'true' and
    ' 2 -> predicted 2 0.998' arrive apart)."""
    outs = cell.get("outputs", [])
    stdout = "".join(out.get("text", "") for out in outs if out.get("name") == "stdout")
    others = [
        out.get("text", "")
        for out in outs
        if out.get("output_type") == "stream" and out.get("name") != "stdout"
    ]
    others += [str(v) for out in outs for v in out.get("data", {}).values()]
    return "\n".join([stdout, *others])


@pytest.mark.slow
def test_the_quickstart_notebook_runs_and_shows_its_results(tmp_path, kindling_here):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SESSION_PREDICTIONS))
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    shown = code[1]["outputs"]
    html = [o["data"]["text/html"] for o in shown if "text/html" in o.get("data", {})]
    assert html and "kindling run" in html[0] and "data:image/png;base64," in html[0]
    accuracy = float(re.search(r"accuracy (\d\.\d+)", text_of(code[2])).group(1))
    assert accuracy > 0.8
    assert re.search(r"true \d -> predicted \d \d\.\d+", text_of(code[3]))
    assert "report.html True" in text_of(code[4])
    assert (tmp_path / "runs" / "quickstart" / "best" / "model.safetensors").is_file()
    from_the_shell(tmp_path, tmp_path / "runs" / "quickstart", kindling_here)


def from_the_shell(folder: Path, run: Path, kindling_here) -> None:
    """The notebook's run, outside the notebook: predict and export (in this process, which never had the
    notebook's class either) and serve (its own process) give the session's outputs."""
    import requests
    from serve_helpers import start_server, stop_server

    session = json.loads((folder / "session.json").read_text())
    assert session["type"] == "Net"  # the notebook itself used its class
    paths = [str(folder / p["input"]) for p in session["predictions"]]
    done = kindling_here("predict", str(run), *paths, "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)["predictions"]
    assert [p["label"] for p in found] == [p["label"] for p in session["predictions"]]
    assert [p["probability"] for p in found] == pytest.approx(
        [p["probability"] for p in session["predictions"]], abs=1e-4
    )
    server = start_server(run, "--workers", "1", "--threads", "1")
    try:
        reply = requests.post(
            server.url + "/predict", files={"file": Path(paths[0]).read_bytes()}, timeout=30
        )
        assert reply.status_code == 200, reply.text
        best = reply.json()["predictions"][0]
        assert best["label"] == session["predictions"][0]["label"]
        assert best["probability"] == pytest.approx(session["predictions"][0]["probability"], abs=1e-4)
    finally:
        stop_server(server)
    done = kindling_here("export", str(run), "--format", "onnx", "--json")
    assert done.returncode == 0, done.stderr
    assert Path(json.loads(done.stdout)["output"]).read_bytes() == (run / "best" / "model.onnx").read_bytes()
