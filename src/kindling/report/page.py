"""HTML building blocks for report.html and compare.html: one self-contained page, no network.

Plots are embedded as base64 data URIs; the style sheet is inline. Every number a test (or a reader's
script) may want to check carries its exact value: `<td data-key="val_acc" data-value="0.9852...">`.
"""

from __future__ import annotations

import base64
import html
import math

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; --accent:#0969da; --good:#1a7f37;
        --warn:#9a6700; --bad:#cf222e; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif;
       color:var(--fg); background:var(--bg); }
header { background:#24292f; color:#fff; padding:20px 32px; }
header h1 { margin:0; font-size:22px; font-weight:600; }
header .sub { color:#d1d9e0; margin-top:4px; }
nav { background:#fff; border-bottom:1px solid var(--line); padding:8px 32px; position:sticky; top:0; z-index:1; }
nav a { color:var(--accent); text-decoration:none; margin-right:18px; font-size:13px; }
main { max-width:1200px; margin:0 auto; padding:20px 32px 48px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 20px; margin:16px 0; }
section h2 { margin:0 0 12px; font-size:17px; font-weight:600; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(140px, 1fr)); gap:12px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:22px; font-weight:600; margin-top:2px; overflow-wrap:anywhere; }
.card .value.small { font-size:15px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { background:var(--bg); font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.scroll { overflow-x:auto; }
.bar { display:inline-block; height:9px; border-radius:2px; background:var(--good); vertical-align:middle; }
.bar.mid { background:var(--warn); } .bar.low { background:var(--bad); }
.notes { border-left:4px solid var(--warn); background:#fff8c5; }
.notes li { margin:3px 0; }
.ok { color:var(--good); }
.plots { display:grid; grid-template-columns:1fr 1fr; gap:18px; align-items:start; }
.plots figure.wide { grid-column:1 / -1; }
figure { margin:0; }
figure img { max-width:100%; height:auto; border:1px solid var(--line); border-radius:6px; background:#fff; }
figcaption { color:var(--muted); font-size:12px; margin-top:4px; }
figcaption b { color:var(--fg); }
pre { background:var(--bg); border:1px solid var(--line); border-radius:6px; padding:10px 12px; overflow:auto;
      font-size:12px; max-height:420px; }
.two { display:grid; grid-template-columns:1fr 1fr; gap:16px; }
@media (max-width: 900px) { .two { grid-template-columns:1fr; } }
footer { color:var(--muted); font-size:12px; text-align:center; padding:12px; }
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


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
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.2e}"
        return f"{value:.4f}"
    return str(value)


def metric_cell(key: str, value) -> str:
    exact = repr(value) if isinstance(value, float) else str(value)
    return f'<td class="num" data-key="{esc(key)}" data-value="{esc(exact)}">{esc(fmt(value))}</td>'


def table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    """rows hold ready HTML cells (`<td>...`) or plain values (escaped here)."""
    head = "".join(
        f'<th class="{"num" if i >= numeric_from else ""}">{esc(h)}</th>' for i, h in enumerate(header)
    )
    body = []
    for row in rows:
        cells = [
            c
            if str(c).startswith("<td")
            else f'<td class="{"num" if i >= numeric_from else ""}">{esc(c)}</td>'
            for i, c in enumerate(row)
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def bar(value: float) -> str:
    level = "" if value >= 0.9 else (" mid" if value >= 0.7 else " low")
    return f'<span class="bar{level}" style="width:{max(1, round(value * 120))}px"></span>'


WIDE = {"learning_curves", "prediction_grid", "top_losses", "regression", "compare_curves", "confused_pairs"}


def figure(plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    caption = f"<b>{esc(plot.title)}</b>" + (f" — {esc(plot.caption)}" if plot.caption else "")
    return (
        f'<figure id="plot-{esc(plot.name)}" class="{"wide" if plot.name in WIDE else ""}"><img alt="{esc(plot.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def cards(items: list[tuple[str, str]], small: set[str] = frozenset()) -> str:
    body = "".join(
        f'<div class="card"><div class="label">{esc(k)}</div>'
        f'<div class="value{" small" if k in small else ""}">{esc(v)}</div></div>'
        for k, v in items
    )
    return f'<div class="cards">{body}</div>'


def section(anchor: str, title: str, body: str, extra_class: str = "") -> str:
    return f'<section id="{esc(anchor)}" class="{extra_class}"><h2>{esc(title)}</h2>{body}</section>'


def notes(items: list[str]) -> str:
    if not items:
        return ""
    listed = "".join(f"<li>{esc(n)}</li>" for n in items)
    return section("missing", "What is missing or worth a look", f"<ul>{listed}</ul>", "notes")


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]], footer: str = "") -> str:
    """sections: (anchor, nav label, html)."""
    nav = "".join(f'<a href="#{esc(a)}">{esc(label)}</a>' for a, label, body in sections if body and label)
    body = "\n".join(b for _, _, b in sections if b)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<header><h1>{esc(title)}</h1><div class="sub">{esc(subtitle)}</div></header>'
        f"<nav>{nav}</nav><main>{body}</main><footer>{esc(footer)}</footer></body></html>\n"
    )
