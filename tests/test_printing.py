"""Posters and badge sheets as people and phones meet them: printed (rendered at 150 dpi), read (OCR), scanned.

A text test passes when the text is white on white or a name is a row of boxes; these read the pixels.
"""
from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from relbuild.extensions import db
from relbuild.models import Badge, Event, User
from relbuild.services.badges import SHORT_CODE_ALPHABET
from relbuild.services.events import join_event
from tests.perception import MM, camera, framed, ocr, opencv_read, pages, squeeze, text_lines, width_mm, zxing_read
from tests.test_events import EVENT, event_id, load, organizer  # noqa: F401  (fixtures)

# A name in each script, with the Tesseract language that reads it: right-to-left Arabic and Hebrew whose
# letters must join, Devanagari whose conjuncts and vowel signs must be shaped, and CJK from Noto CJK.
NAMES = [("Émile Gaudé", "fra"), ("Ελένη Παππά", "ell"), ("Анна Иванова", "rus"), ("王小明", "chi_sim"),
         ("山田さくら", "jpn"), ("이서연", "kor"), ("محمد الأحمد", "ara"), ("דוד כהן", "heb"),
         ("प्रिया शर्मा", "hin")]
PAPER = {"a4": (210, 297), "letter": (215.9, 279.4)}
MARGIN = 12  # mm around the badge grid


def attendees(app, event_id, names):  # noqa: F811
    """Join people with these names to the event, each with a fixed badge link (so every run prints the same QR)."""
    people = {}
    with app.app_context():
        event = db.session.get(Event, event_id)
        for n, name in enumerate(names):
            user = User(name=name, email=f"print{n}@example.com", password_hash="x")
            db.session.add(user)
            db.session.flush()
            token = f"printed-badge-{n:02d}-".ljust(32, "x")
            db.session.add(Badge(user_id=user.id, token=token, short_code=f"PRNT{SHORT_CODE_ALPHABET[n // 30]}{SHORT_CODE_ALPHABET[n % 30]}22"))
            join_event(user, event)
            people[f"http://relbuild.test/c/{token}"] = name
        db.session.commit()
    return people


def cells(page, size: str):
    """The eight badge cells of a rendered sheet, left to right and top to bottom, as (box, image)."""
    width, height = PAPER[size]
    cell_w, cell_h = (width - 2 * MARGIN) / 2, (height - 2 * MARGIN) / 4
    for index in range(8):
        column, row = index % 2, index // 2
        box = (MARGIN + column * cell_w, MARGIN + row * cell_h, MARGIN + (column + 1) * cell_w,
               MARGIN + (row + 1) * cell_h)
        yield box, page.crop(tuple(round(v * MM) for v in box))


def embedded_fonts(pdf: bytes) -> list[tuple[str, bool]]:
    """(font name, whether its program is embedded) for every font every page uses."""
    found = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            described = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = described.get("/FontDescriptor")
            embedded = descriptor is not None and any(
                key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3"))
            found.append((str(font["/BaseFont"]), embedded))
    return found


@pytest.mark.parametrize("size", ["a4", "letter"])
def test_poster_shows_the_code_and_link_to_the_eye_and_its_qr_scans(app, client, event_id, size):  # noqa: F811
    with app.app_context():  # a fixed code, so every run prints (and reads) the same poster
        db.session.get(Event, event_id).join_code = "K7QM3XPA"
        db.session.commit()
    join = "http://relbuild.test/e/K7QM3XPA"
    pdf = client.get(f"/events/{event_id}/poster.pdf?size={size}").data
    [page] = pages(pdf)
    [code] = zxing_read(page)
    assert squeeze("Spring Career Fair") in squeeze(ocr(page.crop((0, 0, page.width, code.position.top_left.y))))
    assert code.text == join and width_mm(code) >= 90
    # Under the QR, line by line, read by someone who knows codes are made of SHORT_CODE_ALPHABET.
    below = text_lines(page.crop((0, code.position.bottom_left.y + 20, page.width, page.height)))
    seen = [squeeze(ocr(line, psm=7, characters=SHORT_CODE_ALPHABET + "-abcdefghijklmnopqrstuvwxyz:/.,'"))
            for line in below]
    assert seen == [squeeze("Scan to join, then scan each other's badges"), squeeze("or type the event code"),
                    "K7QM-3XPA", join], seen
    view = framed(page, code)
    for image in (view, camera(view), camera(view, 0.6, 1.0, -5)):
        assert [c.text for c in zxing_read(image)] == [join]
        assert opencv_read(image) == join
    assert embedded_fonts(pdf) and all(embedded for _, embedded in embedded_fonts(pdf)), embedded_fonts(pdf)


def test_badge_names_print_in_every_script_and_read_back(app, client, event_id):  # noqa: F811
    people = attendees(app, event_id, [name for name, _ in NAMES])
    language = dict(NAMES)
    pdf = client.get(f"/events/{event_id}/badges.pdf").data
    read = {}
    for page in pages(pdf):
        for (left, top, right, bottom), cell in cells(page, "a4"):
            codes = zxing_read(cell)
            if not codes:
                continue
            name = people[codes[0].text]
            # The text column left of the QR, below the event's name: where the name is printed.
            column = cell.crop((round(3 * MM), round(7 * MM), round((right - left - 41) * MM), round(34 * MM)))
            read[name] = ocr(column, language[name])
    assert {name: squeeze(text) for name, text in read.items()} == {name: squeeze(name) for name, _ in NAMES}
    fonts = embedded_fonts(pdf)
    assert all(embedded for _, embedded in fonts), fonts
    families = " ".join(name for name, _ in fonts)
    for family in ("Noto-Sans-Bold", "Noto-Sans-Arabic", "Noto-Sans-Hebrew", "Noto-Sans-Devanagari", "Noto-Sans-CJK"):
        assert family in families, families


@pytest.mark.parametrize("size", ["a4", "letter"])
def test_every_badge_qr_is_read_by_two_decoders_also_through_a_camera(app, client, event_id, size):  # noqa: F811
    people = attendees(app, event_id, [f"Attendee {n:02d}" for n in range(10)])
    pdf = client.get(f"/events/{event_id}/badges.pdf?size={size}").data
    sheets = pages(pdf)
    assert len(sheets) == 2
    found, unread = [], []
    for page in sheets:
        codes = zxing_read(page)
        found += [code.text for code in codes]
        for code in codes:
            assert width_mm(code) >= 30, (code.text, width_mm(code))  # the code itself, quiet zone not counted
            view = framed(page, code)
            for label, image in (("150 dpi", view), ("camera", camera(view)), ("camera, other way", camera(view, angle=-4))):
                if [c.text for c in zxing_read(image)] != [code.text]:
                    unread.append(f"zxing-cpp, {label}: {code.text}")
                if opencv_read(image) != code.text:
                    unread.append(f"OpenCV, {label}: {code.text}")
    assert sorted(found) == sorted(people)
    assert unread == []


def test_the_event_name_is_printed_whole_on_every_badge(app, client, event_id):  # noqa: F811
    long_name = "Campus Career Fair Winter 2026 for Engineering and Design Students"
    with app.app_context():
        db.session.get(Event, event_id).name = long_name
        db.session.commit()
    attendees(app, event_id, ["Ana Ruiz"])
    [page] = pages(client.get(f"/events/{event_id}/badges.pdf?size=letter").data)
    (left, top, right, bottom), cell = next(cells(page, "letter"))
    band = cell.crop((round(3 * MM), round(3 * MM), round((right - left - 41) * MM), round(12 * MM)))
    assert squeeze(long_name) in squeeze(ocr(band.resize((band.width * 2, band.height * 2))))


def test_badge_sheets_and_attendee_lists_sort_names_by_collation(app, client, event_id):  # noqa: F811
    names = ["Zoë Zapata", "Hana Ito", "Émile Gaudé", "ana Ruiz", "Eve Adams", "Łukasz Nowak", "Lara Kim"]
    people = attendees(app, event_id, names)
    expected = ["ana Ruiz", "Émile Gaudé", "Eve Adams", "Hana Ito", "Lara Kim", "Łukasz Nowak", "Zoë Zapata"]
    [page] = pages(client.get(f"/events/{event_id}/badges.pdf").data)
    printed = [people[code.text] for _, cell in cells(page, "a4") for code in zxing_read(cell)]
    assert printed == expected
    listed = re.findall(r'class="attendee-name">([^<]+)<', client.get(f"/events/{event_id}/attendees").data.decode())
    assert listed == expected
    exported = client.get(f"/events/{event_id}/attendees.csv").data.decode("utf-8-sig").splitlines()[1:]
    assert [line.split(",")[0] for line in exported] == expected



def test_posters_and_badge_sheets_print_in_the_events_language(app, client, event_id):  # noqa: F811
    """The organizer reads English; the event is French: the paper is French, read back by Tesseract's French."""
    attendees(app, event_id, ["Zoé Tremblay"])
    form = {**EVENT, "language": "fr"}
    assert client.submit(f"/events/{event_id}/edit", form).status_code == 302
    poster = pages(client.get(f"/events/{event_id}/poster.pdf").data)[0]
    seen = squeeze(ocr(poster, "fra"))
    assert squeeze("Scannez pour participer, puis scannez vos badges entre vous") in seen
    assert squeeze("ou saisissez le code de l’événement").replace("’", "'") in seen.replace("’", "'")
    assert "Scantojoin" not in seen
    sheet = pages(client.get(f"/events/{event_id}/badges.pdf").data)[0]
    assert "Code " in ocr(sheet, "fra")
    # Back to English: the same sheets in English, whatever the organizer reads.
    assert client.submit(f"/events/{event_id}/edit", {**EVENT, "language": "en"}).status_code == 302
    assert squeeze("Scan to join, then scan each other's badges") in squeeze(
        ocr(pages(client.get(f"/events/{event_id}/poster.pdf").data)[0]))
