"""What a scanned QR code is, and reading one from a photo (the scanner's fallback)."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import RelbuildError

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
    """The texts of the QR codes in a photo."""
    import zxingcpp
    from PIL import Image, ImageOps

    try:
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
        image.thumbnail((2000, 2000))
        image = image.convert("L")  # decodes the pixels: a truncated file fails here, not before
    except Image.DecompressionBombError:
        raise RelbuildError("bad_image", "That photo is too large. Try a smaller one.", "photo")
    except Exception:  # noqa: BLE001 -- Pillow's decoders raise many kinds (OSError, SyntaxError, struct.error …)
        raise RelbuildError("bad_image", "That file is not a photo we can read. Try a JPEG or PNG.", "photo")
    return [result.text for result in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
