"""Bar charts as inline SVG, drawn on the server: the staff dashboard works offline, with no
JavaScript and nothing fetched from a CDN.

Every label is escaped here, so the returned markup is safe to place in a page as is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

Number = int | float | Decimal

# Colours follow the admin's theme variables (light and dark), with fallbacks.
BAR_STYLE = "fill: var(--primary, #79aec8)"
TEXT_STYLE = "fill: var(--body-quiet-color, #666); font: 11px sans-serif"
GRID_STYLE = "stroke: var(--hairline-color, #ddd); stroke-width: 1"

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 8, 18, 28
MIN_LABEL_SPACING = 44  # pixels between x-axis labels, so they never overlap


def bar_chart_svg(
    points: Sequence[tuple[str, Number]],
    *,
    title: str,
    width: int = 720,
    height: int = 240,
    format_value: Callable[[Number], str] = str,
    show_values: bool | None = None,
) -> str:
    """One bar per ``(label, value)`` point, left to right, on a y axis from 0 to a round
    number at or above the largest value (``nice_top``). Hovering a bar shows its label and
    value; ``show_values`` (default: 12 bars or fewer) also prints each value above its bar.
    Values must not be negative."""
    if any(value < 0 for _, value in points):
        raise ValueError("bar_chart_svg draws non-negative values only")
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    )
    if not points:
        return (
            f'{head}<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" '
            f'style="{TEXT_STYLE}">No data</text></svg>'
        )
    plot_width = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = height - MARGIN_TOP - MARGIN_BOTTOM
    baseline = MARGIN_TOP + plot_height
    whole = all(isinstance(value, int) for _, value in points)
    top = nice_top(max(float(value) for _, value in points), whole=whole)
    slot = plot_width / len(points)
    bar_width = max(slot * 0.8, 1.0)
    label_every = max(1, math.ceil(MIN_LABEL_SPACING / slot))
    if show_values is None:
        show_values = len(points) <= 12

    parts = [head]
    for fraction in (0.0, 0.5, 1.0):
        y = baseline - fraction * plot_height
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{width - MARGIN_RIGHT}" y2="{y:.1f}" '
            f'style="{GRID_STYLE}"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'style="{TEXT_STYLE}">{escape(_tick(top * fraction, points, format_value))}'
            "</text>"
        )
    for index, (label, value) in enumerate(points):
        bar_height = float(value) / top * plot_height
        x = MARGIN_LEFT + index * slot + (slot - bar_width) / 2
        center = x + bar_width / 2
        shown = escape(format_value(value))
        parts.append(
            f"<g><title>{escape(label)}: {shown}</title>"
            f'<rect x="{x:.1f}" y="{baseline - bar_height:.1f}" width="{bar_width:.1f}" '
            f'height="{bar_height:.1f}" style="{BAR_STYLE}"/></g>'
        )
        if show_values:
            parts.append(
                f'<text x="{center:.1f}" y="{baseline - bar_height - 4:.1f}" '
                f'text-anchor="middle" style="{TEXT_STYLE}">{shown}</text>'
            )
        if index % label_every == 0:
            parts.append(
                f'<text x="{center:.1f}" y="{baseline + 16:.1f}" text-anchor="middle" '
                f'style="{TEXT_STYLE}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def nice_top(largest: float, *, whole: bool = False) -> float:
    """The top of the y axis: the smallest of 1, 2, 4, 6, 8 (times a power of ten) that is at
    least ``largest``, so the mid-axis tick is a round number too (whole for counts)."""
    if largest <= 0:
        return 2.0 if whole else 1.0
    magnitude = 10 ** math.floor(math.log10(largest))
    top = next(m * magnitude for m in (1, 2, 4, 6, 8, 10) if m * magnitude >= largest)
    return max(top, 2.0) if whole else top


def _tick(value: float, points: Sequence[tuple[str, Number]], format_value: Callable) -> str:
    """An axis tick in the points' own kind of number: counts stay whole."""
    if all(isinstance(v, int) for _, v in points):
        return format_value(round(value))
    if all(isinstance(v, Decimal) for _, v in points):
        return format_value(Decimal(str(round(value, 2))))
    return format_value(value)


# --- stacked bars: one colour per series (a product), one bar per label (a day, a month) ---

# Mid-tone colours that read on the admin's light and dark backgrounds alike; a page may
# override them with ``--chart-series-<n>`` custom properties.
SERIES_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
)
LEGEND_ROW = 18  # pixels per legend row
LEGEND_CHAR = 6.5  # estimated width of one legend character at 11px


@dataclass(frozen=True)
class Series:
    """One stacked layer: its name in the legend and one value per bar."""

    name: str
    values: Sequence[Number]


def series_style(index: int) -> str:
    colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
    return f"fill: var(--chart-series-{index % len(SERIES_COLOURS)}, {colour})"


def stacked_bar_chart_svg(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 720,
    height: int = 260,
    format_value: Callable[[Number], str] = str,
    show_values: bool | None = None,
) -> str:
    """One bar per label, stacked bottom-up from ``series`` in order, with a legend above the
    plot. Hovering a segment shows its label, series and value; hovering elsewhere on a bar
    its total. ``show_values`` (default: 12 bars or fewer) prints each total above its bar.
    Values must not be negative; every name and label is escaped."""
    if any(len(layer.values) != len(labels) for layer in series):
        raise ValueError("every series needs one value per label")
    if any(value < 0 for layer in series for value in layer.values):
        raise ValueError("stacked_bar_chart_svg draws non-negative values only")
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    )
    if not labels or not series:
        return (
            f'{head}<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" '
            f'style="{TEXT_STYLE}">No data</text></svg>'
        )
    legend, legend_height = _legend(series, width)
    top_margin = MARGIN_TOP + legend_height
    plot_width = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = height - top_margin - MARGIN_BOTTOM
    baseline = top_margin + plot_height
    values = [value for layer in series for value in layer.values]
    totals = [sum((layer.values[i] for layer in series), 0) for i in range(len(labels))]
    whole = all(isinstance(value, int) for value in values)
    top = nice_top(max(float(total) for total in totals), whole=whole)
    slot = plot_width / len(labels)
    bar_width = max(slot * 0.8, 1.0)
    label_every = max(1, math.ceil(MIN_LABEL_SPACING / slot))
    if show_values is None:
        show_values = len(labels) <= 12
    points = [(label, total) for label, total in zip(labels, totals, strict=True)]

    parts = [head, legend]
    for fraction in (0.0, 0.5, 1.0):
        y = baseline - fraction * plot_height
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{width - MARGIN_RIGHT}" y2="{y:.1f}" '
            f'style="{GRID_STYLE}"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'style="{TEXT_STYLE}">{escape(_tick(top * fraction, points, format_value))}'
            "</text>"
        )
    for index, (label, total) in enumerate(points):
        x = MARGIN_LEFT + index * slot + (slot - bar_width) / 2
        center = x + bar_width / 2
        shown_total = escape(format_value(total))
        parts.append(f"<g><title>{escape(label)}: {shown_total}</title>")
        stacked = 0.0
        for number, layer in enumerate(series):
            value = layer.values[index]
            if not value:
                continue
            segment = float(value) / top * plot_height
            stacked += segment
            parts.append(
                f'<rect x="{x:.1f}" y="{baseline - stacked:.1f}" width="{bar_width:.1f}" '
                f'height="{segment:.1f}" style="{series_style(number)}">'
                f"<title>{escape(label)}, {escape(layer.name)}: "
                f"{escape(format_value(value))}</title></rect>"
            )
        parts.append("</g>")
        if show_values:
            parts.append(
                f'<text x="{center:.1f}" y="{baseline - stacked - 4:.1f}" '
                f'text-anchor="middle" style="{TEXT_STYLE}">{shown_total}</text>'
            )
        if index % label_every == 0:
            parts.append(
                f'<text x="{center:.1f}" y="{baseline + 16:.1f}" text-anchor="middle" '
                f'style="{TEXT_STYLE}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: Sequence[Series], width: int) -> tuple[str, int]:
    """A swatch and the name of each series, left to right, wrapping onto further rows; the
    markup and the height it takes."""
    parts = []
    x, row = MARGIN_LEFT, 0
    for index, layer in enumerate(series):
        item_width = 14 + len(layer.name) * LEGEND_CHAR + 16
        if x > MARGIN_LEFT and x + item_width > width - MARGIN_RIGHT:
            x, row = MARGIN_LEFT, row + 1
        y = 4 + row * LEGEND_ROW
        parts.append(
            f'<g class="legend"><rect x="{x:.1f}" y="{y:.1f}" width="10" height="10" '
            f'style="{series_style(index)}"/>'
            f'<text x="{x + 14:.1f}" y="{y + 9:.1f}" style="{TEXT_STYLE}">'
            f"{escape(layer.name)}</text></g>"
        )
        x += item_width
    return "".join(parts), (row + 1) * LEGEND_ROW
