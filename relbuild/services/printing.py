"""Printable PDFs: the event poster and badge sheets.

Laid out by WeasyPrint from HTML templates (templates/print/): Pango and HarfBuzz shape every
script (Arabic joins and runs right to left, Devanagari reorders its vowel signs), fontconfig
falls back from Noto Sans to Noto Sans Arabic, Hebrew, Devanagari and CJK glyph by glyph, and
every font used is embedded as a subset. ReportLab could not do this: it embeds TrueType outlines
only, and Debian's Noto CJK fonts are CFF.
"""
from __future__ import annotations

import base64
import unicodedata
from functools import lru_cache

from flask import render_template

from .badges import format_short_code, qr_matrix, qr_png
from .errors import RelbuildError
from ..i18n import gettext as _

PAGE_SIZES = {"a4": "A4", "letter": "letter"}
BADGE_QR_MM = 31  # the code itself, quiet zone not counted: arm's-length scanning off a chest
POSTER_QR_MM = 100  # the code itself: readable from a few metres away
PER_PAGE = 8  # two columns of four, with cut marks


def page_size(name: str) -> str:
    try:
        return PAGE_SIZES[(name or "a4").lower()]
    except KeyError:
        raise RelbuildError("bad_size", _("Choose A4 or Letter."), status=404)


@lru_cache(maxsize=4096)
def qr_image(data: str) -> str:
    """The QR code as a PNG data URI, one pixel a module, quiet zone included; drawn unsmoothed in print."""
    return "data:image/png;base64," + base64.b64encode(qr_png(data, scale=1)).decode()


def qr_box_mm(data: str, symbol_mm: float) -> float:
    """Width of the QR image, quiet zone included, that makes the code itself `symbol_mm` wide."""
    modules = len(qr_matrix(data))
    return round(symbol_mm * modules / (modules - 8), 2)


def text_direction(text: str) -> str:
    """'rtl' when the first letter with a direction is Arabic or Hebrew (the Unicode bidi rule P2)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def text_language(text: str) -> str | None:
    """A language hint for CJK names, so Han characters take Japanese or Korean shapes when the name says so."""
    names = " ".join(unicodedata.name(char, "") for char in text)
    if "HIRAGANA" in names or "KATAKANA" in names:
        return "ja"
    if "HANGUL" in names:
        return "ko"
    if "CJK" in names:
        return "zh"
    return None


def _ems(text: str) -> float:
    # A rough width in ems: wide (CJK) characters take a full em, others a little over half.
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.64 for c in text)


def fitting_size(text: str, width_pt: float, lines: int, largest: int, smallest: int) -> int:
    """The largest type size (pt) at which `text` should fill no more than `lines` lines of `width_pt`."""
    ems, longest = _ems(text), max(map(_ems, text.split() or [""]))
    for size in range(largest, smallest, -1):
        if ems * size <= lines * width_pt * 0.85 and longest * size <= width_pt:
            return size
    return smallest


def _pdf(html: str) -> bytes:
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except OSError as error:  # Pango missing: say so instead of failing every print with a 500
        raise RelbuildError("printing_unavailable",
                            _("Printing needs the Pango library on the server (apt-get install libpango-1.0-0)."),
                            status=503) from error
    # Everything printed is in the page (QR codes are data: URLs): never read a file or the network.
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()


def poster(*, name: str, venue: str, when: str, join_url: str, code: str, size: str) -> bytes:
    """A one-page poster: the event's name, a large QR of its join link, the code and the link to type."""
    return _pdf(render_template(
        "print/poster.html", page=page_size(size), name=name, venue=venue, when=when, join_url=join_url,
        code=format_short_code(code), qr=qr_image(join_url), qr_mm=qr_box_mm(join_url, POSTER_QR_MM),
        name_pt=fitting_size(name, 480, 2, 40, 22), dir=text_direction(name), lang=text_language(name)))


def badge_sheet(badges: list[tuple[str, str, str, str]], *, event_name: str, size: str) -> bytes:
    """Badges of (name, headline, badge link, short code), eight a page in the order given, with cut marks."""
    page = page_size(size)
    cards = []
    for name, headline, link, code in badges:
        cards.append({"name": name, "headline": headline, "qr": qr_image(link), "qr_mm": qr_box_mm(link, BADGE_QR_MM),
                      "code": format_short_code(code), "name_pt": fitting_size(name, 130, 2, 22, 12),
                      "dir": text_direction(name), "lang": text_language(name),
                      "headline_dir": text_direction(headline)})
    sheets = [cards[first:first + PER_PAGE] for first in range(0, len(cards), PER_PAGE)] or [[]]
    return _pdf(render_template("print/badges.html", page=page, sheets=sheets, event_name=event_name,
                                event_dir=text_direction(event_name)))
