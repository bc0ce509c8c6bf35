"""What a scanned QR code is, and reading one from a photo (the scanner's fallback)."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import RelbuildError
from ..i18n import gettext as _

MAX_PHOTO_PIXELS = 24_000_000  # a 24-megapixel photo; phone cameras take 12 unless set otherwise
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
DECODE_SIZE = 2000  # QR codes are read at most this many pixels wide and high

BADGE_PATH = re.compile(r"^/c/([A-Za-z0-9_-]{16,64})$")
EVENT_PATH = re.compile(r"^/e/([A-Za-z0-9_-]{4,64})$")


@dataclass(frozen=True)
class Scan:
    kind: str  # "badge", "event" or "other"
    path: str = ""
    text: str = ""


def classify(text: str, base_url: str) -> Scan:
    """A badge link or an event join link of this Relbuild, or something else."""
    parts = urlsplit(text.strip())
    base = urlsplit(base_url)
    if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
        for kind, pattern in (("badge", BADGE_PATH), ("event", EVENT_PATH)):
            if pattern.match(parts.path):
                return Scan(kind, parts.path, text)
    return Scan("other", text=text)


def decode_photo(data: bytes) -> list[str]:
    """The texts of the QR codes in a photo.

    The size is read from the file's header and checked before any pixel is decoded: a small
    file can claim a huge image (a 641 KB PNG of 13,000 x 13,000 pixels needs 500 MB decoded).
    JPEGs decode straight to a reduced greyscale image; other formats decode at full size, so at
    most MAX_PHOTO_PIXELS x 4 bytes.
    """
    import zxingcpp
    from PIL import Image, ImageOps

    try:
        image = Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)  # reads the header only
    except Image.DecompressionBombError:
        raise _too_large()
    except Exception:  # noqa: BLE001 -- Pillow's decoders raise many kinds (OSError, SyntaxError, struct.error …)
        raise RelbuildError("bad_image", _("That file is not a photo we can read. Try a JPEG or PNG."), "photo")
    if image.width * image.height > MAX_PHOTO_PIXELS:
        raise _too_large()
    try:
        image.draft("L", (DECODE_SIZE, DECODE_SIZE))  # JPEG only: decode at 1/2, 1/4 or 1/8 size, in grey
        image.thumbnail((DECODE_SIZE, DECODE_SIZE))
        image = ImageOps.exif_transpose(image).convert("L")  # decodes the pixels: a truncated file fails here
    except Exception:  # noqa: BLE001
        raise RelbuildError("bad_image", _("That file is not a photo we can read. Try a JPEG or PNG."), "photo")
    return [result.text for result in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def _too_large() -> RelbuildError:
    return RelbuildError("photo_too_large", _("That photo has more than %(megapixels)s megapixels. Take a normal photo of the QR code (phones take 12), or crop it.", megapixels=MAX_PHOTO_PIXELS // 1_000_000), "photo", status=413)
