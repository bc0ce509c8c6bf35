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
from relbuild.models import AttendeeImport, Event, EventAttendee, Invitation, Prompt, User
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


def test_edit_event(app, client, event_id):
    assert client.submit(f"/events/{event_id}/edit", {**EVENT, "name": "Autumn Fair"}).status_code == 302
    assert load(app, Event, id=event_id).name == "Autumn Fair"


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
    assert message["Subject"] == "Your notes from “Spring Career Fair”: Bea"
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


def preview_page(client, event_id, text: str | bytes, page: int = 1) -> str:
    response = upload(client, event_id, text)
    assert response.status_code == 200, response.data
    first = response.data.decode()
    return first if page == 1 else client.get(f"{confirm_url(first)}?page={page}").data.decode()


def row_status(page: str, line: int) -> str:
    """What the preview says about one line of the file: its name, address and status, as read."""
    item = re.search(rf'<li data-line="{line}">(.*?)</li>', page, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", item).split())


def test_import_preview_shows_every_row_and_writes_nothing(app, client, event_id):
    page = preview_page(client, event_id, CSV)
    assert row_status(page, 2) == "Line 2 Ada Lovelace ada@example.com will be invited"
    assert row_status(page, 3) == "Line 3 Grace Hopper grace@example.com will be invited"
    assert row_status(page, 4) == "Line 4 (no name) nameless@example.com skipped: missing name"
    assert row_status(page, 5) == "Line 5 Bad Email not-an-email skipped: “not-an-email” is not an email address"
    assert row_status(page, 6) == "Line 6 Ada Again ada@example.com skipped: duplicate of line 2"
    # Olga has an account (she is the organizer, not an attendee): the same words as for anyone.
    assert row_status(page, 7) == "Line 7 Olga Organizer olga@example.com will be invited"
    assert "<strong>3</strong> will be invited" in page and "Send 3 invitations" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1  # only the organizer
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Prompt)) == 0


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


def answer_link(message) -> str:
    return re.search(r"http://relbuild\.test(/invitations/\S+)", message.get_body(("plain",)).get_content()).group(1)


def test_import_invites_once_and_reimport_changes_nothing(app, client, runner, mailbox, event_id):
    url = confirm_url(preview_page(client, event_id, CSV))
    done = client.submit(url, follow_redirects=True)
    assert "3 invitations sent, 0 invited before or already attending, 3 skipped" in " ".join(
        done.data.decode().split())
    assert client.submit(url, follow_redirects=True).status_code == 200  # confirming twice does nothing more
    again = " ".join(preview_page(client, event_id, CSV).split())
    assert "<strong>3</strong> invited before" in again and "Nobody to invite from this file." in again
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1  # no account is made
        assert db.session.scalar(sa.select(sa.func.count()).select_from(EventAttendee)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 3
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Prompt)) == 3
        assert db.session.scalar(sa.select(AttendeeImport.rows)) == []  # addresses are not kept after sending
    assert "sent 3" in runner.invoke(args=["followups", "send-due"]).output
    assert "sent 0" in runner.invoke(args=["followups", "send-due"]).output
    assert sorted(m["To"] for m in mailbox.messages) == ["ada@example.com", "grace@example.com", "olga@example.com"]
    invitation = mailbox.to("ada@example.com")[0]
    assert invitation["Subject"] == "Invitation to “Spring Career Fair” on Relbuild"
    link = answer_link(invitation)

    ada = app.test_client()
    assert b"Accept and make your account" in ada.get(link).data
    weak = ada.submit(link + "/accept", {"name": "Ada Lovelace", "password": "password"})
    assert weak.status_code == 422 and b"most common" in weak.data  # still the password rules
    started = ada.submit(link + "/accept", {"name": "Ada Lovelace", "password": "lantern river orchard"})
    assert started.status_code == 302 and ada.get("/badge").status_code == 200
    assert b"You accepted this invitation" in app.test_client().get(link).data
    fresh = app.test_client()
    assert fresh.submit("/login", {"email": "ada@example.com", "password": "lantern river orchard"}).status_code == 302
    assert b"Ada Lovelace" in client.get(f"/events/{event_id}/attendees").data


def test_invitation_links_expire(app, client, runner, mailbox, event_id, monkeypatch):
    import itsdangerous

    client.submit(confirm_url(preview_page(client, event_id, "name,email\nAda,ada@example.com\n")))
    old = datetime.now().timestamp() - 61 * 24 * 3600
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: int(old))
    runner.invoke(args=["followups", "send-due"])
    monkeypatch.undo()
    expired = app.test_client().get(answer_link(mailbox.messages[0]))
    assert expired.status_code == 410 and b"expired" in expired.data


def test_a_5000_row_file_is_shown_a_page_at_a_time_and_invites_in_one_go(app, client, event_id):
    rows = "".join(f"Person {n},person{n}@example.org,Student\n" for n in range(5000))
    text = "name,email,headline\n" + rows
    page = preview_page(client, event_id, text)
    assert "<strong>5000</strong> will be invited" in page and "page 1 of 25" in page
    assert row_status(page, 2).startswith("Line 2 Person 0") and 'data-line="202"' not in page
    last = preview_page(client, event_id, text, page=25)
    assert row_status(last, 5001) == "Line 5001 Person 4999 person4999@example.org will be invited"
    done = client.submit(confirm_url(page), follow_redirects=True)
    assert "5000 invitations sent" in done.data.decode()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 5000


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


def test_outcome_figures_match_a_known_fixture_and_no_page_shows_notes(app, client, event_id, make_user):
    from relbuild.services.outcomes import measure

    with app.app_context():
        event = db.session.get(Event, event_id)
        authors = [make_user(name=f"Author {n}") for n in range(12)]
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
        exact = measure(event, noise=lambda scale: 0)
    assert notes == 24 and (exact["active"], exact["notes"], exact["with_offer"], exact["followed_up"]) == (12, 24, 12, 2)
    assert exact["hours"][:4] == [["10", 12], ["11", 8], ["12", 4], ["13", 0]]  # Berlin hours, people each hour
    pages = [client.get(f"/events/{event_id}/dashboard").data.decode(),
             client.get(f"/events/{event_id}/attendees").data.decode(),
             client.get(f"/events/{event_id}/attendees.csv").data.decode(),
             client.get(f"/events/{event_id}").data.decode()]
    for text in pages:
        assert "NOTE-MARKER" not in text and "OFFER-MARKER" not in text
    for pdf in (client.get(f"/events/{event_id}/poster.pdf").data, client.get(f"/events/{event_id}/badges.pdf").data):
        assert "NOTE-MARKER" not in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    csv_text = pages[2]
    assert csv_text.splitlines()[0] == "\ufeffname,email,joined" and "Lurker,person" in csv_text


def test_people_per_hour_in_a_half_hour_zone_counts_each_person_in_their_local_hour(app, make_user):
    from relbuild.models import Note
    from relbuild.services.outcomes import people_per_hour

    author, subjects = make_user(), [make_user() for _ in range(6)]
    other = make_user()
    with app.app_context():
        event = create_event(db.session.get(User, author.id), name="Pune Fair", venue="", timezone="Asia/Kolkata",
                             starts_at="2026-03-14T10:00", ends_at="2026-03-14T12:00")
        # 04:30 UTC is 10:00 in Kolkata (UTC+05:30); the last microsecond before it is still 09:59.
        for subject, met_at in zip(subjects, [datetime(2026, 3, 14, 4, 29, 59, 999999), datetime(2026, 3, 14, 4, 30),
                                              datetime(2026, 3, 14, 5, 29, 59, 999999), datetime(2026, 3, 14, 5, 30),
                                              datetime(2026, 3, 14, 6, 15), datetime(2026, 3, 14, 6, 45)]):
            db.session.add(Note(author_id=author.id, subject_id=subject.id, body="Talked about kilns", met_at=met_at,
                                event_id=event.id))
        db.session.add(Note(author_id=other.id, subject_id=subjects[0].id, body="Talked about glazes",
                            met_at=datetime(2026, 3, 14, 6, 0), event_id=event.id))
        db.session.commit()
        # One author wrote twice in each hour: counted once an hour; the other author once, at 11:30.
        assert people_per_hour(event) == [("10", 1), ("11", 2)]


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

