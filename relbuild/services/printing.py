"""Printable PDFs: the event poster and badge sheets, QR codes drawn as vectors."""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.pathobject import PDFPathObject

from .badges import format_short_code, qr_runs
from .errors import RelbuildError

PAGE_SIZES = {"a4": A4, "letter": LETTER}
FONT_FILES = {"Relbuild": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
              "Relbuild-Bold": "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"}
COLUMNS, ROWS = 2, 4  # eight badges a page, about 90 x 60 mm each on A4 and Letter
MARGIN = 12 * mm


@lru_cache(maxsize=1)
def fonts() -> tuple[str, str]:
    """DejaVu when the system has it (names in any script), else the PDF base fonts (Latin only)."""
    if all(Path(path).exists() for path in FONT_FILES.values()):
        for name, path in FONT_FILES.items():
            pdfmetrics.registerFont(TTFont(name, path))
        return "Relbuild", "Relbuild-Bold"
    return "Helvetica", "Helvetica-Bold"


def page_size(name: str):
    try:
        return PAGE_SIZES[(name or "a4").lower()]
    except KeyError:
        raise RelbuildError("bad_size", "Choose A4 or Letter.", status=404)


@lru_cache(maxsize=4096)
def _qr_path(data: str) -> tuple[int, PDFPathObject]:
    """The dark modules of a QR code as one PDF path in module units (y up), cached per link.

    Building and formatting the path is most of a badge's cost; a sheet printed again reuses it.
    """
    size, runs = qr_runs(data)
    path = PDFPathObject()
    for x, y, length in runs:
        path.rect(x, size - y - 1, length, 1)
    path.getCode()
    return size, path


def draw_qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    """A QR code, quiet zone included, black on white, with its bottom-left corner at (x, y)."""
    modules, path = _qr_path(data)
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(size / modules, size / modules)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


def _fit(canvas: Canvas, text: str, font: str, largest: float, width: float, smallest: float = 9) -> float:
    size = largest
    while size > smallest and canvas.stringWidth(text, font, size) > width:
        size -= 1
    return size


def _clip(canvas: Canvas, text: str, font: str, size: float, width: float) -> str:
    if canvas.stringWidth(text, font, size) <= width:
        return text
    while text and canvas.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def poster(*, name: str, venue: str, when: str, join_url: str, code: str, size: str) -> bytes:
    """A one-page poster: the event's name, a large QR of its join link, and the code to type."""
    regular, bold = fonts()
    width, height = page_size(size)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(width, height), pageCompression=1)
    canvas.setTitle(f"{name} — join on Relbuild")
    usable = width - 2 * MARGIN
    title = _fit(canvas, name, bold, 40, usable, 18)
    canvas.setFont(bold, title)
    canvas.drawCentredString(width / 2, height - MARGIN - title, _clip(canvas, name, bold, title, usable))
    canvas.setFont(regular, 14)
    line = height - MARGIN - title - 34
    for text in (venue, when):
        if text:
            canvas.drawCentredString(width / 2, line, _clip(canvas, text, regular, 14, usable))
            line -= 20
    qr = min(usable, line - MARGIN - 120)
    draw_qr(canvas, join_url, (width - qr) / 2, line - 12 - qr, qr)
    canvas.setFont(bold, 22)
    canvas.drawCentredString(width / 2, line - qr - 48, "Scan to join, then scan each other's badges")
    canvas.setFont(regular, 14)
    canvas.drawCentredString(width / 2, line - qr - 74, f"or type the event code {format_short_code(code)}")
    canvas.setFont(regular, 11)
    canvas.drawCentredString(width / 2, line - qr - 94, _clip(canvas, join_url, regular, 11, usable))
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def badge_sheet(badges: list[tuple[str, str, str, str]], *, event_name: str, size: str) -> bytes:
    """Badges of (name, headline, badge link, short code), eight a page, with cut marks."""
    regular, bold = fonts()
    width, height = page_size(size)
    cell_w, cell_h = (width - 2 * MARGIN) / COLUMNS, (height - 2 * MARGIN) / ROWS
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(width, height), pageCompression=1)
    canvas.setTitle(f"{event_name} — badges")
    per_page = COLUMNS * ROWS
    for first in range(0, max(len(badges), 1), per_page):
        _cut_marks(canvas, width, height, cell_w, cell_h)
        for index, badge in enumerate(badges[first:first + per_page]):
            column, row = index % COLUMNS, index // COLUMNS
            x = MARGIN + column * cell_w
            y = height - MARGIN - (row + 1) * cell_h
            _badge(canvas, badge, x, y, cell_w, cell_h, regular, bold, event_name)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _wrap(canvas: Canvas, text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """Words on up to `max_lines` lines of `width`; the last line clipped with an ellipsis if needed."""
    lines: list[str] = []
    for word in text.split():
        if lines and canvas.stringWidth(f"{lines[-1]} {word}", font, size) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [" ".join(lines[max_lines - 1:])]
    return [_clip(canvas, line, font, size, width) for line in lines]


def _fits(canvas: Canvas, text: str, font: str, size: float, width: float, max_lines: int) -> bool:
    lines = _wrap(canvas, text, font, size, width, 99)
    return len(lines) <= max_lines and not any(line.endswith("…") for line in lines)


def _badge(canvas, badge, x, y, w, h, regular, bold, event_name) -> None:
    """Name large across the top, headline under it, QR bottom right, code and event bottom left."""
    name, headline, link, code = badge
    pad = 5 * mm
    qr = min(36 * mm, h - 2 * pad - 18 * mm)
    draw_qr(canvas, link, x + w - pad - qr, y + pad - 2 * mm, qr)
    canvas.setFillColorRGB(0, 0, 0)
    full = w - 2 * pad
    size = 24
    while size > 11 and not _fits(canvas, name, bold, size, full, 2):
        size -= 1
    top = y + h - pad - size * 0.8
    canvas.setFont(bold, size)
    for line in _wrap(canvas, name, bold, size, full, 2):
        canvas.drawString(x + pad, top, line)
        top -= size * 1.1
    beside_qr = w - 3 * pad - qr
    if headline:
        canvas.setFont(regular, 9)
        canvas.setFillColorRGB(0.25, 0.25, 0.25)
        for line in _wrap(canvas, headline, regular, 9, beside_qr, 3):
            top -= 1
            canvas.drawString(x + pad, top, line)
            top -= 11
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont(regular, 8)
    canvas.drawString(x + pad, y + pad + 12, _clip(canvas, event_name, regular, 8, beside_qr))
    canvas.setFont(bold, 10)
    canvas.drawString(x + pad, y + pad, f"Code {format_short_code(code)}")


def _cut_marks(canvas, width, height, cell_w, cell_h) -> None:
    """Short lines in the margins where the sheet is cut, clear of the badges themselves."""
    canvas.setLineWidth(0.4)
    canvas.setStrokeColorRGB(0.3, 0.3, 0.3)
    mark = 6 * mm
    for column in range(COLUMNS + 1):
        x = MARGIN + column * cell_w
        canvas.line(x, height - MARGIN + 2, x, height - MARGIN + 2 + mark)
        canvas.line(x, MARGIN - 2, x, MARGIN - 2 - mark)
    for row in range(ROWS + 1):
        y = MARGIN + row * cell_h
        canvas.line(MARGIN - 2, y, MARGIN - 2 - mark, y)
        canvas.line(width - MARGIN + 2, y, width - MARGIN + 2 + mark, y)
