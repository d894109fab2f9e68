"""The VHS product's PDF report: one A4 page for a patient's measurement (beyond the seed).

``render_report(VhsReportInput(...))`` gives the PDF's bytes.  Top to bottom: the clinic
letterhead, the patient and measurement panel, the rendered radiograph (landmarks, axes, the
vertebral scale) beside VHS and VLAS on scales with their normal ranges, the confidence and
any staff correction beside the AI value, the patient's history as two small charts (VHS and
VLAS over time, the normal range shaded, corrected values marked), then the model version,
the generation time and the not-for-diagnosis notice.

Fonts, safe text, the reproducible canvas and the pictures are the platform's
(``inference.imaging.pdf``), shared with the chest X-ray report: every text is extractable,
too long a text is shortened to its box, and the same input gives the same bytes.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field

from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
from reportlab.lib.colors import Color, HexColor, white
from reportlab.pdfgen.canvas import Canvas

from inference.imaging.pdf import (
    BOLD,
    CONTENT_WIDTH,
    INK,
    ITALIC,
    MARGIN,
    MUTED,
    NAVY,
    NOT_RECORDED,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    PANEL,
    REGULAR,
    RULE,
    clean,
    draw_field,
    draw_text,
    image_panel,
    letterhead,
    new_canvas,
    notice,
    picture,
    utc,
    wrap,
)

__all__ = ["HistoryPoint", "StaffCorrection", "VhsReportInput", "render_report"]

#: Normal ranges as the rendered image prints them (``render.VHS_NORMAL``/``VLAS_NORMAL``).
VHS_NORMAL = (8.5, 10.5)
VLAS_NORMAL_MAX = 2.5
#: The scales the values are drawn on (a value outside is drawn at the scale's end).
VHS_SCALE = (6.0, 14.0)
VLAS_SCALE = (0.5, 4.0)

NORMAL_TINT = HexColor("#E3F1E7")
NORMAL_INK = HexColor("#1E7B45")
HIGH_INK = HexColor("#B45309")
CORRECTED = HexColor("#C2410C")
TRACK = HexColor("#E7EBF0")
CONFIDENCE_COLOURS = {
    "optimal": HexColor("#1E7B45"),
    "good": HexColor("#2563EB"),
    "review": HexColor("#B45309"),
}


@dataclass(frozen=True)
class StaffCorrection:
    vhs: float
    vlas: float
    corrected_at: datetime.datetime
    corrected_by: str


@dataclass(frozen=True)
class HistoryPoint:
    """One earlier (or this) measurement of the patient: the AI's values and the standing
    correction's, if any."""

    measured_at: datetime.datetime
    vhs: float
    vlas: float | None
    corrected_vhs: float | None = None
    corrected_vlas: float | None = None


@dataclass(frozen=True)
class VhsReportInput:
    """What one report shows.  ``rendered_png`` is the annotated radiograph (any image
    format Pillow reads); ``image_note`` is printed under it.  Times are UTC (a naive one is
    taken as UTC)."""

    clinic: str
    uuid: str
    measurement_id: int
    measured_at: datetime.datetime
    vhs: float
    vlas: float | None
    confidence: str
    result_description: str
    model_version: str
    rendered_png: bytes
    image_note: str
    generated_at: datetime.datetime
    disclaimer: str
    correction: StaffCorrection | None = None
    history: list[HistoryPoint] = field(default_factory=list)


def render_report(report: VhsReportInput) -> bytes:
    """The one-page A4 PDF report; the same input always gives the same bytes."""
    image = picture(report.rendered_png, "rendered_png")
    generated = utc(report.generated_at)
    buffer = io.BytesIO()
    pdf = new_canvas(
        buffer,
        generated=generated,
        title="VHS / VLAS AI measurement report",
        subject="Lateral thoracic radiograph measured by an AI model; not for diagnostic use",
        author=clean(report.clinic) or "medimg-platform",
        creator="medimg-platform VHS report",
    )
    floor = _footer(pdf, report, generated)
    top = _header(pdf, report, generated)
    top = _patient_panel(pdf, report, top - 12)
    top = _measurement(pdf, report, image, top - 14)
    _history(pdf, report, top - 14, floor + 12)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _date(moment: datetime.datetime) -> str:
    return utc(moment).strftime("%Y-%m-%d")


def _header(pdf: Canvas, report: VhsReportInput, generated: datetime.datetime) -> float:
    pdf.setFillColor(NAVY)
    pdf.rect(0, PAGE_HEIGHT - 6, PAGE_WIDTH, 6, stroke=0, fill=1)
    top = PAGE_HEIGHT - 28
    left_width = CONTENT_WIDTH - 190
    clinic = clean(report.clinic) or "Clinic not configured"
    split = letterhead(clinic, left_width)
    if split is None:
        for index, line in enumerate(wrap(clinic, BOLD, 12.5, left_width, 2)):
            draw_text(pdf, MARGIN, top - 10 - index * 14, line, BOLD, 12.5, NAVY)
    else:
        name, size, department = split
        draw_text(pdf, MARGIN, top - 15, name, BOLD, size, NAVY)
        second = department or "Veterinary cardiology · AI-assisted VHS measurement"
        ink = NAVY if department else MUTED
        draw_text(pdf, MARGIN, top - 31, second, REGULAR, 10.5, ink, left_width)
    right = PAGE_WIDTH - MARGIN
    draw_text(pdf, right, top - 11, "VHS / VLAS AI REPORT", BOLD, 10, NAVY, align="right")
    patient = clean(report.uuid) or NOT_RECORDED
    draw_text(pdf, right, top - 25, f"Patient {patient}", REGULAR, 8, MUTED, 180, "right")
    when = generated.strftime("%Y-%m-%d %H:%M UTC")
    draw_text(pdf, right, top - 37, f"Generated {when}", REGULAR, 8, MUTED, align="right")
    bottom = top - 48
    pdf.setStrokeColor(NAVY)
    pdf.setLineWidth(1.2)
    pdf.line(MARGIN, bottom, PAGE_WIDTH - MARGIN, bottom)
    return bottom


def _patient_panel(pdf: Canvas, report: VhsReportInput, top: float) -> float:
    height = 44.0
    pdf.setFillColor(PANEL)
    pdf.setStrokeColor(RULE)
    pdf.setLineWidth(0.6)
    pdf.roundRect(MARGIN, top - height, CONTENT_WIDTH, height, 4, stroke=1, fill=1)
    x0, inner = MARGIN + 12, CONTENT_WIDTH - 24
    columns = [
        (0.0, 0.29, "Patient", clean(report.uuid)),
        (0.30, 0.13, "Measured", _date(report.measured_at)),
        (0.44, 0.14, "Measurement", str(report.measurement_id)),
    ]
    for start, share, label, value in columns:
        draw_field(pdf, x0 + inner * start, top - 6, inner * share, label, value)
    x, width = x0 + inner * 0.59, inner * 0.41
    draw_text(pdf, x, top - 13, "RESULT", BOLD, 6.5, MUTED)
    lines = wrap(clean(report.result_description) or NOT_RECORDED, REGULAR, 8.5, width, 2)
    for index, line in enumerate(lines):
        draw_text(pdf, x, top - 25 - index * 10, line, REGULAR, 8.5, INK)
    return top - height


def _measurement(pdf: Canvas, report: VhsReportInput, image, top: float) -> float:
    """The radiograph on the left, the values on the right; gives back the bottom."""
    height = 300.0
    image_width = CONTENT_WIDTH * 0.56
    image_panel(pdf, image, MARGIN, top, image_width, height)
    note = clean(report.image_note)
    draw_text(pdf, MARGIN, top - height - 11, note, ITALIC, 7, MUTED, image_width)

    x = MARGIN + image_width + 16
    width = MARGIN + CONTENT_WIDTH - x
    correction = report.correction
    y = _value_card(
        pdf,
        x,
        top,
        width,
        "VHS",
        "Vertebral heart score",
        report.vhs,
        correction.vhs if correction else None,
        VHS_SCALE,
        VHS_NORMAL,
        f"normal {VHS_NORMAL[0]}-{VHS_NORMAL[1]} (dogs)",
    )
    y = _value_card(
        pdf,
        x,
        y - 10,
        width,
        "VLAS",
        "Vertebral left atrial size",
        report.vlas,
        correction.vlas if correction else None,
        VLAS_SCALE,
        (VLAS_SCALE[0], VLAS_NORMAL_MAX),
        f"normal < {VLAS_NORMAL_MAX}",
    )
    confidence = clean(report.confidence) or "review"
    ink = CONFIDENCE_COLOURS.get(confidence, MUTED)
    draw_text(pdf, x, y - 16, "AI CONFIDENCE", BOLD, 6.5, MUTED)
    label = confidence.upper()
    badge = pdf.stringWidth(label, BOLD, 8) + 12
    pdf.setFillColor(ink)
    pdf.roundRect(x, y - 34, badge, 13, 3, stroke=0, fill=1)
    draw_text(pdf, x + badge / 2, y - 30, label, BOLD, 8, white, align="centre")
    explain = "agreement of the 5 landmark networks"
    draw_text(pdf, x + badge + 8, y - 30, explain, REGULAR, 7, MUTED, width - badge - 8)
    if correction is not None:
        by = clean(correction.corrected_by) or "staff"
        text = f"Landmarks corrected by {by} on {_date(correction.corrected_at)}; the image shows "
        text += "the corrected points. AI values are kept beside them."
        for index, line in enumerate(wrap(text, REGULAR, 7.5, width, 3)):
            draw_text(pdf, x, y - 50 - index * 9.5, line, REGULAR, 7.5, CORRECTED)
    return top - height - 14


def _value_card(
    pdf: Canvas,
    x: float,
    top: float,
    width: float,
    name: str,
    title: str,
    ai: float | None,
    corrected: float | None,
    scale: tuple[float, float],
    normal: tuple[float, float],
    normal_text: str,
) -> float:
    height = 92.0
    pdf.setFillColor(PANEL)
    pdf.setStrokeColor(RULE)
    pdf.setLineWidth(0.6)
    pdf.roundRect(x, top - height, width, height, 4, stroke=1, fill=1)
    pad = 10
    draw_text(pdf, x + pad, top - 14, f"{name} · {title}".upper(), BOLD, 6.5, MUTED, width - 20)
    shown = corrected if corrected is not None else ai
    if shown is None:
        draw_text(pdf, x + pad, top - 40, "not measured", ITALIC, 12, MUTED)
    else:
        ink = NORMAL_INK if normal[0] <= shown <= normal[1] else HIGH_INK
        draw_text(pdf, x + pad, top - 42, f"{shown:.1f}", BOLD, 22, ink)
        label = "corrected" if corrected is not None else "AI"
        label_x = x + pad + pdf.stringWidth(f"{shown:.1f}", BOLD, 22) + 8
        draw_text(pdf, label_x, top - 32, label, BOLD, 7.5, INK)
        if corrected is not None:
            ai_text = "AI not measured" if ai is None else f"AI {ai:.1f} ({corrected - ai:+.1f})"
            draw_text(pdf, label_x, top - 43, ai_text, REGULAR, 7.5, MUTED, x + width - label_x)
        else:
            draw_text(pdf, label_x, top - 43, "as measured", REGULAR, 7.5, MUTED)
    # the scale: its track, the normal range, a tick per whole number, the value(s)
    left, right = x + pad, x + width - pad
    bar_y = top - 64

    def at(value: float) -> float:
        clipped = min(max(value, scale[0]), scale[1])
        return left + (right - left) * (clipped - scale[0]) / (scale[1] - scale[0])

    pdf.setFillColor(TRACK)
    pdf.rect(left, bar_y, right - left, 6, stroke=0, fill=1)
    pdf.setFillColor(NORMAL_TINT)
    pdf.rect(at(normal[0]), bar_y, at(normal[1]) - at(normal[0]), 6, stroke=0, fill=1)
    pdf.setStrokeColor(NORMAL_INK)
    pdf.setLineWidth(0.6)
    pdf.rect(at(normal[0]), bar_y, at(normal[1]) - at(normal[0]), 6, stroke=1, fill=0)
    step = 1.0 if scale[1] - scale[0] > 4 else 0.5
    tick = scale[0]
    while tick <= scale[1] + 1e-9:
        draw_text(pdf, at(tick), bar_y - 9, f"{tick:g}", REGULAR, 6, MUTED, align="centre")
        tick += step
    for value, colour in ((ai, NAVY), (corrected, CORRECTED)):
        if value is not None:
            pdf.setFillColor(colour)
            pdf.setStrokeColor(white)
            pdf.setLineWidth(0.8)
            pdf.circle(at(value), bar_y + 3, 4, stroke=1, fill=1)
    draw_text(pdf, left, top - height + 6, normal_text, REGULAR, 6.5, MUTED, width - 20)
    return top - height


def _history(pdf: Canvas, report: VhsReportInput, top: float, floor: float) -> None:
    draw_text(pdf, MARGIN, top - 10, "History", BOLD, 11, NAVY)
    points = sorted(report.history, key=lambda p: p.measured_at)
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


def _footer(pdf: Canvas, report: VhsReportInput, generated: datetime.datetime) -> float:
    width = CONTENT_WIDTH - 24
    disclaimer = clean(report.disclaimer) or (
        "AI output for decision support only: every result must be reviewed by a qualified "
        "veterinarian."
    )
    lines = wrap(disclaimer, REGULAR, 7.5, width, 3)
    notice_top = notice(pdf, "NOT FOR DIAGNOSTIC USE", lines, MARGIN + 12)
    top = notice_top + 36
    half = CONTENT_WIDTH / 2
    pdf.setStrokeColor(RULE)
    pdf.setLineWidth(0.6)
    pdf.line(MARGIN, top, PAGE_WIDTH - MARGIN, top)
    draw_field(pdf, MARGIN, top - 6, half - 10, "Model version", clean(report.model_version))
    when = generated.strftime("%Y-%m-%d %H:%M:%S UTC")
    draw_field(pdf, MARGIN + half, top - 6, half, "Report generated", when)
    draw_text(pdf, PAGE_WIDTH - MARGIN, MARGIN, "Page 1 of 1", REGULAR, 6.5, MUTED, align="right")
    return top
