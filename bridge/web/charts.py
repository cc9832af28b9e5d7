"""Charts drawn on the server as inline SVG: no script, no style attribute (the CSP allows
neither), colours from classes in static/bridge.css. Every bar carries ``data-label`` and
``data-value`` (the exact figure) and a ``<title>`` a browser shows on hover, so what the
chart says can be read back by people, screen readers and tests alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Series:
    name: str  # shown in the legend, e.g. "Invoiced"
    css: str  # class of its bars, e.g. "invoiced"
    values: Mapping[str, Decimal | int]  # category -> value


def _num(value: Decimal | int) -> str:
    return format(Decimal(value), "f")


def month_label(month: str) -> str:
    """``2026-11`` -> ``Nov``; January also shows its year (``Jan 27``)."""
    year, mon = month.split("-")
    name = MONTHS[int(mon) - 1]
    return f"{name} {year[2:]}" if mon == "01" else name


def column_chart(chart_id: str, title: str, categories: Sequence[str], series: Sequence[Series],
                 fmt: Callable[[Decimal | int], str], label: Callable[[str], str] = str, *,
                 width: int = 720, height: int = 220, slots: int = 0) -> Markup:
    """Grouped vertical bars: one group per category (a month, a day), one bar per series.

    ``slots``: room for this many groups (e.g. the days of the month when only some have passed).
    """
    left, right, top, bottom = 8, 8, 22, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([Decimal(v) for s in series for v in s.values.values()] + [Decimal(0)])
    group_w = plot_w / max(len(categories), slots, 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    out = [f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{escape(title)}</title>",
           f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
           f'<text class="peak" x="{left}" y="{top - 8}">max {escape(fmt(peak))}</text>']
    for i, cat in enumerate(categories):
        x0 = left + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            value = Decimal(s.values.get(cat, 0))
            h = float(value / peak * plot_h) if peak else 0.0
            x, y = x0 + j * bar_w, top + plot_h - h
            tip = f"{label(cat)}: {s.name} {fmt(value)}"
            out.append(f'<rect class="bar {escape(s.css)}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                       f'height="{h:.1f}" data-series="{escape(s.name)}" data-label="{escape(cat)}" '
                       f'data-value="{_num(value)}"><title>{escape(tip)}</title></rect>')
        out.append(f'<text class="tick" x="{left + i * group_w + group_w / 2:.1f}" y="{height - bottom + 16}" '
                   f'text-anchor="middle">{escape(label(cat))}</text>')
    legend_x = left + plot_w
    for s in reversed(series):
        legend_x -= 8 + 7 * len(s.name) + 14
        out.append(f'<rect class="swatch {escape(s.css)}" x="{legend_x:.0f}" y="{top - 18}" width="10" height="10"/>'
                   f'<text class="legend" x="{legend_x + 14:.0f}" y="{top - 9}">{escape(s.name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def bar_list(chart_id: str, title: str, rows: Sequence[tuple[str, Decimal | int, str]], css: str, *,
             width: int = 520, row_h: int = 26) -> Markup:
    """Horizontal bars, one per row: ``(label, value, text shown after the bar)``."""
    label_w, text_w = 170, 150
    bar_room = width - label_w - text_w
    peak = max([Decimal(v) for _l, v, _t in rows] + [Decimal(0)])
    height = max(len(rows), 1) * row_h + 4
    out = [f'<svg id="{escape(chart_id)}" class="chart bars" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">', f"<title>{escape(title)}</title>"]
    for i, (name, value, text) in enumerate(rows):
        y = 2 + i * row_h
        w = float(Decimal(value) / peak * bar_room) if peak else 0.0
        short = name if len(name) <= 24 else name[:23] + "…"
        out.append(f'<text class="row-label" x="0" y="{y + row_h * 0.65:.1f}">{escape(short)}</text>'
                   f'<rect class="bar {escape(css)}" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
                   f'data-label="{escape(name)}" data-value="{_num(value)}"><title>{escape(name)}: {escape(text)}'
                   f'</title></rect><text class="row-value" x="{label_w + w + 6:.1f}" y="{y + row_h * 0.65:.1f}">'
                   f"{escape(text)}</text>")
    out.append("</svg>")
    return Markup("".join(out))
