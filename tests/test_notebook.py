"""docs/quickstart.ipynb runs in a real Jupyter kernel, and its outputs say what the notebook promises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "quickstart.ipynb"


def text_of(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(parts)


@pytest.mark.slow
def test_the_quickstart_notebook_runs_and_shows_its_results(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
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
