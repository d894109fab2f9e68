"""What every product's PDF report shares: fonts, safe text, layout helpers, pictures, and a
canvas whose bytes are reproducible.

A report module (``inference.products.cxr.report``, ``inference.products.vhs.report``) draws
its own sections with these:

- Every text is real text in Bitstream Vera, the TrueType family that ships inside ReportLab
  (embedded as subsets with a ToUnicode map), so a report is searchable, its text can be
  extracted, and it looks the same in every viewer.  ``clean`` makes any value one line the
  fonts can draw: control characters become spaces, a letter Vera lacks is reduced to its base
  letter where Unicode decomposes it, otherwise ``?``.
- ``fit`` shortens a text with an ellipsis to its box and ``wrap`` word-wraps it to a number
  of lines, so a fixed layout stays one page whatever the input.
- ``new_canvas`` is ReportLab's invariant mode with the PDF's dates taken from the report's
  generation time: the same input gives the same bytes (ReportLab seeds the file's ID from
  ``SOURCE_DATE_EPOCH`` where that is set: the same environment, the same bytes).
- ``picture`` resamples an image to at most ``IMAGE_MAX_SIDE`` pixels on its longer side
  (about 270 dpi as printed) and embeds it as JPEG at ``JPEG_QUALITY``, deterministically.
  The JPEG goes into the PDF as it is (``JpegPicture``): ReportLab's own ``ImageReader``
  decodes every picture again just to name it, and those pixel buffers, about 2.7 MB a
  picture, were what made a worker drawing reports grow (``docs/reliability.md``, item 13).
"""

from __future__ import annotations

import datetime
import io
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import reportlab
from PIL import Image, UnidentifiedImageError
from reportlab import rl_config
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

# Binary streams as they are (ReportLab's default wraps every stream in ASCII85, +25 %).
rl_config.useA85 = 0

#: The longer side, in pixels, an embedded image is resampled to at most (about 270 dpi as
#: printed), and the JPEG quality it is embedded at (4:4:4, no chroma subsampling).
IMAGE_MAX_SIDE = 960
JPEG_QUALITY = 90

#: The Vera faces as registered.  The names are the ones the chest X-ray report embedded
#: first, kept so that its bytes did not change when these helpers moved here.
REGULAR, BOLD, ITALIC = "CxrVera", "CxrVera-Bold", "CxrVera-Italic"
_FONT_FILES = {REGULAR: "Vera.ttf", BOLD: "VeraBd.ttf", ITALIC: "VeraIt.ttf"}

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 36.0
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN

NAVY = HexColor("#1F3A5F")
INK = HexColor("#1C2430")
MUTED = HexColor("#5F6B7A")
RULE = HexColor("#D5DBE3")
PANEL = HexColor("#F4F6F9")
IMAGE_GROUND = HexColor("#0B0F14")
NOTICE = HexColor("#9F1239")
NOTICE_TINT = HexColor("#FDF2F4")
NOT_RECORDED = "Not recorded"


def new_canvas(
    buffer: BinaryIO,
    *,
    generated: datetime.datetime,
    title: str,
    subject: str,
    author: str,
    creator: str,
) -> Canvas:
    """An A4 canvas whose output depends only on what is drawn and ``generated`` (UTC)."""
    register_fonts()
    pdf = Canvas(
        buffer, pagesize=A4, invariant=1, pageCompression=1, initialFontName=REGULAR, lang="en"
    )
    stamp = utc(generated).strftime("D:%Y%m%d%H%M%S+00'00'")
    pdf.setDateFormatter(lambda *_: stamp)
    pdf.setTitle(title)
    pdf.setSubject(subject)
    pdf.setAuthor(author)
    pdf.setCreator(creator)
    return pdf


def image_panel(
    pdf: Canvas, image: JpegPicture, x: float, top: float, width: float, height: float
) -> tuple[float, float, float, float]:
    """``image`` centred in a dark box, aspect kept; the drawn ``(x, y, width, height)``."""
    bottom = top - height
    pdf.setFillColor(IMAGE_GROUND)
    pdf.rect(x, bottom, width, height, stroke=0, fill=1)
    pixels_wide, pixels_high = image.getSize()
    scale = min(width / pixels_wide, height / pixels_high)
    drawn_width, drawn_height = pixels_wide * scale, pixels_high * scale
    left, low = x + (width - drawn_width) / 2, bottom + (height - drawn_height) / 2
    pdf.drawImage(image, left, low, drawn_width, drawn_height)
    return left, low, drawn_width, drawn_height


def rounded_box(
    pdf: Canvas,
    x: float,
    y: float,
    width: float,
    height: float,
    *,
    fill: Color = PANEL,
    stroke: Color = RULE,
    line_width: float = 0.6,
) -> None:
    """The reports' panel: a filled, outlined rectangle with 4-point corners from ``(x, y)``."""
    pdf.setFillColor(fill)
    pdf.setStrokeColor(stroke)
    pdf.setLineWidth(line_width)
    pdf.roundRect(x, y, width, height, 4, stroke=1, fill=1)


def notice(pdf: Canvas, heading: str, lines: list[str], bottom: float) -> float:
    """The not-for-diagnosis box from ``bottom`` up; gives back its top."""
    x = MARGIN + 12
    height = 25 + len(lines) * 9.5
    top = bottom + height
    rounded_box(
        pdf, MARGIN, bottom, CONTENT_WIDTH, height, fill=NOTICE_TINT, stroke=NOTICE, line_width=0.8
    )
    draw_text(pdf, x, top - 13, heading, BOLD, 8.5, NOTICE)
    for index, line in enumerate(lines):
        draw_text(pdf, x, top - 25 - index * 9.5, line, REGULAR, 7.5, INK)
    return top


# --- Text -----------------------------------------------------------------------------------------


@cache
def register_fonts() -> frozenset[int]:
    """Register the Vera faces once; the code points all of them can draw."""
    folder = Path(reportlab.__file__).parent / "fonts"
    covered: frozenset[int] | None = None
    for name, file in _FONT_FILES.items():
        font = TTFont(name, str(folder / file))
        pdfmetrics.registerFont(font)
        points = frozenset(font.face.charToGlyph)
        covered = points if covered is None else covered & points
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=ITALIC)
    return covered or frozenset()


def clean(value: Any) -> str:
    """``value`` as one line the fonts can draw: controls are spaces, unknown letters ``?``."""
    covered = register_fonts()
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp", "Zs"):
            out.append(" ")
        elif category.startswith("C"):  # format, surrogate, private use, unassigned
            continue
        elif ord(char) in covered:
            out.append(char)
        else:
            base = [
                c
                for c in unicodedata.normalize("NFKD", char)
                if ord(c) in covered and not unicodedata.combining(c)
            ]
            out.append("".join(base) if base else "?")
    return re.sub(r"\s+", " ", "".join(out)).strip()


def text_width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size)


def fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` shortened with an ellipsis until it fits ``width``."""
    if text_width(text, font, size) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + "…", font, size) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"


def wrap(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap; a word wider than a line is broken; the last line may be shortened."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        while text_width(word, font, size) > width:  # hard-break an unbreakable run
            cut = len(fit(word, font, size, width)) - 1 or 1
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, font, size) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], fit(lines[max_lines - 1] + " …", font, size, width)]
    return lines


def draw_text(
    pdf: Canvas,
    x: float,
    y: float,
    text: str,
    font: str = REGULAR,
    size: float = 9.0,
    colour: Color = INK,
    width: float | None = None,
    align: str = "left",
) -> None:
    if width is not None:
        text = fit(text, font, size, width)
    pdf.setFont(font, size)
    pdf.setFillColor(colour)
    if align == "right":
        pdf.drawRightString(x, y, text)
    elif align == "centre":
        pdf.drawCentredString(x, y, text)
    else:
        pdf.drawString(x, y, text)


def utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def picture(data: bytes, field: str) -> ImageReader:
    """The image as an 8-bit grey or RGB JPEG (transparency over black), sized for the page."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
        raise ValueError(f"{field} is not a readable image") from error
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        scale = 65535.0 if values.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.clip(values / scale * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "PA", "RGBA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        ground = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(ground, rgba).convert("RGB")
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if image.mode == "RGB":
        pixels = np.asarray(image)
        if np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(
            pixels[..., 0], pixels[..., 2]
        ):
            image = image.convert("L")
    longer = max(image.size)
    if longer > IMAGE_MAX_SIDE:
        scale = IMAGE_MAX_SIDE / longer
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    encoded = io.BytesIO()
    image.save(encoded, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    return JpegPicture(encoded.getvalue(), image.size)


class JpegPicture(ImageReader):
    """A JPEG that ``Canvas.drawImage`` embeds without decoding it.

    ReportLab names each drawn ``ImageReader`` by a digest of its decoded pixels
    (``getRGBData``) and then, for a JPEG, embeds the file's own bytes (``jpeg_fh``,
    ``DCTDecode``).  The decode served only the name; here the name is a digest of the JPEG
    bytes, which identify the picture as well, and the pixels are never decoded.
    """

    def __init__(self, jpeg: bytes, size: tuple[int, int]) -> None:
        # ImageReader.__init__ would open the image with Pillow; set its fields directly.
        self._ident = None
        self.fileName = f"jpeg-{len(jpeg)}"
        self.fp = io.BytesIO(jpeg)
        self._image = None
        self._width, self._height = size
        self._transparent = None
        self._data = jpeg
        self._dataA = None
        self.mode = "JPEG"

    def getRGBData(self) -> bytes:
        """What ``drawImage`` digests to name the picture: the JPEG's bytes, not its pixels."""
        return self._data

    def jpeg_fh(self) -> BinaryIO:
        self.fp.seek(0)
        return self.fp


def letterhead(institution: str, width: float) -> tuple[str, float, str] | None:
    """``(name, size, department)`` when the name fits one line (``Hospital · Radiology``:
    the part after the first separator goes under it, never one inside parentheses), None when
    it must wrap."""
    for size in (17.0, 16.0, 15.0, 14.0):
        if text_width(institution, BOLD, size) <= width:
            return institution, size, ""
    for separator in (" · ", " | ", " \u2013 ", " — ", " - ", ", "):
        head, found, tail = institution.partition(separator)
        if found and head.strip() and tail.strip() and head.count("(") == head.count(")"):
            for size in (17.0, 16.0, 15.0, 14.0):
                if text_width(head, BOLD, size) <= width:
                    return head.strip(), size, tail.strip()
    return None


def page_header(
    pdf: Canvas,
    *,
    organisation: str,
    default_department: str,
    title: str,
    patient: str,
    generated: datetime.datetime,
    right_width: float,
) -> float:
    """The band and letterhead every report opens with: the organisation (one line with its
    department under it, or wrapped on two), and on the right the report's ``title``, the
    ``patient`` line and the generation time, over a rule; the rule's height."""
    pdf.setFillColor(NAVY)
    pdf.rect(0, PAGE_HEIGHT - 6, PAGE_WIDTH, 6, stroke=0, fill=1)
    top = PAGE_HEIGHT - 28
    left_width = CONTENT_WIDTH - right_width
    split = letterhead(organisation, left_width)
    if split is None:  # two lines, the second shortened if need be
        for index, line in enumerate(wrap(organisation, BOLD, 12.5, left_width, 2)):
            draw_text(pdf, MARGIN, top - 10 - index * 14, line, BOLD, 12.5, NAVY)
    else:
        name, size, department = split
        draw_text(pdf, MARGIN, top - 15, name, BOLD, size, NAVY)
        second = department or default_department
        draw_text(
            pdf, MARGIN, top - 31, second, REGULAR, 10.5, NAVY if department else MUTED, left_width
        )
    right = PAGE_WIDTH - MARGIN
    draw_text(pdf, right, top - 11, title, BOLD, 10, NAVY, align="right")
    draw_text(pdf, right, top - 25, patient, REGULAR, 8, MUTED, right_width - 10, "right")
    when = generated.strftime("%Y-%m-%d %H:%M UTC")
    draw_text(pdf, right, top - 37, f"Generated {when}", REGULAR, 8, MUTED, align="right")
    bottom = top - 48
    pdf.setStrokeColor(NAVY)
    pdf.setLineWidth(1.2)
    pdf.line(MARGIN, bottom, PAGE_WIDTH - MARGIN, bottom)
    return bottom


def draw_field(pdf: Canvas, x: float, y: float, width: float, label: str, value: str) -> None:
    """A label over its value; an empty value reads ``Not recorded``."""
    draw_text(pdf, x, y - 7, label.upper(), BOLD, 6.5, MUTED, width)
    if value:
        size = 9.5
        while size > 8.0 and text_width(value, REGULAR, size) > width:
            size -= 0.5
        draw_text(pdf, x, y - 19, value, REGULAR, size, INK, width)
    else:
        draw_text(pdf, x, y - 19, NOT_RECORDED, ITALIC, 9.5, MUTED, width)
