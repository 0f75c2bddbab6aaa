"""report.html and compare.html: Jinja2 templates (report/templates/) filled with plain values.

Each page is self-contained, no network: the plots are inline as base64 data URIs, the style sheet inline.
Every number a test (or a reader's script) may want to check carries its exact value:
`<td data-key="val_acc" data-value="0.9852...">`. Autoescaping is on: a run's names and notes stay text.
"""

from __future__ import annotations

import base64
import math
from functools import cache
from pathlib import Path

# plots that take a whole row of the page
WIDE = {"learning_curves", "prediction_grid", "top_losses", "regression", "compare_curves", "confused_pairs"}
WIDE |= {"actual_vs_predicted"}


def fmt(value) -> str:
    """How a number is shown: 4 significant decimals, scientific for tiny learning rates."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if math.isnan(value):
            return "nan"
        return f"{value:.2e}" if abs(value) < 1e-3 else f"{value:.4f}"
    return str(value)


def exact(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def level(value: float) -> str:
    """The bar's colour class: good from 0.9, middling from 0.7, else low."""
    return "" if value >= 0.9 else (" mid" if value >= 0.7 else " low")


@cache
def _environment():
    import jinja2  # lazy: jinja2

    folder = Path(__file__).parent / "templates"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True, trim_blocks=True)
    env.filters.update(fmt=fmt, exact=exact, level=level, b64=lambda b: base64.b64encode(b).decode("ascii"))
    env.globals["wide"] = WIDE
    return env


def render(template: str, **context) -> str:
    return _environment().get_template(template).render(**context) + "\n"
