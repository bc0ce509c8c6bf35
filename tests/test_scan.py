"""The scanner's fallbacks: classifying what a QR says, and reading a photo on the server."""
import io

from PIL import Image

from relbuild.services.badges import qr_png
from relbuild.services.scanning import classify


def photo_of(text: str) -> io.BytesIO:
    frame = Image.new("RGB", (900, 700), (200, 190, 180))
    frame.paste(Image.open(io.BytesIO(qr_png(text))).convert("RGB").resize((400, 400)), (250, 150))
    out = io.BytesIO()
    frame.save(out, format="JPEG", quality=85)
    out.seek(0)
    return out


def test_classify():
    base = "https://relbuild.example"
    assert classify(f"{base}/c/abcdefghijklmnopqrstuvwxyzABCDEF", base).kind == "badge"
    assert classify(f"{base}/e/FAIR2026", base).kind == "event"
    assert classify("https://evil.example/c/abcdefghijklmnopqrstuvwxyzABCDEF", base).kind == "other"
    assert classify("WIFI:S:venue;T:WPA;P:secret;;", base).kind == "other"


def test_photo_of_a_badge_opens_the_person(client, make_user):
    person = make_user()
    response = client.submit("/scan/photo", {"photo": (photo_of(f"http://relbuild.test/c/{person.token}"), "b.jpg")},
                             content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"] == f"/c/{person.token}"


def test_photo_of_another_qr_says_what_it_contains(client):
    response = client.submit("/scan/photo", {"photo": (photo_of("https://example.org/menu"), "m.jpg")},
                             content_type="multipart/form-data")
    assert response.status_code == 422
    assert b"not a Relbuild badge. It contains: https://example.org/menu" in response.data


def test_photo_problems_are_explained(client):
    no_file = client.submit("/scan/photo", {}, content_type="multipart/form-data")
    assert no_file.status_code == 422 and b"Choose or take a photo" in no_file.data
    garbage = client.submit("/scan/photo", {"photo": (io.BytesIO(b"not an image"), "x.jpg")},
                            content_type="multipart/form-data")
    assert garbage.status_code == 422 and b"not a photo we can read" in garbage.data
    blank = io.BytesIO()
    Image.new("RGB", (300, 300), "white").save(blank, format="PNG")
    blank.seek(0)
    empty = client.submit("/scan/photo", {"photo": (blank, "blank.png")}, content_type="multipart/form-data")
    assert empty.status_code == 422 and b"No QR code found" in empty.data
