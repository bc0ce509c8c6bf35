"""PUT /api/notes/<uuid>: the offline outbox's replay-safe write."""
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from relbuild.extensions import db
from relbuild.models import Note, NoteWrite, Prompt
from tests.conftest import PASSWORD

BODY = "Talked about her robotics club; she needs a mentor for the regional finals."


@pytest.fixture
def api(app, client, make_user, login):
    """A signed-in client with put(uuid, **fields) that sends the CSRF header like the outbox does."""
    me = make_user(name="Ann Author")
    login(client, me)

    def put(note_id=None, headers=None, **fields):
        token = client.get("/api/csrf").json["token"]
        return client.put(f"/api/notes/{note_id or uuid.uuid4()}", json=fields,
                          headers={"X-CSRFToken": token, **(headers or {})})

    put.me = me
    return put


def count(app, model=Note) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_same_uuid_again_is_the_same_note(app, api, make_user):
    person = make_user(name="Bea")
    write = str(uuid.uuid4())
    first = api(write, badge=person.token, body=BODY, offer="Intro to my old coach",
                met_at="2026-11-29T10:15:00+01:00")
    assert first.status_code == 201 and first.json["id"] == write and first.json["person"] == "Bea"
    again = api(write, badge=person.token, body=BODY, offer="Intro to my old coach")
    assert again.status_code == 200 and again.json["id"] == write
    assert count(app) == 1
    with app.app_context():
        note = db.session.get(Note, write)
        assert note.met_at == datetime(2026, 11, 29, 9, 15)  # stored in UTC
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Prompt)) == 3  # scheduled once


def test_two_offline_notes_about_one_person_become_one_with_history(app, api, make_user):
    person = make_user(name="Bea")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert api(first, badge=person.token, body="First thoughts: robotics club mentor needed").status_code == 201
    merged = api(second, badge=person.token, body=BODY, offer="Ask my old coach")
    assert merged.status_code == 200 and merged.json["id"] == first
    assert count(app) == 1
    with app.app_context():
        note = db.session.get(Note, first)
        assert note.body == BODY and note.offer == "Ask my old coach"  # the later write wins
        history = db.session.get(NoteWrite, second)
        assert history.previous_body == "First thoughts: robotics club mentor needed"  # nothing lost
    assert api(second, badge=person.token, body=BODY, offer="Ask my old coach").status_code == 200
    assert count(app, NoteWrite) == 2


def test_history_shows_on_the_person_page(app, api, client, make_user):
    person = make_user(name="Bea")
    api(badge=person.token, body="First thoughts: robotics club mentor needed")
    api(badge=person.token, body=BODY)
    page = client.get(f"/people/{person.public_id}").data.decode()
    assert "Earlier versions" in page and "First thoughts: robotics club mentor needed" in page


@pytest.mark.parametrize("note_id, fields, status, code", [
    ("not-a-uuid", {"badge": "x", "body": BODY}, 400, "bad_id"),
    (None, {"badge": "nope", "body": BODY}, 404, "badge_unknown"),
    (None, {"body": BODY}, 404, "badge_unknown"),
    (None, {"badge": "{person}", "body": "too short"}, 422, "body_too_short"),
    (None, {"badge": "{person}", "body": BODY, "offer": "o" * 501}, 422, "offer_too_long"),
    (None, {"badge": "{person}", "body": ["list"]}, 422, "bad_field"),
    (None, {"badge": "{person}", "body": BODY, "met_at": "yesterday"}, 422, "bad_met_at"),
    (None, {"badge": "{me}", "body": BODY}, 422, "own_badge"),
])
def test_bad_writes_get_a_json_error_and_change_nothing(app, api, make_user, note_id, fields, status, code):
    person = make_user()
    fields = {k: (v.format(person=person.token, me=api.me.token) if isinstance(v, str) else v)
              for k, v in fields.items()}
    response = api(note_id, **fields)
    assert response.status_code == status
    assert response.json["error"] == code and response.json["message"]
    assert count(app) == 0


def test_not_json_is_refused(api, client):
    token = client.get("/api/csrf").json["token"]
    response = client.put(f"/api/notes/{uuid.uuid4()}", data="body=hi", headers={"X-CSRFToken": token})
    assert response.status_code == 400 and response.json["error"] == "bad_json"


def test_signed_out_and_missing_csrf_are_json_errors(app, client, make_user):
    person = make_user()
    signed_out = client.put(f"/api/notes/{uuid.uuid4()}", json={"badge": person.token, "body": BODY},
                            headers={"X-CSRFToken": client.get("/api/csrf").json["token"]})
    assert signed_out.status_code == 401 and signed_out.json["error"] == "not_signed_in"
    no_token = client.put(f"/api/notes/{uuid.uuid4()}", json={"badge": person.token, "body": BODY})
    assert no_token.status_code == 400 and no_token.json["error"] == "csrf_failed"
    assert count(app) == 0


def test_someone_elses_write_id_is_a_conflict(app, api, make_user, login):
    person = make_user()
    write = str(uuid.uuid4())
    api(write, badge=person.token, body=BODY)
    other = login(app.test_client(), make_user())
    token = other.get("/api/csrf").json["token"]
    response = other.put(f"/api/notes/{write}", json={"badge": person.token, "body": BODY},
                         headers={"X-CSRFToken": token})
    assert response.status_code == 409 and response.json["error"] == "write_conflict"
    with app.app_context():
        assert db.session.get(Note, write).author_id == api.me.id


def test_a_meeting_is_never_in_the_future(app, api, make_user):
    person = make_user()
    future = (datetime.utcnow() + timedelta(days=3)).isoformat() + "Z"
    note_id = api(badge=person.token, body=BODY, met_at=future).json["id"]
    with app.app_context():
        assert db.session.get(Note, note_id).met_at <= datetime.utcnow()


def test_a_badge_replaced_after_an_offline_scan_still_takes_the_note(app, api, client, make_user, login):
    person = make_user(name="Bea")
    scanned = (datetime.utcnow() - timedelta(minutes=5)).isoformat() + "Z"
    owner = login(app.test_client(), person)
    assert owner.submit("/badge/replace", {"password": PASSWORD}).status_code == 302
    assert api(badge=person.token, body=BODY, met_at=scanned).status_code == 201


def test_csrf_endpoint_is_never_cached(client):
    response = client.get("/api/csrf")
    assert response.json["token"] and response.json["signed_in"] is False
    assert "no-store" in response.headers["Cache-Control"]
