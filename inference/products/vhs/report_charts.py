"""The VHS report's history charts and the scales its values are drawn on (ReportLab
graphics): the patient's VHS and VLAS over time, the AI's values solid, the staff corrections
dashed beside them, the normal range shaded (``report`` draws the rest of the page)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
from reportlab.lib.colors import Color, HexColor, white
from reportlab.pdfgen.canvas import Canvas

from inference.imaging.pdf import (
    BOLD,
    CONTENT_WIDTH,
    ITALIC,
    MARGIN,
    MUTED,
    NAVY,
    PAGE_WIDTH,
    PANEL,
    REGULAR,
    RULE,
    draw_text,
    utc,
)

#: Normal ranges as the rendered image prints them (``render.VHS_NORMAL``/``VLAS_NORMAL``).
VHS_NORMAL = (8.5, 10.5)
VLAS_NORMAL_MAX = 2.5
#: The scales the values are drawn on (a value outside is drawn at the scale's end).
VHS_SCALE = (6.0, 14.0)
VLAS_SCALE = (0.5, 4.0)

NORMAL_TINT = HexColor("#E3F1E7")
NORMAL_INK = HexColor("#1E7B45")
CORRECTED = HexColor("#C2410C")


@dataclass(frozen=True)
class HistoryPoint:
    """One earlier (or this) measurement of the patient: the AI's values and the standing
    correction's, if any."""

    measured_at: datetime.datetime
    vhs: float
    vlas: float | None
    corrected_vhs: float | None = None
    corrected_vlas: float | None = None


def _date(moment: datetime.datetime) -> str:
    return utc(moment).strftime("%Y-%m-%d")


def history_section(pdf: Canvas, history: list[HistoryPoint], top: float, floor: float) -> None:
    """``History``, then the VHS and VLAS charts side by side, from ``top`` down to ``floor``."""
    draw_text(pdf, MARGIN, top - 10, "History", BOLD, 11, NAVY)
    points = sorted(history, key=lambda p: p.measured_at)
    _legend(pdf, PAGE_WIDTH - MARGIN, top - 10)
    top -= 18
    height = top - floor
    if len(points) < 1:
        draw_text(pdf, MARGIN, top - 14, "No earlier measurement", ITALIC, 9, MUTED)
        return
    gap = 14.0
    width = (CONTENT_WIDTH - gap) / 2
    vhs = [(p.measured_at, p.vhs, p.corrected_vhs) for p in points]
    vlas = [(p.measured_at, p.vlas, p.corrected_vlas) for p in points]
    charts = (
        ("VHS", vhs, VHS_NORMAL, VHS_SCALE),
        ("VLAS", vlas, (VLAS_SCALE[0], VLAS_NORMAL_MAX), VLAS_SCALE),
    )
    for index, (name, series, normal, scale) in enumerate(charts):
        drawing = _chart(name, series, normal, scale, width, height)
        renderPDF.draw(drawing, pdf, MARGIN + index * (width + gap), floor)


def _legend(pdf: Canvas, right: float, y: float) -> None:
    """``● AI value  ● staff correction  ▭ normal range``, ending at ``right``."""
    items = (("AI value", NAVY, "dot"), ("staff correction", CORRECTED, "dot"))
    items += (("normal range", NORMAL_TINT, "box"),)
    x = right
    for label, colour, mark in reversed(items):
        x -= pdf.stringWidth(label, REGULAR, 7)
        draw_text(pdf, x, y, label, REGULAR, 7, MUTED)
        pdf.setFillColor(colour)
        if mark == "dot":
            pdf.circle(x - 6, y + 2.5, 2.6, stroke=0, fill=1)
        else:
            pdf.setStrokeColor(NORMAL_INK)
            pdf.setLineWidth(0.5)
            pdf.rect(x - 12, y - 0.5, 9, 6, stroke=1, fill=1)
        x -= 22


def _chart(
    name: str,
    series: list[tuple[datetime.datetime, float | None, float | None]],
    normal: tuple[float, float],
    scale: tuple[float, float],
    width: float,
    height: float,
) -> Drawing:
    """A small time chart (ReportLab graphics): the values in date order, evenly spaced."""
    drawing = Drawing(width, height)
    drawing.add(Rect(0, 0, width, height, fillColor=PANEL, strokeColor=RULE, strokeWidth=0.6))
    left, right, bottom, top = 30.0, width - 28, 22.0, height - 18
    drawing.add(String(8, height - 12, name, fontName=BOLD, fontSize=8, fillColor=NAVY))
    values = [v for _, ai, fixed in series for v in (ai, fixed) if v is not None]
    low = min([scale[0], *values])
    high = max([scale[1], *values])

    def y_of(value: float) -> float:
        return bottom + (top - bottom) * (value - low) / (high - low)

    def x_of(index: int) -> float:
        if len(series) == 1:
            return (left + right) / 2
        return left + (right - left) * index / (len(series) - 1)

    drawing.add(
        Rect(
            left,
            y_of(normal[0]),
            right - left,
            y_of(normal[1]) - y_of(normal[0]),
            fillColor=NORMAL_TINT,
            strokeColor=None,
        )
    )
    step = 2.0 if high - low > 5 else 0.5
    tick = step * round(low / step)
    while tick <= high + 1e-9:
        if tick >= low - 1e-9:
            y = y_of(tick)
            drawing.add(Line(left, y, right, y, strokeColor=RULE, strokeWidth=0.4))
            drawing.add(
                String(left - 4, y - 2.5, f"{tick:g}", fontName=REGULAR, fontSize=6,
                       fillColor=MUTED, textAnchor="end")
            )  # fmt: skip
        tick += step
    _line(drawing, [(x_of(i), ai) for i, (_, ai, _) in enumerate(series)], y_of, NAVY)
    final = [
        (x_of(i), fixed if fixed is not None else ai) for i, (_, ai, fixed) in enumerate(series)
    ]
    if any(fixed is not None for _, _, fixed in series):
        _line(drawing, final, y_of, CORRECTED, dashed=True)
    for i, (_, ai, fixed) in enumerate(series):
        for value, colour in ((ai, NAVY), (fixed, CORRECTED)):
            if value is not None:
                drawing.add(
                    Circle(x_of(i), y_of(value), 2.6, fillColor=colour, strokeColor=white,
                           strokeWidth=0.6)
                )  # fmt: skip
    shown = sorted({0, len(series) - 1, *range(0, len(series), max(1, len(series) // 4))})
    for i in shown:
        label = _date(series[i][0])
        drawing.add(
            String(x_of(i), 8, label, fontName=REGULAR, fontSize=6, fillColor=MUTED,
                   textAnchor="middle")
        )  # fmt: skip
    return drawing


def _line(drawing: Drawing, points, y_of, colour: Color, dashed: bool = False) -> None:
    flat = [c for x, value in points if value is not None for c in (x, y_of(value))]
    if len(flat) >= 4:
        drawing.add(
            PolyLine(flat, strokeColor=colour, strokeWidth=1.0,
                     strokeDashArray=[2, 2] if dashed else None)
        )  # fmt: skip
