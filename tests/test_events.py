"""Events: organizers, joining, note tagging, CSV import with invitations, PDFs, outcomes."""
from __future__ import annotations

import io
import re
from datetime import datetime

import pypdfium2
import pytest
import sqlalchemy as sa
import zxingcpp
from pypdf import PdfReader

from relbuild.extensions import db
from relbuild.models import Event, EventAttendee, Prompt, User
from relbuild.services.events import create_event, join_event
from relbuild.services.notes import save_note

EVENT = {"name": "Spring Career Fair", "venue": "Main Hall", "starts_at": "2026-03-14T10:00",
         "ends_at": "2026-03-14T16:00", "timezone": "Europe/Berlin", "description": "Bring your CV"}
SECRET = "NOTE-MARKER-5b1e robotics mentor story"


@pytest.fixture
def organizer(client, make_user, login):
    user = make_user(name="Olga Organizer", email="olga@example.com")
    login(client, user)
    return user


@pytest.fixture
def event_id(client, organizer) -> int:
    response = client.submit("/events/new", EVENT)
    assert response.status_code == 302
    return int(re.search(r"/events/(\d+)$", response.headers["Location"]).group(1))


def load(app, model, **by):
    with app.app_context():
        row = db.session.scalar(sa.select(model).filter_by(**by))
        db.session.expunge(row)
        return row


def test_create_event_stores_utc_and_shows_local_times(app, client, event_id):
    event = load(app, Event, id=event_id)
    assert (event.starts_at, event.ends_at) == (datetime(2026, 3, 14, 9, 0), datetime(2026, 3, 14, 15, 0))
    page = client.get(f"/events/{event_id}").data.decode()
    assert "Spring Career Fair" in page and "Main Hall" in page and "Run your event" in page
    assert f"/e/{event.join_code}" in page


@pytest.mark.parametrize("change, field, message", [
    ({"name": ""}, "name", "Give the event a name."),
    ({"ends_at": "2026-03-14T09:00"}, "ends_at", "The end must be after the start."),
    ({"timezone": "Mars/Base"}, "timezone", "time zone from the list"),
    ({"starts_at": "14/03/2026"}, "starts_at", "Pick a date and time"),
    ({"ends_at": "2026-04-30T10:00"}, "ends_at", "at most 14 days"),
])
def test_bad_event_input_is_explained(app, client, organizer, change, field, message):
    response = client.submit("/events/new", {**EVENT, **change})
    assert response.status_code == 422
    assert message in response.data.decode() and f'id="{field}-error"' in response.data.decode()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


def test_edit_and_co_organizers(app, client, event_id, make_user, login):
    assert client.submit(f"/events/{event_id}/edit", {**EVENT, "name": "Autumn Fair"}).status_code == 302
    assert load(app, Event, id=event_id).name == "Autumn Fair"
    missing = client.submit(f"/events/{event_id}/organizers", {"email": "nobody@example.com"}, follow_redirects=True)
    assert b"No account uses that email yet" in missing.data
    helper = make_user(name="Hal Helper", email="hal@example.com")
    added = client.submit(f"/events/{event_id}/organizers", {"email": "HAL@example.com"}, follow_redirects=True)
    assert b"Hal Helper is now an organizer." in added.data
    other = login(client.application.test_client(), helper)
    assert other.get(f"/events/{event_id}/dashboard").status_code == 200


def organizer_urls(event_id: int) -> list[tuple[str, str]]:
    return [("GET", f"/events/{event_id}/edit"), ("POST", f"/events/{event_id}/edit"),
            ("POST", f"/events/{event_id}/organizers"), ("GET", f"/events/{event_id}/attendees"),
            ("GET", f"/events/{event_id}/attendees.csv"), ("GET", f"/events/{event_id}/import"),
            ("POST", f"/events/{event_id}/import"),
            ("POST", f"/events/{event_id}/import/00000000-0000-4000-8000-000000000000"),
            ("GET", f"/events/{event_id}/poster.pdf"), ("GET", f"/events/{event_id}/badges.pdf"),
            ("GET", f"/events/{event_id}/dashboard")]


def test_non_organizers_get_403_on_every_organizer_page(app, event_id, make_user, login):
    attendee = make_user()
    client = login(app.test_client(), attendee)
    client.submit(f"/e/{load(app, Event, id=event_id).join_code}")
    for method, url in organizer_urls(event_id):
        response = client.get(url) if method == "GET" else client.submit(url, {"email": "x@example.com"})
        assert response.status_code == 403, url
        assert b"Spring Career Fair" not in response.data or method == "GET" and "dashboard" not in url
    stranger = login(app.test_client(), make_user())
    assert stranger.get(f"/events/{event_id}").status_code == 404  # not even the event page
    visitor = app.test_client()
    for method, url in organizer_urls(event_id):
        response = visitor.get(url) if method == "GET" else visitor.submit(url, {})
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_join_by_link_and_by_code(app, event_id, make_user, login):
    event = load(app, Event, id=event_id)
    visitor = app.test_client()
    page = visitor.get(f"/e/{event.join_code}")
    assert page.status_code == 200 and b"Sign up or log in to join Spring Career Fair" in page.data
    attendee = make_user(timezone="America/New_York")
    client = login(app.test_client(), attendee)
    assert client.submit(f"/e/{event.join_code}").headers["Location"] == f"/events/{event_id}"
    client.submit(f"/e/{event.join_code}")  # twice: still one attendance
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventAttendee)) == 1
    page = client.get(f"/events/{event_id}").data.decode()
    assert "You joined" in page and "Sat 14 Mar 2026, 05:00–11:00 (America/New_York)" in page
    assert "Run your event" not in page
    second = login(app.test_client(), make_user())
    typed = f"{event.join_code[:4]}-{event.join_code[4:]}".lower()
    assert second.submit("/events/join", {"code": typed}).headers["Location"] == f"/e/{event.join_code}"
    unknown = second.submit("/events/join", {"code": "ZZZZZZZZ" if event.join_code != "ZZZZZZZZ" else "YYYYYYYY"})
    assert unknown.status_code == 422 and b"No event has this code" in unknown.data
    assert app.test_client().get("/e/nope").status_code == 404


def test_notes_during_the_event_are_tagged_and_filterable(app, client, event_id, make_user, login):
    attendee, bea, cy = make_user(name="Ann"), make_user(name="Bea Builder"), make_user(name="Cyrus Coder")
    with app.app_context():
        ann = db.session.get(User, attendee.id)
        join_event(ann, db.session.get(Event, event_id))
        during, _ = save_note(ann, db.session.get(User, bea.id), "Robotics mentor for the finals",
                              met_at=datetime(2026, 3, 14, 12, 0))
        after, _ = save_note(ann, db.session.get(User, cy.id), "Met later at a cafe about Rust",
                             met_at=datetime(2026, 3, 20, 12, 0))
        assert (during.event_id, after.event_id) == (event_id, None)
    me = login(app.test_client(), attendee)
    filtered = me.get(f"/people?event={event_id}").data.decode()
    assert "Bea Builder" in filtered and "Cyrus Coder" not in filtered
    assert "Cyrus Coder" in me.get("/people").data.decode()


def test_event_digest_goes_out_the_morning_after_it_ends(app, runner, mailbox, event_id, make_user):
    attendee, bea = make_user(name="Ann", email="ann@example.com", timezone="Asia/Tokyo"), make_user(name="Bea")
    with app.app_context():
        ann = db.session.get(User, attendee.id)
        join_event(ann, db.session.get(Event, event_id))
        save_note(ann, db.session.get(User, bea.id), SECRET, met_at=datetime(2026, 3, 14, 10, 0))
    # the event ends 15:00 UTC = 00:00 on the 15th in Tokyo, so the digest is 09:00 Tokyo on the 16th
    assert runner.invoke(args=["followups", "send-due", "--now", "2026-03-15T23:59"]).output.startswith("sent 0")
    assert "sent 1" in runner.invoke(args=["followups", "send-due", "--now", "2026-03-16T00:00"]).output
    message = mailbox.messages[0]
    assert message["Subject"] == "Your notes from Spring Career Fair: Bea"
    assert SECRET in message.get_body(("plain",)).get_content()


CSV = ("name,email,headline\n"
       "Ada Lovelace,ada@example.com,Maths\n"
       "Grace Hopper,GRACE@example.com,\n"
       ",nameless@example.com,\n"
       "Bad Email,not-an-email,\n"
       "Ada Again,ada@example.com,\n"
       "Olga Organizer,olga@example.com,Already has an account\n")


def upload(client, event_id, text: str | bytes, name="attendees.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.submit(f"/events/{event_id}/import", {"file": (io.BytesIO(data), name)},
                         content_type="multipart/form-data")


def test_import_preview_explains_bad_rows_and_writes_nothing(app, client, event_id):
    response = upload(client, event_id, CSV)
    page = response.data.decode()
    assert response.status_code == 200
    assert "Line 4: missing name" in page
    assert "Line 5 (Bad Email): “not-an-email” is not an email address" in page
    assert "Line 6 (Ada Again): duplicate of line 2" in page
    assert "<strong>2</strong> new people" in page and "<strong>1</strong> already on Relbuild" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1  # only the organizer
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventAttendee)) == 0


@pytest.mark.parametrize("text, message", [
    ("email,phone\na@example.com,1\n", "The first line must name the columns"),
    ("name,email\n", "no attendees under its header"),
    (b"\xff\xfe\x00\x00garbage", "The first line must name the columns"),
])
def test_unusable_files_are_explained(client, event_id, text, message):
    response = upload(client, event_id, text)
    assert response.status_code == 422 and message in response.data.decode()


def confirm_url(page: str) -> str:
    return re.search(r'action="(/events/\d+/import/[0-9a-f-]+)"', page).group(1)


def test_import_invites_once_and_reimport_changes_nothing(app, client, runner, mailbox, event_id):
    url = confirm_url(upload(client, event_id, CSV).data.decode())
    done = client.submit(url)
    assert done.status_code == 200
    assert "2 new accounts (invitations are on their way), 1 existing account added" in " ".join(
        done.data.decode().split())
    assert client.submit(url).status_code == 200  # confirming twice does nothing more
    again = " ".join(upload(client, event_id, CSV).data.decode().split())
    assert "<strong>3</strong> already attending" in again and "Nothing to import from this file." in again
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 3
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventAttendee)) == 3
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Prompt)) == 2
    assert "sent 2" in runner.invoke(args=["followups", "send-due"]).output
    assert "sent 0" in runner.invoke(args=["followups", "send-due"]).output
    assert sorted(m["To"] for m in mailbox.messages) == ["ada@example.com", "grace@example.com"]
    invitation = mailbox.to("ada@example.com")[0]
    assert invitation["Subject"] == "You're invited to Spring Career Fair on Relbuild"
    claim = re.search(r"http://relbuild\.test(/claim/\S+)", invitation.get_body(("plain",)).get_content()).group(1)

    ada = app.test_client()
    assert ada.submit("/login", {"email": "ada@example.com", "password": "anything at all"}).status_code == 401
    assert b"Welcome, Ada Lovelace" in ada.get(claim).data
    assert ada.submit(claim, {"password": "password"}).status_code == 422  # still the password rules
    started = ada.submit(claim, {"password": "lantern river orchard"})
    assert started.status_code == 302 and ada.get("/badge").status_code == 200
    used = app.test_client().get(claim)
    assert used.status_code == 410 and b"already used" in used.data
    fresh = app.test_client()
    assert fresh.submit("/login", {"email": "ada@example.com", "password": "lantern river orchard"}).status_code == 302


def test_claim_links_expire(app, client, runner, mailbox, event_id, monkeypatch):
    import itsdangerous

    client.submit(confirm_url(upload(client, event_id, "name,email\nAda,ada@example.com\n").data.decode()))
    old = datetime.now().timestamp() - 15 * 24 * 3600
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: int(old))
    runner.invoke(args=["followups", "send-due"])
    monkeypatch.undo()
    claim = re.search(r"http://relbuild\.test(/claim/\S+)",
                      mailbox.messages[0].get_body(("plain",)).get_content()).group(1)
    expired = app.test_client().get(claim)
    assert expired.status_code == 410 and b"expired" in expired.data


def test_a_5000_row_file_imports_in_one_go(app, client, event_id):
    rows = "".join(f"Person {n},person{n}@example.org,Student\n" for n in range(5000))
    page = upload(client, event_id, "name,email,headline\n" + rows).data.decode()
    assert "<strong>5000</strong> new people" in page
    done = client.submit(confirm_url(page))
    assert "5000 new accounts" in done.data.decode()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventAttendee)) == 5000


def qr_texts(pdf: bytes, scale: float = 2.5) -> list[list[str]]:
    """Every QR code on every page, read from the rendered page."""
    document = pypdfium2.PdfDocument(pdf)
    pages = []
    for page in document:
        image = page.render(scale=scale).to_pil().convert("L")
        pages.append(sorted(r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)))
    return pages


@pytest.mark.parametrize("size, points", [("a4", (595, 842)), ("letter", (612, 792))])
def test_poster_pdf_has_a_scannable_join_qr(app, client, event_id, size, points):
    response = client.get(f"/events/{event_id}/poster.pdf?size={size}")
    assert response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == points
    assert "Spring Career Fair" in reader.pages[0].extract_text()
    assert qr_texts(response.data) == [[f"http://relbuild.test/e/{load(app, Event, id=event_id).join_code}"]]
    assert client.get(f"/events/{event_id}/poster.pdf?size=a3").status_code == 404


def test_badge_sheet_every_qr_scans_to_its_persons_badge(app, client, event_id, make_user):
    people = [make_user(name=f"Attendee {n:02d}", headline="Looking for a design internship") for n in range(10)]
    people.append(make_user(name="Zoë Łukasiewicz-Ødegård", headline="Ünïcode names print too"))
    with app.app_context():
        event = db.session.get(Event, event_id)
        for person in people:
            join_event(db.session.get(User, person.id), event)
    response = client.get(f"/events/{event_id}/badges.pdf?size=letter")
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 2  # eight a page
    found = [text for page in qr_texts(response.data) for text in page]
    assert sorted(found) == sorted(f"http://relbuild.test/c/{p.token}" for p in people)
    chosen = client.get(f"/events/{event_id}/badges.pdf?attendee={people[0].public_id}&attendee={people[3].public_id}")
    assert qr_texts(chosen.data) == [sorted(f"http://relbuild.test/c/{p.token}" for p in (people[0], people[3]))]


def test_dashboard_counts_match_a_known_fixture_and_never_show_notes(app, client, event_id, make_user):
    with app.app_context():
        event = db.session.get(Event, event_id)
        authors = [make_user(name=f"Author {n}") for n in range(6)]
        subjects = [make_user(name=f"Subject {n}") for n in range(3)]
        for a in authors + [make_user(name="Lurker")]:
            join_event(db.session.get(User, a.id), event)
        notes = 0
        for n, a in enumerate(authors):
            for m, s in enumerate(subjects[: 1 + n % 3]):
                note, _ = save_note(db.session.get(User, a.id), db.session.get(User, s.id), f"{SECRET} {n}-{m}",
                                    offer="OFFER-MARKER-77" if m == 0 else "",
                                    met_at=datetime(2026, 3, 14, 9 + m, 30))
                if n < 2 and m == 0:
                    note.followed_up_at = datetime(2026, 3, 15, 9, 0)
                notes += 1
        db.session.commit()
    page = client.get(f"/events/{event_id}/dashboard").data.decode()
    stat = lambda name: re.search(rf'data-stat="{name}">([^<]+)<', page).group(1)  # noqa: E731
    assert (stat("joined"), stat("active"), stat("notes")) == ("7", "6", str(notes))
    assert notes == 12 and stat("offers") == "50%" and stat("followups") == "2"
    hours = re.findall(r'<th scope="row">([^<]+)</th>.*?<span class="count">(\d+)</span>', page)
    assert hours[:4] == [("10:00", "6"), ("11:00", "4"), ("12:00", "2"), ("13:00", "0")]  # Berlin hours
    pages = [page, client.get(f"/events/{event_id}/attendees").data.decode(),
             client.get(f"/events/{event_id}/attendees.csv").data.decode(),
             client.get(f"/events/{event_id}").data.decode()]
    for text in pages:
        assert "NOTE-MARKER" not in text and "OFFER-MARKER" not in text
    for pdf in (client.get(f"/events/{event_id}/poster.pdf").data, client.get(f"/events/{event_id}/badges.pdf").data):
        assert "NOTE-MARKER" not in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    csv_text = pages[2]
    assert csv_text.splitlines()[0] == "\ufeffname,email,joined,active"
    assert "Lurker,person" in csv_text and ",no" in csv_text and ",yes" in csv_text


def test_small_groups_are_not_broken_out(app, client, event_id, make_user):
    with app.app_context():
        event = db.session.get(Event, event_id)
        a, b = make_user(), make_user()
        join_event(db.session.get(User, a.id), event)
        save_note(db.session.get(User, a.id), db.session.get(User, b.id), SECRET, offer="x",
                  met_at=datetime(2026, 3, 14, 10, 0))
    page = client.get(f"/events/{event_id}/dashboard").data.decode()
    assert 'data-stat="notes">1<' in page
    assert 'data-stat="offers"' not in page and "Notes per hour" not in page
    assert "once at least 5 attendees are active" in page


def test_notes_per_hour_in_a_half_hour_zone_counts_each_note_in_its_local_hour(app, make_user):
    from relbuild.models import Note
    from relbuild.services.outcomes import notes_per_hour

    author, subjects = make_user(), [make_user() for _ in range(6)]
    with app.app_context():
        event = create_event(db.session.get(User, author.id), name="Pune Fair", venue="", timezone="Asia/Kolkata",
                             starts_at="2026-03-14T10:00", ends_at="2026-03-14T12:00")
        # 04:30 UTC is 10:00 in Kolkata (UTC+05:30); the last microsecond before it is still 09:59.
        for subject, met_at in zip(subjects, [datetime(2026, 3, 14, 4, 29, 59, 999999), datetime(2026, 3, 14, 4, 30),
                                              datetime(2026, 3, 14, 5, 29, 59, 999999), datetime(2026, 3, 14, 5, 30),
                                              datetime(2026, 3, 14, 6, 15), datetime(2026, 3, 14, 6, 45)]):
            db.session.add(Note(author_id=author.id, subject_id=subject.id, body="Talked about kilns", met_at=met_at,
                                event_id=event.id))
        db.session.commit()
        assert notes_per_hour(event) == [("10", 2), ("11", 2)]


def test_csv_export_defuses_formulas(app, client, event_id, make_user):
    evil = make_user(name="=HYPERLINK(\"http://evil\")")
    with app.app_context():
        join_event(db.session.get(User, evil.id), db.session.get(Event, event_id))
    assert "'=HYPERLINK" in client.get(f"/events/{event_id}/attendees.csv").data.decode()


def test_events_list_and_empty_state(client, organizer, make_user, login, app):
    assert "No events yet" in client.get("/events").data.decode()
    with app.app_context():
        create_event(db.session.get(User, organizer.id), **EVENT)
    assert "Spring Career Fair" in client.get("/events").data.decode()
    assert "You organize this" in client.get("/events").data.decode()

