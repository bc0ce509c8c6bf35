"""The one note a person keeps about each person they met."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Note, NoteWrite, User, new_uuid, utcnow
from .errors import RelbuildError
from .events import event_at
from .followups import schedule_for_note
from ..i18n import gettext as _, number

BODY_MIN, BODY_MAX, OFFER_MAX = 10, 2000, 500
SPECIFIC_WORDS = 6
VAGUE_PHRASES = (
    "great chat", "good chat", "nice chat", "great talk", "good talk", "nice talk", "great conversation",
    "good conversation", "nice conversation", "nice person", "nice guy", "nice girl", "great person",
    "good person", "cool person", "cool guy", "interesting person", "nice to meet", "nice meeting",
    "great to meet", "good to meet", "lovely chat", "smart person",
    # French: the same small talk, so the coaching works for notes written in French too.
    "super discussion", "bonne discussion", "belle discussion", "chouette discussion", "discussion sympa",
    "discussion intéressante", "super conversation", "bonne conversation", "conversation sympa", "super échange",
    "bon échange", "bel échange", "personne sympa", "personne intéressante", "personne géniale", "super personne",
    "gars sympa", "fille sympa", "très sympa", "super rencontre", "belle rencontre", "ravi de rencontrer",
    "ravie de rencontrer", "contente de rencontrer", "content de rencontrer",
)


def coach_note(body: str) -> str | None:
    """A gentle hint when a note is vague ('great chat'); None when it has something specific."""
    words = re.findall(r"\w+", body or "")
    lowered = " ".join(w.lower() for w in words)
    vague = any(phrase in lowered for phrase in VAGUE_PHRASES)
    if len(words) < SPECIFIC_WORDS or (vague and len(words) < 2 * SPECIFIC_WORDS):
        return _("Future you will thank you for one specific detail: a project they mentioned, "
                 "a question they asked, or what surprised you.")
    return None


def _check(body: str, offer: str) -> tuple[str, str]:
    body, offer = (body or "").strip(), (offer or "").strip()
    if len(body) < BODY_MIN:
        raise RelbuildError("body_too_short",
                            _("Write at least %(body_min)s characters: what did you talk about, what stood out?", body_min=BODY_MIN), "body")
    if len(body) > BODY_MAX:
        raise RelbuildError("body_too_long", _("Keep the note under %(body_max)s characters.", body_max=number(BODY_MAX)), "body")
    if len(offer) > OFFER_MAX:
        raise RelbuildError("offer_too_long", _("Keep the offer under %(offer_max)s characters.", offer_max=OFFER_MAX), "offer")
    return body, offer


def note_about(author: User, subject: User) -> Note | None:
    """The author's note about the subject, if they wrote one."""
    return db.session.scalar(sa.select(Note).where(Note.author_id == author.id, Note.subject_id == subject.id))


def save_note(author: User, subject: User, body: str, offer: str = "", met_at: datetime | None = None,
              write_id: str | None = None) -> tuple[Note, bool]:
    """Create or update the author's one note about the subject; returns (note, created).

    Replay-safe: `write_id` (made by the client) identifies this write, so sending it again changes
    nothing new. A second write about the same person (say, two offline scans) updates the one note:
    the later write wins and the text it replaced is kept in the note's history.
    """
    if author.id == subject.id:
        raise RelbuildError("own_badge", _("This is your own badge: keep notes about the people you meet."))
    body, offer = _check(body, offer)
    write_id = write_id or new_uuid()
    for _attempt in range(2):
        try:
            return _write(author, subject, body, offer, met_at, write_id)
        except IntegrityError:
            # A concurrent request (a retry of this very write, or another write about the same
            # person) committed first; the second try sees it and becomes a replay or an edit.
            db.session.rollback()
    raise RelbuildError("write_conflict", _("This note id is already used for something else."), status=409)


def _write(author: User, subject: User, body: str, offer: str, met_at: datetime | None,
           write_id: str) -> tuple[Note, bool]:
    earlier = _replayed(author, subject, write_id)
    if earlier is not None:
        return _update(earlier, body, offer, write=None), False
    note = note_about(author, subject)
    if note is not None:
        return _update(note, body, offer, write=NoteWrite(id=write_id, note_id=note.id)), False
    # A phone's clock can run ahead; a meeting is never in the future.
    now = utcnow()
    met_at = min(met_at or now, now)
    # One timestamp for both: a new note never looks "edited".
    note = Note(id=write_id, author_id=author.id, subject_id=subject.id, body=body, offer=offer, met_at=met_at,
                created_at=now, updated_at=now, event_id=event_at(author.id, met_at))
    db.session.add_all([note, NoteWrite(id=write_id, note_id=write_id)])
    db.session.flush()
    schedule_for_note(note, created=True)
    db.session.commit()
    return note, True


def _replayed(author: User, subject: User, write_id: str) -> Note | None:
    """The note an earlier write with this id went to, if any."""
    write = db.session.get(NoteWrite, write_id)
    if write is None:
        return None
    note = db.session.get(Note, write.note_id)
    if note.author_id != author.id or note.subject_id != subject.id:
        raise RelbuildError("write_conflict", _("This note id is already used for something else."), status=409)
    return note


def _update(note: Note, body: str, offer: str, write: NoteWrite | None) -> Note:
    changed = (note.body, note.offer) != (body, offer)
    if write is not None:
        if changed:
            write.previous_body, write.previous_offer = note.body, note.offer
        db.session.add(write)
    if changed:
        note.body, note.offer, note.updated_at = body, offer, utcnow()
        schedule_for_note(note, created=False)
    db.session.commit()
    return note


def note_history(note: Note) -> list[NoteWrite]:
    """Earlier texts of a note that later writes replaced, newest first."""
    return list(db.session.scalars(sa.select(NoteWrite).where(NoteWrite.note_id == note.id,
                                                             NoteWrite.previous_body.is_not(None))
                                   .order_by(NoteWrite.received_at.desc())))


@dataclass(frozen=True)
class PersonEntry:
    person: User
    note: Note


def my_people(author: User, query: str = "", event_id: int | None = None) -> list[PersonEntry]:
    """Everyone the author has a note about, newest first; `query` searches names and note text."""
    stmt = (sa.select(Note, User).join(User, User.id == Note.subject_id)
            .where(Note.author_id == author.id).order_by(Note.met_at.desc(), Note.created_at.desc()))
    if event_id is not None:
        stmt = stmt.where(Note.event_id == event_id)
    query = (query or "").strip()
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(User.name.ilike(pattern, escape="\\"), Note.body.ilike(pattern, escape="\\"),
                                 Note.offer.ilike(pattern, escape="\\"), User.headline.ilike(pattern, escape="\\")))
    return [PersonEntry(person=user, note=note) for note, user in db.session.execute(stmt)]


def connected_with_me(user: User) -> list[tuple[User, datetime]]:
    """People who wrote a note about the user that the user has not noted back, newest first.

    Only who and when: never the content of their note.
    """
    mine = aliased(Note)
    stmt = (sa.select(User, Note.met_at).join(Note, Note.author_id == User.id)
            .where(Note.subject_id == user.id)
            .where(~sa.exists().where(mine.author_id == user.id, mine.subject_id == User.id))
            .order_by(Note.met_at.desc()))
    return [(person, met_at) for person, met_at in db.session.execute(stmt)]


def person_for(viewer: User, public_id: str) -> User:
    """A person the viewer is connected with (either wrote a note about); otherwise 404."""
    person = db.session.scalar(sa.select(User).where(User.public_id == public_id)) if len(public_id) <= 32 else None
    if person is not None and person.id != viewer.id:
        linked = db.session.scalar(sa.select(sa.func.count()).select_from(Note).where(sa.or_(
            sa.and_(Note.author_id == viewer.id, Note.subject_id == person.id),
            sa.and_(Note.author_id == person.id, Note.subject_id == viewer.id))))
        if linked:
            return person
    raise RelbuildError("person_unknown", _("You have no connection with this person yet."), status=404)
