"""Everything about me, in one ZIP: JSON for machines, a CSV and vCards for people."""
from __future__ import annotations

import io
import json
import re
import unicodedata
import zipfile
from datetime import datetime

import sqlalchemy as sa

from ..extensions import db
from ..i18n import gettext as _, in_language
from ..models import Event, EventAttendee, EventOrganizer, Note, NoteWrite, Passkey, Prompt, User, utcnow
from .badges import badge_url
from .notes import connected_with_me
from .profiles import profile_url
from .spreadsheets import csv_text

def readme(when: str) -> str:
    """The export's README.txt in the reader's language (file and column names stay as they are: programs read them)."""
    lines = [_("Your Relbuild data, exported %(when)s (UTC).", when=when), "",
             "profile.json   " + _("your profile and settings"),
             "notes.json     " + _("every note you wrote, with its offer and earlier versions"),
             "prompts.json   " + _("the follow-up prompts made from your notes, and what you did about them"),
             "events.json    " + _("events you joined or organize"),
             "people.csv     " + _("everyone you met: your note and offer, and people who connected with you"),
             "contacts/      " + _("a vCard for each person who shares their email with their connections"), ""]
    return "\n".join(lines)


def _json(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


def _profile(user: User) -> dict:
    badge = user.current_badge
    return {
        "name": user.name, "email": user.email, "headline": user.headline, "values": user.values or [],
        "can_help_with": user.can_help_with, "looking_for": user.looking_for, "timezone": user.timezone,
        "share_email": user.share_email, "email_prompts": user.email_prompts, "prompt_hour": user.prompt_hour,
        "created_at": _iso(user.created_at),
        "badge": {"link": badge_url(badge.token), "short_code": badge.short_code}
        if badge else None,
        "calendar_feed": bool(user.calendar_token),
        # Names and dates only: a passkey's public key is no use to anyone outside this server.
        "passkeys": [{"name": p.name, "created_at": _iso(p.created_at), "last_used_at": _iso(p.last_used_at)}
                     for p in db.session.scalars(sa.select(Passkey).where(Passkey.user_id == user.id)
                                                 .order_by(Passkey.created_at))],
    }


def _notes(user: User) -> list[tuple[Note, User, Event | None]]:
    return [tuple(row) for row in db.session.execute(
        sa.select(Note, User, Event).join(User, User.id == Note.subject_id).outerjoin(Event, Event.id == Note.event_id)
        .where(Note.author_id == user.id).order_by(Note.met_at))]


def _note_json(note: Note, person: User, event: Event | None, history: list[NoteWrite]) -> dict:
    return {
        "person": {"name": person.name, "headline": person.headline, "link": profile_url(person),
                   "email": person.email if person.share_email else None},
        "body": note.body, "offer": note.offer, "met_at": _iso(note.met_at), "event": event.name if event else None,
        "created_at": _iso(note.created_at), "updated_at": _iso(note.updated_at),
        "followed_up_at": _iso(note.followed_up_at), "offer_done_at": _iso(note.offer_done_at),
        "earlier_versions": [{"body": w.previous_body, "offer": w.previous_offer, "replaced_at": _iso(w.received_at)}
                             for w in history],
    }


def _prompts(user: User) -> list[dict]:
    rows = db.session.execute(
        sa.select(Prompt, User.name).outerjoin(Note, Note.id == Prompt.note_id)
        .outerjoin(User, User.id == Note.subject_id).where(Prompt.user_id == user.id).order_by(Prompt.due_at))
    return [{"kind": p.kind, "person": name, "due_at": _iso(p.due_at), "status": p.status, "sent_at": _iso(p.sent_at),
             "action": p.action, "acted_at": _iso(p.acted_at)} for p, name in rows]


def _events(user: User) -> list[dict]:
    joined = {event_id: at for event_id, at in db.session.execute(
        sa.select(EventAttendee.event_id, EventAttendee.joined_at).where(EventAttendee.user_id == user.id))}
    organized = set(db.session.scalars(sa.select(EventOrganizer.event_id).where(EventOrganizer.user_id == user.id)))
    events = db.session.scalars(sa.select(Event).where(Event.id.in_(organized | set(joined))).order_by(Event.starts_at))
    return [{"name": e.name, "venue": e.venue, "starts_at": _iso(e.starts_at), "ends_at": _iso(e.ends_at),
             "timezone": e.timezone, "joined_at": _iso(joined.get(e.id)), "organizer": e.id in organized}
            for e in events]


def _vcard_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "")
            .replace(",", "\\,").replace(";", "\\;"))


def _east_asian(char: str) -> bool:
    return any(script in unicodedata.name(char, "") for script in ("CJK", "HANGUL", "HIRAGANA", "KATAKANA"))


def name_parts(name: str) -> tuple[str, str]:
    """(family, given) for vCard's N: "Ana María Ruiz" → ("Ruiz", "Ana María"), "Jan van der Berg" →
    ("van der Berg", "Jan"), "山田 太郎" → ("山田", "太郎") (family first); one word stays whole as the family."""
    words = name.split()
    if len(words) < 2:
        return name.strip(), ""
    if _east_asian(words[0][0]):
        return words[0], " ".join(words[1:])
    # Lower-case particles (van, de, von, da) belong to the family name that follows them.
    start = next((i for i in range(1, len(words) - 1) if words[i][0].islower()), len(words) - 1)
    return " ".join(words[start:]), " ".join(words[:start])


def fold(line: str) -> str:
    """A content line folded as vCard and iCalendar want: at most 75 octets a line, never inside a character."""
    lines, current, size = [], "", 0
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > 75:
            lines.append(current)
            current, size = " ", 1  # a continuation line starts with one space
        current += char
        size += octets
    return "\r\n".join([*lines, current])


def vcard(person: User, note: Note | None) -> str:
    """A vCard 3.0 for a person who shares their email, with my note about them."""
    family, given = name_parts(person.name)
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_vcard_text(person.name)}",
             f"N:{_vcard_text(family)};{_vcard_text(given)};;;",
             f"EMAIL;TYPE=INTERNET:{_vcard_text(person.email)}", f"URL:{profile_url(person)}"]
    if person.headline:
        lines.append(f"TITLE:{_vcard_text(person.headline)}")
    if note is not None:
        text = note.body + (f"\n\nI offered: {note.offer}" if note.offer else "")
        lines.append(f"NOTE:{_vcard_text(text)}")
    return "\r\n".join([*map(fold, lines), "END:VCARD", ""])


def _file_name(person: User, taken: set[str]) -> str:
    base = re.sub(r"[^\w-]+", "-", person.name, flags=re.UNICODE).strip("-")[:60] or "person"
    name, n = base, 2
    while name.lower() in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name.lower())
    return f"contacts/{name}.vcf"


def _people_csv(notes, connected) -> str:
    rows = [(person.name, person.headline, person.email if person.share_email else "", _iso(note.met_at),
             event.name if event else "", note.body, note.offer, _iso(note.followed_up_at), profile_url(person))
            for note, person, event in notes]
    rows += [(person.name, person.headline, person.email if person.share_email else "", _iso(met_at), "",
              "", "", "", profile_url(person)) for person, met_at in connected]
    return csv_text(["name", "headline", "email", "met_at", "event", "note", "offer", "followed_up_at", "link"], rows)


def export_zip(user: User) -> bytes:
    """The whole export as ZIP bytes."""
    notes = _notes(user)
    history: dict[str, list[NoteWrite]] = {}
    for write in db.session.scalars(sa.select(NoteWrite).join(Note).where(Note.author_id == user.id,
                                                                          NoteWrite.previous_body.is_not(None))
                                    .order_by(NoteWrite.received_at)):
        history.setdefault(write.note_id, []).append(write)
    connected = connected_with_me(user)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with in_language(user.language):
            archive.writestr("README.txt", readme(f"{utcnow():%Y-%m-%d %H:%M}"))
        archive.writestr("profile.json", _json(_profile(user)))
        archive.writestr("notes.json", _json([_note_json(n, p, e, history.get(n.id, [])) for n, p, e in notes]))
        archive.writestr("prompts.json", _json(_prompts(user)))
        archive.writestr("events.json", _json(_events(user)))
        archive.writestr("people.csv", _people_csv(notes, connected))
        taken: set[str] = set()
        for note, person in [(n, p) for n, p, _ in notes] + [(None, p) for p, _ in connected]:
            if person.share_email and person.deleted_at is None:
                archive.writestr(_file_name(person, taken), vcard(person, note))
    return buffer.getvalue()
