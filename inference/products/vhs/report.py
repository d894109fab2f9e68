"""The VHS product's PDF report: one A4 page for a patient's measurement (beyond the seed).

``render_report(VhsReportInput(...))`` gives the PDF's bytes.  Top to bottom: the clinic
letterhead, the patient and measurement panel, the rendered radiograph (landmarks, axes, the
vertebral scale) beside VHS and VLAS on scales with their normal ranges, the confidence and
any staff correction beside the AI value, the patient's history as two small charts (VHS and
VLAS over time, the normal range shaded, corrected values marked), then the model version,
the generation time and the not-for-diagnosis notice (the history charts: ``report_charts``).

Fonts, safe text, the reproducible canvas and the pictures are the platform's
(``inference.imaging.pdf``), shared with the chest X-ray report: every text is extractable,
too long a text is shortened to its box, and the same input gives the same bytes.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field

from reportlab.lib.colors import HexColor, white
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
    PAGE_WIDTH,
    REGULAR,
    RULE,
    clean,
    draw_field,
    draw_text,
    image_panel,
    new_canvas,
    notice,
    page_header,
    picture,
    rounded_box,
    utc,
    wrap,
)
from inference.products.vhs.report_charts import (
    CORRECTED,
    NORMAL_INK,
    NORMAL_TINT,
    VHS_NORMAL,
    VHS_SCALE,
    VLAS_NORMAL_MAX,
    VLAS_SCALE,
    HistoryPoint,
    history_section,
)

__all__ = ["HistoryPoint", "StaffCorrection", "VhsReportInput", "render_report"]

HIGH_INK = HexColor("#B45309")
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
    history_section(pdf, report.history, top - 14, floor + 12)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _date(moment: datetime.datetime) -> str:
    return utc(moment).strftime("%Y-%m-%d")


def _header(pdf: Canvas, report: VhsReportInput, generated: datetime.datetime) -> float:
    return page_header(
        pdf,
        organisation=clean(report.clinic) or "Clinic not configured",
        default_department="Veterinary cardiology · AI-assisted VHS measurement",
        title="VHS / VLAS AI REPORT",
        patient=f"Patient {clean(report.uuid) or NOT_RECORDED}",
        generated=generated,
        right_width=190,
    )


def _patient_panel(pdf: Canvas, report: VhsReportInput, top: float) -> float:
    height = 44.0
    rounded_box(pdf, MARGIN, top - height, CONTENT_WIDTH, height)
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
    rounded_box(pdf, x, top - height, width, height)
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
