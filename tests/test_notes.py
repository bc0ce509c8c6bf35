"""One genuine note per person, people lists, privacy between people."""
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from relbuild.extensions import db
from relbuild.models import Note
from relbuild.services.notes import coach_note, note_history

BODY = "Talked about her thesis on bike-sharing; she asked how to recruit real riders for tests."


def note_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Note))


def test_badge_link_shows_profile_with_shared_values_first(client, make_user, login):
    person = make_user(name="Bea", headline="Data viz", values="Honesty, Craft, Kindness", share_email=True)
    viewer = make_user(values="kindness, Curiosity")
    login(client, viewer)
    page = client.get(f"/c/{person.token}").data.decode()
    values = [(s, v.strip()) for s, v in re.findall(r"<li class=\"value( shared)?\">([^<]+)", page)]
    assert values[0] == (" shared", "Kindness")
    assert [v for _, v in values[1:]] == ["Honesty", "Craft"]
    assert "Data viz" in page and 'name="body"' in page and 'name="offer"' in page
    assert person.email in page  # shared with people they connect with


def test_visitor_sees_profile_and_is_asked_to_sign_up(client, make_user):
    person = make_user(name="Bea", share_email=True)
    page = client.get(f"/c/{person.token}")
    assert page.status_code == 200
    assert b"Sign up or log in to keep a note about Bea" in page.data
    assert f"/register?next=/c/{person.token}".encode() in page.data
    assert person.email.encode() not in page.data and b'name="body"' not in page.data


def test_signing_up_from_a_badge_comes_back_to_it(client, make_user):
    person = make_user(name="Bea")
    response = client.submit(f"/register?next=/c/{person.token}",
                             {"name": "Cy", "email": "cy@example.com", "password": "quiet river morning"})
    assert response.status_code == 302
    saved = client.submit(response.headers["Location"], {"name": "Cy", "timezone": "UTC"})
    assert saved.headers["Location"] == f"/c/{person.token}"


def test_write_then_edit_keeps_one_note(app, client, make_user, login):
    person = make_user(name="Bea")
    login(client, make_user())
    first = client.submit(f"/c/{person.token}", {"body": BODY, "offer": "Send the UX meetup link"})
    assert first.status_code == 302
    page = client.get(first.headers["Location"]).data.decode()
    assert "Note about Bea saved." in page and "Tip:" not in page and BODY in page
    edited = client.submit(f"/c/{person.token}", {"body": BODY + " Also loves maps.", "offer": ""})
    assert edited.status_code == 302
    assert note_count(app) == 1
    with app.app_context():
        note = db.session.scalar(sa.select(Note))
        assert note.body.endswith("Also loves maps.") and note.offer == ""
        assert abs(note.met_at - datetime.utcnow()) < timedelta(minutes=1)


def test_saves_about_one_person_at_the_same_moment_each_land_in_one_note(app, make_user, login):
    """Eight tabs save a note about the same person at once: every save is answered "saved" (none refused,
    none lost to a locked database), they make one note, and every text a later save replaced is in its history."""
    person, me = make_user(name="Bea"), make_user()
    clients = [login(app.test_client(), me) for _ in range(8)]
    forms = [{"body": f"{BODY} Take {n}.", "offer": "", "csrf_token": c.csrf_token()} for n, c in enumerate(clients)]
    together = threading.Barrier(len(clients))

    def save(n: int) -> int:
        together.wait()
        return clients[n].post(f"/c/{person.token}", data=forms[n]).status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        assert list(pool.map(save, range(len(clients)))) == [302] * len(clients)
    texts = {form["body"] for form in forms}
    with app.app_context():
        [note] = db.session.scalars(sa.select(Note)).all()
        history = [write.previous_body for write in note_history(note)]
    # Each text is in the note or its history, once: none replaced without being kept.
    assert sorted(history + [note.body]) == sorted(texts)


def test_vague_note_is_saved_with_a_gentle_hint(app, client, make_user, login):
    person = make_user(name="Bea")
    login(client, make_user())
    response = client.submit(f"/c/{person.token}", {"body": "Great chat!!", "offer": ""}, follow_redirects=True)
    assert response.status_code == 200 and b"Tip: Future you will thank you for one specific detail" in response.data
    assert note_count(app) == 1


@pytest.mark.parametrize("body, offer, field, message", [
    ("", "", "body", b"Write what you talked about"),
    ("too short", "", "body", b"at least 10 characters"),
    ("x" * 2001, "", "body", b"under 2,000 characters"),
    (BODY, "y" * 501, "offer", b"under 500 characters"),
])
def test_bad_note_input_is_explained_and_nothing_saved(app, client, make_user, login, body, offer, field, message):
    person = make_user()
    login(client, make_user())
    response = client.submit(f"/c/{person.token}", {"body": body, "offer": offer})
    assert response.status_code == 422
    assert message in response.data and f'id="{field}-error"'.encode() in response.data
    assert note_count(app) == 0


def test_database_enforces_one_note_per_person(app, make_user):
    author, subject = make_user(), make_user()
    with app.app_context():
        db.session.add(Note(author_id=author.id, subject_id=subject.id, body=BODY))
        db.session.commit()
        db.session.add(Note(author_id=author.id, subject_id=subject.id, body=BODY))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()


@pytest.mark.parametrize("body, vague", [
    ("great chat", True),
    ("Nice person, great chat!", True),
    ("Really nice guy to meet today", True),
    ("ok", True),
    (BODY, False),
    ("Great chat about Rust compilers and her plan to move to Lisbon next spring", False),
])
def test_coaching_rules(body, vague):
    assert (coach_note(body) is not None) == vague


def test_people_list_newest_first_with_search(app, client, make_user, login):
    author = make_user()
    older, newer = make_user(name="Olga Older"), make_user(name="Nina Newer")
    with app.app_context():
        db.session.add_all([
            Note(author_id=author.id, subject_id=older.id, body="Robotics club and 3D printing",
                 met_at=datetime(2026, 11, 1, 10)),
            Note(author_id=author.id, subject_id=newer.id, body="Wants to learn 100% of SQL_tricks",
                 offer="Share my notes", met_at=datetime(2026, 11, 2, 10)),
        ])
        db.session.commit()
    login(client, author)
    page = client.get("/people").data.decode()
    assert page.index("Nina Newer") < page.index("Olga Older")
    assert "You offered: Share my notes" in page
    robotics = client.get("/people?q=robotICS").data.decode()
    assert "Olga Older" in robotics and "Nina Newer" not in robotics
    by_name = client.get("/people?q=nina").data.decode()
    assert "Nina Newer" in by_name and "Olga Older" not in by_name
    literal = client.get("/people?q=100%25").data.decode()  # % is literal, not a wildcard
    assert "Nina Newer" in literal and "Olga Older" not in literal
    assert "No one matches" in client.get("/people?q=zzzz").data.decode()


def test_empty_people_list_says_what_to_do(client, make_user, login):
    login(client, make_user())
    page = client.get("/people").data.decode()
    assert "No notes yet" in page and 'href="/scan"' in page


def test_b_sees_a_connected_but_never_a_note(app, make_user, login):
    a, b = make_user(name="Ann Author"), make_user(name="Ben Subject")
    marker = "SECRET-MARKER-7f3a about his jazz band"
    client_a = login(app.test_client(), a)
    client_a.submit(f"/c/{b.token}", {"body": marker, "offer": "OFFER-MARKER-91"})

    client_b = login(app.test_client(), b)
    people = client_b.get("/people").data.decode()
    assert "Ann Author</strong> connected with you — write your note" in people
    pages = [people, client_b.get(f"/people/{a.public_id}").data.decode(), client_b.get(f"/c/{a.token}").data.decode(),
             client_b.get("/badge").data.decode(), client_b.get("/profile").data.decode(),
             client_b.get(f"/c/{b.token}").data.decode(), client_b.get("/people?q=SECRET").data.decode()]
    for page in pages:
        assert "SECRET-MARKER" not in page and "OFFER-MARKER" not in page

    # B writes back from the person page, without scanning
    back = client_b.submit(f"/people/{a.public_id}", {"body": "She plays in a jazz band and builds synths"})
    assert back.status_code == 302
    people = client_b.get("/people").data.decode()
    assert "connected with you" not in people and "builds synths" in people
    assert "builds synths" not in client_a.get("/people").data.decode()


def test_person_pages_are_only_for_connected_people(app, client, make_user, login):
    stranger = make_user()
    login(client, make_user())
    assert client.get(f"/people/{stranger.public_id}").status_code == 404
    assert client.submit(f"/people/{stranger.public_id}", {"body": BODY}).status_code == 404
    assert client.get("/people/" + "x" * 300).status_code == 404
    assert note_count(app) == 0


def test_visitor_posting_a_note_is_sent_to_log_in(app, client, make_user):
    person = make_user()
    response = client.submit(f"/c/{person.token}", {"body": BODY})
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    assert note_count(app) == 0


def test_met_time_is_shown_in_the_viewers_time_zone(app, client, make_user, login):
    author, subject = make_user(timezone="Asia/Tokyo"), make_user()
    with app.app_context():
        db.session.add(Note(author_id=author.id, subject_id=subject.id, body=BODY,
                            met_at=datetime(2026, 11, 2, 23, 30)))
        db.session.commit()
    login(client, author)
    assert "3 Nov 2026, 08:30" in client.get("/people").data.decode()
