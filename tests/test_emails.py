"""Every kind of email, as mail programs and spam filters meet it: parsed, scored and checked.

The kinds come from the code (followups.PROMPT_KINDS and ACCOUNT_KINDS), so a kind added later is checked
here as soon as it exists; every template in templates/email/ must be used by one of them.
"""
from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from pathlib import Path

import pytest

from relbuild.extensions import db
from relbuild.models import Event, Invitation, Note, Prompt, User
from relbuild.services import followups
from relbuild.services.delivery import render_email
from relbuild.services.events import create_event, join_event
from relbuild.services.notes import save_note
from tests.perception import english_runs, nu_errors, spam_scores

TEMPLATES = Path(__file__).resolve().parents[1] / "relbuild" / "templates" / "email"
ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
MET = datetime(2026, 3, 14, 11, 30)


@pytest.fixture(params=["en", "fr"])
def messages(request, app, make_user, monkeypatch):
    """One rendered message of every kind (digests with and without an event, of one and of two notes), in each
    language: the recipient's (the author's here; an invitation to an address with no account: the event's)."""
    author = make_user(name="Zoë Łukasiewicz-Ødegård", email="zoe@example.com", timezone="Europe/Warsaw",
                       language=request.param)
    first = make_user(name="Émile Gaudé-Lefèvre de Saint-Étienne", headline="Étudiant en génie électrique",
                      share_email=True)
    second = make_user(name="王小明", headline="设计实习生")
    used: set[str] = set()
    import relbuild.services.delivery as delivery

    real_render = delivery._Catalog.render
    monkeypatch.setattr(delivery._Catalog, "render",
                        lambda words, name, context: used.add(name) or real_render(words, name, context))
    rendered = {}
    with app.test_request_context(base_url=app.config["BASE_URL"]):
        me = db.session.get(User, author.id)
        event = create_event(me, name="Salon de l'emploi d'hiver 2026 — École d'ingénieurs et de design",
                             venue="Grand Hall", starts_at="2026-03-14T10:00", ends_at="2026-03-14T16:00",
                             timezone="Europe/Warsaw", language=request.param)
        join_event(me, event)
        at_event, _ = save_note(me, db.session.get(User, first.id),
                                "Émile builds tide-powered lamps; asked how to find a workshop for the winter.",
                                offer="Send him the address of the maker space in Gdańsk", met_at=MET)
        elsewhere, _ = save_note(me, db.session.get(User, second.id), "小明 sketches bike lanes for his city.",
                                 offer="", met_at=datetime(2026, 4, 2, 15, 0))
        db.session.commit()
        assert at_event.event_id == event.id and elsewhere.event_id is None

        def prompt(kind: str, note: Note | None, group: str | None = None, **fields) -> Prompt:
            fields = {"user_id": me.id, **fields}
            row = Prompt(note_id=note.id if note else None, event_id=event.id, kind=kind,
                         due_at=MET, next_attempt_at=MET, group_key=group, **fields)
            db.session.add(row)
            db.session.flush()
            return row

        def invitation(role: str) -> dict:
            row = Invitation(event_id=event.id, email=f"{role}@example.org", role=role, invited_by=me.id)
            db.session.add(row)
            db.session.flush()
            return {"user_id": None, "address": row.email, "invitation_id": row.id}

        for kind in followups.PROMPT_KINDS + followups.ACCOUNT_KINDS:
            extra = invitation("attendee") if kind == followups.INVITATION else {}
            if kind == followups.EMAIL_CHANGED:
                extra = {"address": "zoe.old@example.com"}
            rendered[kind] = render_email([prompt(kind, at_event, **extra)])
        rendered["co-organizer invitation"] = render_email([prompt(followups.INVITATION, None,
                                                                   **invitation("organizer"))])
        rendered["email change confirmation"] = render_email([prompt(followups.CONFIRM_EMAIL, None,
                                                                     address="zoe.new@example.com")])
        rendered["digest of a day"] = render_email([prompt(followups.DIGEST, elsewhere)])
        rendered["digest of two"] = render_email([prompt(followups.DIGEST, at_event, "g"),
                                                   prompt(followups.DIGEST, elsewhere, "g")])
        db.session.rollback()
    unused = {path.name for path in TEMPLATES.iterdir()} - {name.split("/")[-1] for name in used}
    assert unused == set(), "email templates no kind renders: add their kind to PROMPT_KINDS or ACCOUNT_KINDS"
    return rendered


def test_every_kind_of_email_scores_zero_on_spamassassin(messages):
    scores = spam_scores({kind: message.data for kind, message in messages.items()})
    assert set(scores) == set(messages)
    assert {kind: score for kind, (score, _) in scores.items() if score != 0} == {}, scores


def test_every_kind_of_email_parses_without_defects_and_keeps_encoded_words_short(messages):
    for kind, message in messages.items():
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        head = message.data.split(b"\r\n\r\n", 1)[0].decode("ascii")  # headers are ASCII on the wire
        assert all(len(word) <= 75 for word in ENCODED_WORD.findall(head)), (kind, ENCODED_WORD.findall(head))
        assert all(len(line) <= 998 for line in message.data.split(b"\r\n")), kind
        assert [(part.get_content_type(), part.defects) for part in parsed.walk() if part.defects] == [], kind
        assert [(name, value.defects) for name, value in parsed.items() if value.defects] == [], kind
        assert parsed["Subject"] and "\n" not in str(parsed["Subject"]), kind
        text = parsed.get_body(("plain",)).get_content()
        html = parsed.get_body(("html",)).get_content()
        assert text.strip() and html.strip(), kind


def test_the_html_of_every_kind_of_email_passes_the_nu_checker(messages):
    documents = {kind: email.message_from_bytes(message.data, policy=email.policy.default)
                 .get_body(("html",)).get_content() for kind, message in messages.items()}
    assert nu_errors(documents) == []


def test_every_kind_of_email_reads_in_the_recipients_language(messages):
    parsed = {kind: email.message_from_bytes(message.data, policy=email.policy.default)
              for kind, message in messages.items()}
    french = any("Bonjour" in p.get_body(("plain",)).get_content() for p in parsed.values())
    for kind, message in parsed.items():
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        if not french:
            assert '<html lang="en">' in html, kind
            continue
        assert '<html lang="fr">' in html, kind
        seen = " ".join([str(message["Subject"]), text, re.sub(r"<[^>]+>", " ", html)])
        seen = " ".join(seen.split())
        english = sorted(run for run in english_runs() if run in seen)
        assert english == [], (kind, english)


def test_an_invitation_is_in_the_invitees_language_not_the_organizers(app, make_user):
    organizer = make_user(name="Organizer", email="org@example.com", language="en")
    make_user(name="Zoé", email="zoe@example.org", language="fr")
    with app.test_request_context(base_url=app.config["BASE_URL"]):
        me = db.session.get(User, organizer.id)
        event = create_event(me, name="Spring Fair", venue="Hall", starts_at="2026-03-14T10:00",
                             ends_at="2026-03-14T16:00", timezone="America/Montreal")
        assert event.language == "en"  # the organizer's
        rows = []
        for address in ("zoe@example.org", "nobody@example.org"):
            invitation = Invitation(event_id=event.id, email=address, role="attendee", invited_by=me.id)
            db.session.add(invitation)
            db.session.flush()
            rows.append(Prompt(kind=followups.INVITATION, user_id=None, address=address, invitation_id=invitation.id,
                               event_id=event.id, due_at=MET, next_attempt_at=MET))
        db.session.add_all(rows)
        db.session.flush()
        to_zoe, to_nobody = (email.message_from_bytes(render_email([row]).data, policy=email.policy.default)
                             for row in rows)
        assert str(to_zoe["Subject"]) == "Invitation à « Spring Fair » sur Relbuild"  # (headers fold every space)
        assert "Vous êtes invité·e à l’événement «\u00a0Spring Fair\u00a0» sur Relbuild, à «\u00a0Hall\u00a0»." in \
            to_zoe.get_body(("plain",)).get_content()
        assert "sam. 14 mars 2026, 10 h 00–16 h 00 (America/Montreal)" in to_zoe.get_body(("plain",)).get_content()
        assert str(to_nobody["Subject"]) == "Invitation to “Spring Fair” on Relbuild"  # no account: the event's
        db.session.rollback()


@pytest.mark.parametrize("body", [
    "Bonjour Émile,\n\nUne ligne très longue " + "é" * 90 + " fin.\n",
    "x" * 74 + " \nlast line without a newline",  # a space encoded at the very end of a full line
    "tabs\tat the end\t\n.a dot first\nFrom here\r\nold line endings\r\n" + "中文" * 40,
    "",
])
def test_a_body_reads_back_as_written_in_lines_a_mail_server_takes(app, body):
    from relbuild.mail import build_message

    with app.app_context():
        data = build_message(to="a@example.com", subject="S", text=body, html=f"<p>{body}</p>",
                             message_id="<m@example.com>").data
    assert all(len(line) <= 76 for line in data.split(b"\r\n\r\n", 1)[1].split(b"\r\n")), data
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    written = "\n".join(body.splitlines()) + ("\n" if body.endswith("\n") else "")
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == written
