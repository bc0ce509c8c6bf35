"""Reading things the way people and other programs do: rendered pages, OCR, two QR decoders, checkers.

Each tool is Debian's or npm's real program (tesseract, java + vnu.jar, spamassassin, soffice); a missing
one skips the test with the package to install, and fails it under CI=true (.ci/run installs them all).
"""
from __future__ import annotations

import email
import email.policy
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path

import cv2
import numpy as np
import pypdfium2
import pytest
import zxingcpp
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
DPI = 150
MM = DPI / 25.4  # pixels a millimetre at DPI


def need(program: str, package: str) -> str:
    """The path of `program`, or skip (fail under CI) saying which package brings it."""
    path = shutil.which(program)
    if path is None:
        message = f"{program} not found: apt-get install {package} (bash .ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def pages(pdf: bytes, dpi: int = DPI) -> list[Image.Image]:
    """Every page of a PDF rendered in grey, as a printer would put it on paper."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()


def ocr(image: Image.Image, lang: str = "eng", psm: int = 6, characters: str = "") -> str:
    """What Tesseract reads in the image; `characters` limits it to those, as a reader who knows the alphabet."""
    need("tesseract", "tesseract-ocr")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    options = ["-c", f"tessedit_char_whitelist={characters}"] if characters else []
    done = subprocess.run([shutil.which("tesseract"), "stdin", "stdout", "-l", lang, "--psm", str(psm), *options],
                          input=buffer.getvalue(), capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def text_lines(image: Image.Image, gap: int = 4) -> list[Image.Image]:
    """The printed lines of an image, top to bottom: bands of rows with ink, split at blank rows."""
    ink = (np.array(image.convert("L")) < 128).any(axis=1)
    lines, start, blank = [], None, 0
    for y, inked in enumerate([*ink, False]):
        if inked:
            start, blank = (y if start is None else start), 0
        elif start is not None:
            blank += 1
            if blank >= gap or y == len(ink):
                lines.append(image.crop((0, max(0, start - 6), image.width, min(image.height, y - blank + 7))))
                start = None
    return lines


def squeeze(text: str) -> str:
    """Text without spaces or line breaks, NFC: OCR splits lines where the layout wrapped them."""
    return unicodedata.normalize("NFC", "".join(text.split()))


def zxing_read(image: Image.Image) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def opencv_read(image: Image.Image) -> str:
    """OpenCV's QRCodeDetector on one code in view; '' when it cannot read it."""
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(np.array(image.convert("L")))
    return text


def camera(image: Image.Image, scale: float = 0.8, blur: float = 0.8, angle: float = 4) -> Image.Image:
    """A phone camera's view: fewer pixels, slightly out of focus, held a few degrees askew."""
    width, height = image.size
    image = image.resize((int(width * scale), int(height * scale)), Image.LANCZOS)
    image = image.filter(ImageFilter.GaussianBlur(blur))
    return image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)


def framed(page: Image.Image, code: zxingcpp.Barcode, margin_mm: float = 8) -> Image.Image:
    """The part of a page a phone sees when aimed at one code: the code and a margin around it."""
    points = [code.position.top_left, code.position.top_right, code.position.bottom_left,
              code.position.bottom_right]
    margin = int(margin_mm * MM)
    return page.crop((min(p.x for p in points) - margin, min(p.y for p in points) - margin,
                      max(p.x for p in points) + margin, max(p.y for p in points) + margin))


def width_mm(code: zxingcpp.Barcode) -> float:
    """The printed width of a code read off a page rendered at DPI."""
    position = code.position
    return ((position.top_right.x - position.top_left.x) ** 2
            + (position.top_right.y - position.top_left.y) ** 2) ** 0.5 / MM


def nu_errors(documents: dict[str, str]) -> list[str]:
    """Errors the Nu HTML checker (vnu.jar from npm) finds in each document, as 'name:line: message'."""
    java = need("java", "default-jre-headless")
    if not VNU.exists():
        pytest.fail(f"{VNU} missing: run `npm ci` (make test does)")
    folder = Path(tempfile.mkdtemp(prefix="relbuild-nu-"))
    names = {}
    for n, (name, html) in enumerate(documents.items()):
        (folder / f"{n:04d}.html").write_text(html, encoding="utf-8")
        names[f"{n:04d}.html"] = name
    try:
        done = subprocess.run([java, "-Xss4m", "-jar", str(VNU), "--errors-only", "--format", "json",
                               *(str(folder / file) for file in names)], capture_output=True, text=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = json.loads(done.stderr or "{}")
    return [f"{names.get(m.get('url', '').rsplit('/', 1)[-1], m.get('url'))}:{m.get('lastLine')}: {m.get('message')} "
            f"[{m.get('extract', '').strip()[:80]}]" for m in report.get("messages", []) if m.get("type") == "error"]


def spam_scores(messages: dict[str, bytes]) -> dict[str, tuple[float, str]]:
    """{name: (score, the rules that fired)} from Debian's SpamAssassin with local rules only.

    All messages go through one run as an mbox: SpamAssassin takes seconds to start, milliseconds a message."""
    spamassassin = need("spamassassin", "spamassassin")
    mbox, names = b"", list(messages)
    for number, message in enumerate(messages.values()):
        body = re.sub(rb"^(>*From )", rb">\1", message.replace(b"\r\n", b"\n"), flags=re.M)
        # X-Check: which message this is (two digests may share a Message-ID); no rule looks at it.
        mbox += b"From relbuild@localhost Thu Jan  1 00:00:00 2026\nX-Check: %d\n" % number + body + b"\n"
    done = subprocess.run([spamassassin, "-t", "-L", "--mbox"], input=mbox, capture_output=True, check=True)
    scores = {}
    for raw in re.split(rb"^From relbuild@localhost .*\n", done.stdout, flags=re.M):
        if raw.strip():
            checked = email.message_from_bytes(raw, policy=email.policy.compat32)
            status = " ".join((checked["X-Spam-Status"] or "").split())
            scores[names[int(checked["X-Check"])]] = (float(status.split("score=")[1].split()[0]), status)
    return scores


def english_runs(language: str = "fr") -> set[str]:
    """Runs of three or more English words from the source messages that `language` translates differently.

    A page or an email in that language must contain none of them: one left over is a sentence someone
    forgot to translate (or to mark for translation). Placeholders, tags and punctuation cut the runs.
    """
    from babel.messages.pofile import read_po

    path = Path(__file__).resolve().parents[1] / "relbuild" / "translations" / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    runs = set()
    for entry in catalog:
        if not entry.id or entry.string == entry.id:
            continue
        for source in (entry.id if isinstance(entry.id, tuple) else (entry.id,)):
            for run in re.split(r"%\(\w+\)[sd]|<[^>]+>|[.:;?!()“”—…·,]", source):
                words = run.split()
                if len(words) >= 3 and all(re.fullmatch(r"[A-Za-z'’-]+", w) for w in words):
                    runs.add(" ".join(words))
    return runs
