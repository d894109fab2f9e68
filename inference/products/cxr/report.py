"""The chest X-ray product's PDF report: one A4 page a clinic can file.

``render_report(ReportInput(...))`` gives the PDF's bytes.  The page shows, top to bottom:
the institution (a deployment setting, passed in), the patient and study metadata, the overall
result in a coloured banner, the source image and the heatmap side by side (aspect kept), the
findings table (confidence bars, present findings highlighted), then the model version, the
generation time and the not-for-diagnosis notice.

Why it is built this way (fonts, safe text, the reproducible canvas and the pictures are the
platform's, shared with the VHS report: ``inference.imaging.pdf``):

- Every text is real text in Bitstream Vera, the TrueType family that ships inside ReportLab
  (embedded as subsets with a ToUnicode map), so the report is searchable and its text can be
  extracted, and it looks the same in every viewer.  Vera covers Latin-1 and the common
  central European and Turkish letters; any other character is reduced to its base letter
  where Unicode decomposes it, otherwise shown as ``?`` (a CJK name therefore shows as
  ``?``: the patient id identifies the study).  Control characters become spaces.
- The layout is fixed: every field has its box, and text too long for it is shortened with
  an ellipsis (wrapped first where there is room for more lines), so the report is one page
  whatever the input.
- The output is reproducible: ReportLab's invariant mode, the PDF's creation date taken from
  ``generated_at``, images resampled and encoded deterministically, so the same input gives
  the same bytes (ReportLab seeds the file's ID from ``SOURCE_DATE_EPOCH`` where that is set:
  the same environment, the same bytes).
- Images are resampled to at most ``IMAGE_MAX_SIDE`` pixels on their longer side (about
  270 dpi as printed) and embedded as JPEG at ``JPEG_QUALITY``: a report with a noisy
  radiograph and its heatmap is about 430 KB so, 1.4 MB with them embedded losslessly.  The
  report's pictures show what was analysed; the study itself stays the reference.
"""

from __future__ import annotations

import datetime
import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reportlab.lib.colors import Color, HexColor, white
from reportlab.pdfgen.canvas import Canvas

from inference.imaging.pdf import (
    BOLD,
    CONTENT_WIDTH,
    IMAGE_MAX_SIDE,
    INK,
    ITALIC,
    MARGIN,
    MUTED,
    NAVY,
    NOT_RECORDED,
    PAGE_WIDTH,
    PANEL,
    REGULAR,
    RULE,
    JpegPicture,
    clean,
    draw_field,
    draw_text,
    image_panel,
    new_canvas,
    notice,
    page_header,
    picture,
    rounded_box,
    text_width,
    utc,
    wrap,
)

__all__ = ["IMAGE_MAX_SIDE", "ReportInput", "display_name", "render_report"]

PRESENT = HexColor("#C2410C")
PRESENT_TINT = HexColor("#FFF1E6")
ABSENT_BAR = HexColor("#A7B1BD")
BAR_TRACK = HexColor("#E7EBF0")

#: The banner's colours (text, tint) per overall result; any other result is shown in navy.
RESULT_COLOURS: dict[str, tuple[Color, Color]] = {
    "Normal": (HexColor("#1E7B45"), HexColor("#E9F6EE")),
    "Abnormal": (HexColor("#B45309"), HexColor("#FEF4E6")),
    "TB Presumptive": (HexColor("#B3261E"), HexColor("#FCECEA")),
}
#: Findings table rows: their height, shrunk down to the minimum before rows are left out.
ROW_MAX, ROW_MIN = 14.0, 9.0
DISCLAIMER_LINES = 5
NO_FINDING = "No finding above threshold"
SEXES = {"M": "Male", "F": "Female", "O": "Other"}
AGE_UNITS = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}


@dataclass(frozen=True)
class ReportInput:
    """What one report shows; strings as the API and the DICOM header give them.

    ``findings`` are dicts ``{"name", "presence", "confidence"}`` (confidence a probability,
    0..1) in the product's order; empty for a Normal study.  ``heatmap_png`` is None when
    there is no heatmap (a Normal study).  ``generated_at`` is UTC (a naive one is taken as
    UTC).  ``study_date`` is a DICOM date (YYYYMMDD) or empty; ``age`` a DICOM age string
    (``045Y``) or any text; ``sex`` ``M``, ``F``, ``O`` or any text.
    """

    institution: str
    patient_id: str
    patient_name: str
    age: str
    sex: str
    sop_instance_uid: str
    study_date: str
    study_instance_uid: str
    result: str
    findings: list[dict[str, Any]]
    source_png: bytes
    heatmap_png: bytes | None
    model_version: str
    generated_at: datetime.datetime
    disclaimer: str


@dataclass(frozen=True)
class _Finding:
    name: str
    present: bool
    confidence: float


def render_report(report: ReportInput) -> bytes:
    """The one-page A4 PDF report; the same input always gives the same bytes."""
    findings = _findings(report.findings)
    source = picture(report.source_png, "source_png")
    heatmap = None if report.heatmap_png is None else picture(report.heatmap_png, "heatmap_png")
    generated = utc(report.generated_at)

    buffer = io.BytesIO()
    pdf = new_canvas(
        buffer,
        generated=generated,
        title="Chest X-ray AI analysis report",
        subject="Chest radiograph analysed by an AI model; not for diagnostic use",
        author=clean(report.institution) or "medimg-platform",
        creator="medimg-platform chest X-ray report",
    )

    floor = _footer(pdf, report, generated)  # anchored to the bottom margin
    top = _header(pdf, report, generated)
    top = _patient_panel(pdf, report, top - 12)
    top = _result_banner(pdf, report.result, findings, top - 10)
    top = _images(pdf, source, heatmap, top - 12)
    _findings_table(pdf, findings, top - 12, floor + 10)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


# --- Text ------------------------------------------------------------------------------------


def display_name(raw: str) -> str:
    """A DICOM person name (``DOE^JOHN^A^DR^JR``) as people write it: ``DOE, DR JOHN A, JR``.

    Of the ``=``-separated groups (alphabetic, ideographic, phonetic) the first non-empty one
    is shown; components past the fifth are kept with the suffix.
    """
    group = next((g for g in str(raw).split("=") if g.replace("^", "").strip()), "")
    parts = [part.strip() for part in group.split("^")]
    parts += [""] * (5 - len(parts))
    family, given, middle, prefix = parts[:4]
    suffix = " ".join(part for part in parts[4:] if part)
    first = " ".join(part for part in (prefix, given, middle) if part)
    return ", ".join(part for part in (family, first, suffix) if part)


def _age(raw: str) -> str:
    text = clean(raw)
    match = re.fullmatch(r"(\d{3})([DWMY])", text)
    if not match:
        return text
    number, unit = int(match.group(1)), AGE_UNITS[match.group(2)]
    return f"{number} {unit[:-1] if number == 1 else unit}"


def _sex(raw: str) -> str:
    text = clean(raw)
    return SEXES.get(text.upper(), text)


def _date(raw: str) -> str:
    text = clean(raw)
    try:
        return datetime.datetime.strptime(text, "%Y%m%d").date().isoformat()
    except ValueError:
        return text


# --- Inputs ----------------------------------------------------------------------------------


def _findings(raw: Iterable[dict[str, Any]]) -> list[_Finding]:
    findings = []
    for item in raw:
        confidence = float(item["confidence"])
        if not math.isfinite(confidence) or not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be a probability 0..1, got {item['confidence']!r}")
        findings.append(_Finding(clean(item["name"]), bool(item["presence"]), confidence))
    return findings


# --- Page sections (each takes the top y of its box and gives back its bottom) -----------------


def _header(pdf: Canvas, report: ReportInput, generated: datetime.datetime) -> float:
    return page_header(
        pdf,
        organisation=clean(report.institution) or "Institution not configured",
        default_department="Chest radiograph · AI-assisted analysis",
        title="CHEST X-RAY AI REPORT",
        patient=f"Patient ID {clean(report.patient_id) or NOT_RECORDED}",
        generated=generated,
        right_width=180,
    )


def _patient_panel(pdf: Canvas, report: ReportInput, top: float) -> float:
    height = 92.0
    rounded_box(pdf, MARGIN, top - height, CONTENT_WIDTH, height)
    x0, pad = MARGIN + 12, 12
    inner = CONTENT_WIDTH - 2 * pad
    columns = [x0, x0 + inner * 0.46, x0 + inner * 0.74, x0 + inner * 0.87]
    widths = [inner * 0.44, inner * 0.26, inner * 0.12, inner * 0.13]
    row = top - 10
    name = display_name(clean(report.patient_name))
    values = [name, clean(report.patient_id), _age(report.age), _sex(report.sex)]
    for x, width, label, value in zip(
        columns, widths, ("Patient name", "Patient ID", "Age", "Sex"), values, strict=True
    ):
        draw_field(pdf, x, row, width, label, value)
    row -= 27
    uid_x = x0 + inner * 0.22
    uid_width = x0 + inner - uid_x
    draw_field(pdf, x0, row, inner * 0.2, "Study date", _date(report.study_date))
    draw_field(pdf, uid_x, row, uid_width, "Study Instance UID", clean(report.study_instance_uid))
    row -= 27
    draw_field(pdf, x0, row, inner * 0.2, "Examination", "Chest X-ray")
    draw_field(pdf, uid_x, row, uid_width, "SOP Instance UID", clean(report.sop_instance_uid))
    return top - height


def _result_banner(pdf: Canvas, result: str, findings: list[_Finding], top: float) -> float:
    height = 46.0
    text = clean(result) or NOT_RECORDED
    ink, tint = RESULT_COLOURS.get(text, (NAVY, PANEL))
    rounded_box(
        pdf, MARGIN, top - height, CONTENT_WIDTH, height, fill=tint, stroke=ink, line_width=0.8
    )
    pdf.setFillColor(ink)
    pdf.rect(MARGIN, top - height, 6, height, stroke=0, fill=1)
    x = MARGIN + 18
    draw_text(pdf, x, top - 14, "OVERALL AI RESULT", BOLD, 7, MUTED)
    draw_text(pdf, x, top - 35, text, BOLD, 18, ink, CONTENT_WIDTH * 0.42)

    present = [f.name for f in findings if f.present]
    summary_x = MARGIN + CONTENT_WIDTH * 0.47
    summary_width = MARGIN + CONTENT_WIDTH - 14 - summary_x
    if present:
        count = f"{len(present)} finding{'s' if len(present) > 1 else ''} above threshold"
        draw_text(pdf, summary_x, top - 19, count, BOLD, 9.5, INK, summary_width)
        lines = wrap(", ".join(present), REGULAR, 8.5, summary_width, 2)
        for index, line in enumerate(lines):
            draw_text(pdf, summary_x, top - 31 - index * 10, line, REGULAR, 8.5, INK)
    else:
        draw_text(pdf, summary_x, top - 27, NO_FINDING, BOLD, 9.5, INK, summary_width)
    return top - height


def _image_panel(
    pdf: Canvas, image: JpegPicture | None, x: float, top: float, width: float, height: float
) -> None:
    bottom = top - height
    if image is None:
        pdf.setFillColor(PANEL)
        pdf.setStrokeColor(ABSENT_BAR)
        pdf.setLineWidth(0.8)
        pdf.setDash(4, 3)
        pdf.rect(x, bottom, width, height, stroke=1, fill=1)
        pdf.setDash()
        middle = x + width / 2
        draw_text(
            pdf, middle, bottom + height / 2 + 6, "No heatmap", BOLD, 10, MUTED, align="centre"
        )
        note = "No finding above threshold to localise"
        draw_text(
            pdf, middle, bottom + height / 2 - 9, note, REGULAR, 8, MUTED, width - 16, "centre"
        )
        return
    image_panel(pdf, image, x, top, width, height)


def _images(pdf: Canvas, source: JpegPicture, heatmap: JpegPicture | None, top: float) -> float:
    gap, height = 12.0, 228.0
    width = (CONTENT_WIDTH - gap) / 2
    captions = ("Source image", "Heatmap (class activation)")
    for index, (image, caption) in enumerate(zip((source, heatmap), captions, strict=True)):
        x = MARGIN + index * (width + gap)
        _image_panel(pdf, image, x, top, width, height)
        draw_text(pdf, x, top - height - 11, caption, BOLD, 8, INK, width)
    if heatmap is not None:
        note = (
            "The heatmap shows the image regions that weighed most in the model's findings; "
            "it is not a segmentation of the lesions."
        )
        draw_text(pdf, MARGIN, top - height - 23, note, ITALIC, 7, MUTED, CONTENT_WIDTH)
    return top - height - 26


def _findings_table(pdf: Canvas, findings: list[_Finding], top: float, floor: float) -> None:
    """The table from ``top`` down to ``floor`` at most: rows shrink, then are left out."""
    draw_text(pdf, MARGIN, top - 10, "Findings", BOLD, 11, NAVY)
    top -= 16
    header = 16.0
    name_x = MARGIN + 10
    bar_x, bar_width = MARGIN + CONTENT_WIDTH * 0.36, CONTENT_WIDTH * 0.30
    value_x = bar_x + bar_width + 44
    status_x = MARGIN + CONTENT_WIDTH - 10

    pdf.setFillColor(NAVY)
    pdf.rect(MARGIN, top - header, CONTENT_WIDTH, header, stroke=0, fill=1)
    for x, label, align in (
        (name_x, "FINDING", "left"),
        (bar_x, "CONFIDENCE", "left"),
        (status_x, "RESULT", "right"),
    ):
        draw_text(pdf, x, top - 11, label, BOLD, 7, white, align=align)
    top -= header

    if not findings:
        pdf.setFillColor(PANEL)
        pdf.rect(MARGIN, top - 30, CONTENT_WIDTH, 30, stroke=0, fill=1)
        draw_text(pdf, name_x, top - 19, NO_FINDING, BOLD, 9.5, INK)
        note = "Every finding scored below its threshold"
        draw_text(pdf, status_x, top - 19, note, ITALIC, 8, MUTED, align="right")
        return
    none_present = not any(f.present for f in findings)
    room = top - floor - (18 if none_present else 0)
    rows = findings
    if room / len(rows) < ROW_MIN:  # not the API's shape: keep the page, say what is left
        rows = findings[: max(1, int(room // ROW_MIN) - 1)]
    step = min(ROW_MAX, room / (len(rows) + (len(rows) < len(findings))))
    size = min(8.5, step - 3.5)
    for index, finding in enumerate(rows):
        y = top - (index + 1) * step
        baseline = y + (step - size) / 2 + 1
        if finding.present:
            pdf.setFillColor(PRESENT_TINT)
            pdf.rect(MARGIN, y, CONTENT_WIDTH, step, stroke=0, fill=1)
            pdf.setFillColor(PRESENT)
            pdf.rect(MARGIN, y, 3, step, stroke=0, fill=1)
        font = BOLD if finding.present else REGULAR
        draw_text(pdf, name_x, baseline, finding.name, font, size, INK, bar_x - name_x - 8)
        bar_height = min(5.0, step - 5)
        bar_y = y + (step - bar_height) / 2
        pdf.setFillColor(BAR_TRACK)
        pdf.rect(bar_x, bar_y, bar_width, bar_height, stroke=0, fill=1)
        pdf.setFillColor(PRESENT if finding.present else ABSENT_BAR)
        pdf.rect(bar_x, bar_y, bar_width * finding.confidence, bar_height, stroke=0, fill=1)
        percent = f"{finding.confidence * 100:.1f}%"
        draw_text(pdf, value_x, baseline, percent, font, size, INK, align="right")
        if finding.present:
            _badge(pdf, status_x, y + step / 2, "PRESENT", min(11.0, step - 2))
        else:
            draw_text(pdf, status_x, baseline, "Not present", REGULAR, size, MUTED, align="right")
        pdf.setStrokeColor(RULE)
        pdf.setLineWidth(0.4)
        pdf.line(MARGIN, y, MARGIN + CONTENT_WIDTH, y)
    bottom = top - len(rows) * step
    if len(rows) < len(findings):
        bottom -= step
        more = f"{len(findings) - len(rows)} more findings not shown"
        draw_text(pdf, name_x, bottom + (step - size) / 2 + 1, more, ITALIC, size, MUTED)
    if none_present:
        draw_text(pdf, name_x, bottom - 14, NO_FINDING, BOLD, 9.5, INK)


def _badge(pdf: Canvas, right: float, middle: float, label: str, height: float) -> None:
    width = text_width(label, BOLD, 6.5) + 10
    pdf.setFillColor(PRESENT)
    pdf.roundRect(right - width, middle - height / 2, width, height, 2.5, stroke=0, fill=1)
    draw_text(pdf, right - width / 2, middle - 2.3, label, BOLD, 6.5, white, align="centre")


def _footer(pdf: Canvas, report: ReportInput, generated: datetime.datetime) -> float:
    """Model version, generation time, the notice and the page line; gives back its top."""
    width = CONTENT_WIDTH - 24
    disclaimer = clean(report.disclaimer) or (
        "AI output for decision support only: every result must be reviewed by a qualified "
        "clinician."
    )
    lines = wrap(disclaimer, REGULAR, 7.5, width, DISCLAIMER_LINES)
    notice_top = notice(pdf, "NOT FOR DIAGNOSTIC USE", lines, MARGIN + 12)

    top = notice_top + 36
    half = CONTENT_WIDTH / 2
    pdf.setStrokeColor(RULE)
    pdf.setLineWidth(0.6)
    pdf.line(MARGIN, top, PAGE_WIDTH - MARGIN, top)
    draw_field(pdf, MARGIN, top - 6, half - 10, "Model version", clean(report.model_version))
    when = generated.strftime("%Y-%m-%d %H:%M:%S UTC")
    draw_field(pdf, MARGIN + half, top - 6, half, "Report generated", when)

    uid = clean(report.sop_instance_uid)
    draw_text(pdf, MARGIN, MARGIN, f"SOP Instance UID {uid}", REGULAR, 6.5, MUTED, half + 60)
    draw_text(pdf, PAGE_WIDTH - MARGIN, MARGIN, "Page 1 of 1", REGULAR, 6.5, MUTED, align="right")
    return top
