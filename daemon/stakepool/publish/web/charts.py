"""Bar charts as inline SVG, drawn on the server: they need no JavaScript and no asset.

Bar heights are a picture of integer Gwei amounts; the exact figures are in each bar's ``<title>``
(a tooltip) and in the table next to the chart, so the float geometry never stands for money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 600
HEIGHT = 160
PAD = 4


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    title: str


def bar_chart(bars: Sequence[Bar], *, name: str) -> Markup:
    """Positive bars up from the zero line, negative ones down (a loss shows as a loss)."""
    if not bars:
        return Markup('<p class="empty">No data yet.</p>')
    top = max(0, *(b.value for b in bars))
    bottom = min(0, *(b.value for b in bars))
    span = (top - bottom) or 1
    zero = PAD + (HEIGHT - 2 * PAD) * top / span
    step = (WIDTH - 2 * PAD) / len(bars)
    width = max(step * 0.8, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(name)}" preserveAspectRatio="none">',
        f'<line x1="0" x2="{WIDTH}" y1="{zero:.2f}" y2="{zero:.2f}" class="axis"/>',
    ]
    for i, bar in enumerate(bars):
        h = (HEIGHT - 2 * PAD) * abs(bar.value) / span
        y = zero - h if bar.value >= 0 else zero
        cls = "pos" if bar.value >= 0 else "neg"
        parts.append(
            f'<rect class="{cls}" x="{PAD + i * step:.2f}" y="{y:.2f}" width="{width:.2f}" '
            f'height="{max(h, 0.5):.2f}"><title>{escape(bar.label)}: {escape(bar.title)}</title></rect>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text went through escape()
