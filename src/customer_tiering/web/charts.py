"""Small charts rendered on the server (SVG, and HTML rows for the waterfall): no JavaScript
library, nothing fetched by the browser.

Each function returns an SVG string sized by its ``viewBox`` (it scales to the page width).
Numbers shown are also kept as ``data-*`` attributes so a test can read them back exactly.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from customer_tiering.i18n.numbers import percent, points

__all__ = ["bars", "heat_colour", "line", "pareto", "waterfall"]

_W, _H = 720, 320
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 300, 70, 16, 28


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def waterfall(steps: Sequence[tuple[str, str, float]], total: float, title: str,
              total_label: str = "=") -> str:
    """A waterfall from 0 to ``total``: one bar per (item, label, points) step, then the total.

    Drawn as HTML rows (label, bar on a shared scale, value) rather than SVG, so the labels keep
    the page's font size at any width (an SVG scaled down to a phone shrank them to ~4 px) and
    wrap instead of overflowing. Each bar keeps its exact points in ``data-points`` and its item
    in ``data-item``; the chart its total in ``data-total``.
    """
    running, lo, hi = 0.0, 0.0, 0.0
    spans = []
    for _, _, value in steps:
        start, end = running, running + value
        spans.append((start, end))
        running = end
        lo, hi = min(lo, start, end), max(hi, start, end)
    hi = max(hi, total, 1e-9)
    width = hi - lo if hi > lo else 1.0

    def pct(v: float) -> float:
        return 100.0 * (v - lo) / width

    parts = [f'<div class="chart waterfall" role="img" aria-label="{_esc(title)}" '
             f'data-total="{total!r}">']
    for (item, label, value), (start, end) in zip(steps, spans, strict=True):
        left = pct(min(start, end))
        size = max(pct(max(start, end)) - left, 0.3)
        kind = "pos" if value >= 0 else "neg"
        parts.append(
            f'<div class="bar" data-points="{value!r}" data-item="{_esc(item)}">'
            f'<span class="wf-label">{_esc(label)}</span><span class="wf-track">'
            f'<span class="wf-fill {kind}" style="left:{left:.2f}%;width:{size:.2f}%"></span>'
            f'</span><span class="wf-value">{points(value, sign=True)}</span></div>')
    parts.append(f'<div class="total"><span class="wf-label">{_esc(total_label)}</span>'
                 f'<span class="wf-track"><span class="wf-fill sum" style="left:{pct(0):.2f}%;'
                 f'width:{max(pct(total) - pct(0), 0.3):.2f}%"></span></span>'
                 f'<span class="wf-value">{points(total)}</span></div></div>')
    return "".join(parts)


def bars(items: Sequence[tuple[str, float]], title: str,
         fmt: Callable[[float], str] = lambda v: percent(v, 0)) -> str:
    """Horizontal bars of shares (0..1)."""
    height = _PAD_T + _PAD_B + 24 * len(items)
    top = max([v for _, v in items] + [1e-9])
    width = _W - _PAD_L - _PAD_R - 60
    parts = [f'<svg class="chart bars" viewBox="0 0 {_W} {height}" role="img" '
             f'aria-label="{_esc(title)}">']
    for i, (label, value) in enumerate(items):
        y = _PAD_T + 24 * i
        w = max(width * value / top, 1)
        parts.append(f'<text x="{_PAD_L - 6}" y="{y + 15}" text-anchor="end">{_esc(label)}</text>'
                     f'<rect x="{_PAD_L}" y="{y + 3}" width="{w:.2f}" height="18" fill="#1565c0"/>'
                     f'<text x="{_PAD_L + w + 4:.2f}" y="{y + 16}">{fmt(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _axes(x_label: str, y_label: str, height: int) -> str:
    return (f'<line x1="60" y1="{height - 30}" x2="{_W - 20}" y2="{height - 30}" stroke="#555"/>'
            f'<line x1="60" y1="10" x2="60" y2="{height - 30}" stroke="#555"/>'
            f'<text x="{_W / 2}" y="{height - 6}" text-anchor="middle">{_esc(x_label)}</text>'
            f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" '
            f'text-anchor="middle">{_esc(y_label)}</text>')


def line(steps: Sequence[tuple[str, float]], title: str, y_max: float = 100.0, *,
         y_label: str = "") -> str:
    """A line of values over labelled steps (a customer's totals over ratings); ``y_label``
    names the axis in the page's language."""
    height = _H
    n = max(len(steps), 1)
    step = (_W - 100) / max(n - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return 70 + step * i, (height - 30) - (height - 50) * max(0.0, min(v / y_max, 1.0))

    coords = [xy(i, v) for i, (_, v) in enumerate(steps)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [f'<svg class="chart line" viewBox="0 0 {_W} {height}" role="img" '
             f'aria-label="{_esc(title)}">', _axes("", y_label, height),
             f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>']
    for (label, value), (x, y) in zip(steps, coords, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1565c0"/>'
                     f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle">{points(value, 1)}</text>'
                     f'<text x="{x:.1f}" y="{height - 16}" text-anchor="middle">{_esc(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def pareto(revenue_sorted_desc: Sequence[float], title: str, *, x_label: str = "",
           y_label: str = "", mark: Callable[[float], str] = lambda s: f"20% → {s:.0%}") -> str:
    """Share of revenue (y) held by the top share of customers (x), with the 20% mark; the axis
    names and the mark's words (``mark(share)``) in the page's language."""
    height = _H
    values = [max(v, 0.0) for v in revenue_sorted_desc]
    total = sum(values) or 1.0
    n = len(values)
    samples = 100
    coords = []
    running = 0.0
    cumulative = []
    for v in values:
        running += v
        cumulative.append(running / total)
    for k in range(samples + 1):
        i = round(k / samples * n)
        share = cumulative[i - 1] if i > 0 else 0.0
        coords.append((60 + (_W - 80) * k / samples, (height - 30) - (height - 50) * share))
    top20 = cumulative[max(round(0.2 * n) - 1, 0)] if n else 0.0
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    x20 = 60 + (_W - 80) * 0.2
    return (f'<svg class="chart pareto" viewBox="0 0 {_W} {height}" role="img" '
            f'aria-label="{_esc(title)}" data-top20="{top20!r}">'
            + _axes(x_label, y_label, height)
            + f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>'
            f'<line x1="{x20:.1f}" y1="10" x2="{x20:.1f}" y2="{height - 30}" stroke="#c62828" '
            f'stroke-dasharray="4 3"/><text x="{x20 + 6:.1f}" y="28">{_esc(mark(top20))}</text>'
            "</svg>")


def heat_colour(value: float, top: float) -> str:
    """Background colour of a heatmap cell (white to blue)."""
    t = 0.0 if top <= 0 else min(value / top, 1.0)
    r, g, b = (int(255 - (255 - c) * t) for c in (21, 101, 192))
    return f"rgb({r},{g},{b})"
