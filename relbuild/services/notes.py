"""The one note a person keeps about each person they met."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Badge, Note, NoteWrite, Prompt, User, new_uuid, utcnow
from .errors import RelbuildError
from .badges import refuse_unusable
from .events import event_at
from .followups import OFFER_CHECK, CANCEL_OFFER_CHECK, new_note_prompts, offer_check_prompt
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


@dataclass(frozen=True)
class SavedNote:
    id: str
    body: str
    offer: str
    created: bool


# What a write needs to know about the note it may edit, read in one statement before anything is written.
_open_check = (sa.exists().where(Prompt.note_id == Note.id, Prompt.kind == OFFER_CHECK, Prompt.status == "pending")
               .correlate(Note.__table__))
_CURRENT = (Note.id, Note.body, Note.offer, Note.met_at, Note.followed_up_at, Note.offer_done_at,
            _open_check.label("has_check"))
_UNREAD = object()
# Built once: making a statement costs more CPU than SQLite takes to run one of these.
_BY_BADGE = (sa.select(Badge.user_id, User.name, *_CURRENT).join(User, User.id == Badge.user_id)
             .outerjoin(Note, sa.and_(Note.author_id == sa.bindparam("author"), Note.subject_id == Badge.user_id))
             .where(Badge.token == sa.bindparam("token"), Badge.replaced_at.is_(None)))
_BY_TOKEN = (sa.select(Badge.user_id, Badge.replaced_at, User.name, *_CURRENT,
                       sa.select(NoteWrite.note_id).where(NoteWrite.id == sa.bindparam("write_id"))
                       .scalar_subquery().label("written_to"))
             .join(User, User.id == Badge.user_id)
             .outerjoin(Note, sa.and_(Note.author_id == sa.bindparam("author"), Note.subject_id == Badge.user_id))
             .where(Badge.token == sa.bindparam("token")))
_BY_WRITE = (sa.select(Note.author_id, Note.subject_id, *_CURRENT).join(NoteWrite, NoteWrite.note_id == Note.id)
             .where(NoteWrite.id == sa.bindparam("write_id")))
_BY_PAIR = sa.select(*_CURRENT).where(Note.author_id == sa.bindparam("author"),
                                      Note.subject_id == sa.bindparam("subject"))
_INSERT_NOTE, _INSERT_WRITE, _INSERT_PROMPT = (sa.insert(Note.__table__), sa.insert(NoteWrite.__table__),
                                               sa.insert(Prompt.__table__))
# Only while the note still holds the text the write read: otherwise another save came first, and the text it
# wrote must go to history too (_Overtaken: read again, write again).
_UPDATE_NOTE = sa.update(Note.__table__).where(Note.id == sa.bindparam("note_id"),
                                               Note.body == sa.bindparam("was_body"),
                                               Note.offer == sa.bindparam("was_offer"))
ATTEMPTS = 8  # each try lost means another save about the same person landed in the meantime


class _Overtaken(Exception):
    """The note changed between the write's read and its UPDATE."""


def save_note(author: User, subject: User, body: str, offer: str = "", met_at: datetime | None = None,
              write_id: str | None = None) -> tuple[Note, bool]:
    """Create or update the author's one note about the subject; returns (note, created).

    Replay-safe: `write_id` (made by the client) identifies this write, so sending it again changes
    nothing new. A second write about the same person (say, two offline scans) updates the one note:
    the later write wins and the text it replaced is kept in the note's history.
    """
    saved = write_note(author, subject.id, body, offer, met_at=met_at, write_id=write_id)
    # The write went around the ORM: refresh a copy of the note this session may already hold.
    return db.session.get(Note, saved.id, populate_existing=True), saved.created


def save_note_by_badge(connection: sa.Connection, author, token: str, body: str,
                       offer: str = "") -> tuple[SavedNote, str] | None:
    """The badge page's form: save the author's note about the owner of a current badge; (note, owner's name).

    None when the badge is unknown, replaced or the author's own (the page says why). The badge, its
    owner and the author's note about them are read in one statement; no ORM objects are made: all of
    it runs on `connection`, outside the ORM session, and the author is anything with the columns
    `id`, `timezone` and `prompt_hour` (an `Identity`). The text is checked by write_note.
    """
    row = connection.execute(_BY_BADGE, {"author": author.id, "token": token}).first() if len(token) <= 64 else None
    if row is None or row.user_id == author.id:
        connection.rollback()
        return None
    current = row if row.id is not None else None
    return write_note(author, row.user_id, body, offer, current=current, connection=connection), row.name


def sync_note(connection: sa.Connection, author, token: str, body: str, offer: str, *, met_at: datetime | None,
              write_id: str) -> tuple[SavedNote, str]:
    """The phone's outbox (PUT /api/notes/<write_id>): save_note by badge token, replay-safe; (note, owner's name).

    Refuses as badge_by_token and save_note do. The badge (a retired one may still take a note met before it
    was replaced), its owner, the author's note about them and where this write id already went are read in
    one statement, on `connection`, without ORM objects (the author: an `Identity` is enough).
    """
    row = connection.execute(_BY_TOKEN, {"author": author.id, "token": token, "write_id": write_id}).first() \
        if len(token) <= 64 else None
    refuse_unusable(row, met_before=met_at)
    current, replay = (row if row.id is not None else None), row.written_to is not None
    if replay and row.written_to != row.id:
        current = _UNREAD  # this id went to another note: the general way below says so
    return write_note(author, row.user_id, body, offer, met_at=met_at, write_id=write_id, current=current,
                      replay=replay, connection=connection), row.name


def write_note(author, subject_id: int, body: str, offer: str = "", *, met_at: datetime | None = None,
               write_id: str | None = None, current=_UNREAD, replay: bool = False,
               connection: sa.Connection | None = None) -> SavedNote:
    """save_note's work in SQL statements (no ORM objects): every read first, then one short write transaction.

    `current`: the note as the caller already read it (columns of _CURRENT; None: there is none), and then
    `replay`: whether `write_id` was already written to it. Unread, both are read here.
    `connection`: a Core connection to write on and commit (default: the ORM session's, committed by it).
    """
    if author.id == subject_id:
        raise RelbuildError("own_badge", _("This is your own badge: keep notes about the people you meet."))
    body, offer = _check(body, offer)
    from_client = write_id is not None  # (an id the server makes cannot have been written before)
    write_id = write_id or new_uuid()
    transaction = connection if connection is not None else db.session
    overtaken = False
    for _attempt in range(ATTEMPTS):
        try:
            return _write(transaction, author, subject_id, body, offer, met_at, write_id, current, replay, from_client)
        except (IntegrityError, _Overtaken) as error:
            # A concurrent request (a retry of this very write, or another write about the same person)
            # committed first; the next try reads what it wrote and becomes a replay or an edit of it.
            transaction.rollback()
            current, overtaken = _UNREAD, isinstance(error, _Overtaken)
    if overtaken:
        raise RelbuildError("write_conflict", _("Someone saved this note at the same moment. Try again."), status=409)
    raise RelbuildError("write_conflict", _("This note id is already used for something else."), status=409)


def _write(transaction, author, subject_id: int, body: str, offer: str, met_at: datetime | None, write_id: str,
           current, replay: bool, from_client: bool) -> SavedNote:
    """`transaction`: a Core connection or the ORM session; the statements run on its connection, then it commits."""
    connection = transaction if isinstance(transaction, sa.Connection) else transaction.connection()
    if current is _UNREAD:
        replay = False
        earlier = connection.execute(_BY_WRITE, {"write_id": write_id}).first() if from_client else None
        if earlier is not None:
            if (earlier.author_id, earlier.subject_id) != (author.id, subject_id):
                raise RelbuildError("write_conflict", _("This note id is already used for something else."), status=409)
            current, replay = earlier, True
        else:
            current = connection.execute(_BY_PAIR, {"author": author.id, "subject": subject_id}).first()
    now = utcnow()
    statements: list[tuple] = []
    if current is not None:
        changed = (current.body, current.offer) != (body, offer)
        # A phone's write is kept by its id (replay-safety); the text a write replaced is the note's history.
        # (An id the server made, with no text replaced, would be a row nobody ever reads.)
        if not replay and (from_client or changed):
            statements.append((_INSERT_WRITE, {
                "id": write_id, "note_id": current.id, "received_at": now,
                "previous_body": current.body if changed else None,
                "previous_offer": current.offer if changed else None}))
        if changed:
            statements.append((_UPDATE_NOTE, {"note_id": current.id, "was_body": current.body,
                                              "was_offer": current.offer, "body": body, "offer": offer,
                                              "updated_at": now}))
            offer_open = bool(offer) and current.offer_done_at is None
            if offer_open and not current.has_check:
                statements.append((_INSERT_PROMPT, offer_check_prompt(
                    author, current.id, current.met_at, created=False, followed_up_at=current.followed_up_at,
                    now=now)))
            elif not offer_open and current.has_check:
                statements.append((CANCEL_OFFER_CHECK, {"cancel_note_id": current.id}))
        created, note_id = False, current.id
    else:
        # A phone's clock can run ahead; a meeting is never in the future.
        met_at = min(met_at or now, now)
        event = event_at(connection, author.id, met_at)
        # One timestamp for both: a new note never looks "edited".
        statements.append((_INSERT_NOTE, {
            "id": write_id, "author_id": author.id, "subject_id": subject_id, "body": body, "offer": offer,
            "met_at": met_at, "created_at": now, "updated_at": now, "event_id": event[0] if event else None}))
        if from_client:
            statements.append((_INSERT_WRITE, {"id": write_id, "note_id": write_id, "received_at": now}))
        prompts = new_note_prompts(author, write_id, met_at, event)
        if offer:
            prompts.append(offer_check_prompt(author, write_id, met_at, created=True))
        statements.append((_INSERT_PROMPT, prompts))
        created, note_id = True, write_id
    # The write transaction: a few statements, then commit. (SQLite writers once took turns on a lock of the
    # process first; with these few statements, leaving it to SQLite measured faster: BENCHMARKS.md.)
    for statement, params in statements:
        done = connection.execute(statement, params)
        if statement is _UPDATE_NOTE and done.rowcount == 0:
            raise _Overtaken
    transaction.commit()
    return SavedNote(note_id, body, offer, created)


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
