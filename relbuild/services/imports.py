"""Attendee import: check a CSV, show every problem, then write it all in one transaction."""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from ..extensions import db
from ..models import AttendeeImport, Event, EventAttendee, Prompt, User, utcnow
from .accounts import create_invited
from .badges import issue_badges
from .errors import RelbuildError
from .followups import INVITATION

MAX_ROWS = 20_000
CHUNK = 500


def _decode(data: bytes) -> str:
    # Excel's "Unicode text" is UTF-16 with a byte order mark.
    utf16 = ("utf-16",) if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else ()
    for encoding in (*utf16, "utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.replace("\x00", "")  # never meant in a CSV, and PostgreSQL keeps no NUL in text
    raise RelbuildError("bad_encoding", "Save the file as CSV (UTF-8) and upload it again.", "file")


def _read(reader) -> Iterator[list[str]]:
    """The reader's rows; a broken file is refused, never a 500."""
    try:
        yield from reader
    except csv.Error as error:  # e.g. a cell longer than the csv module allows
        raise RelbuildError("bad_csv", f"Line {reader.line_num} could not be read ({error}). Save the file as CSV "
                            "(UTF-8) and upload it again.", "file")


def _email(raw: str) -> str | None:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def parse_rows(data: bytes) -> list[dict]:
    """Rows of name, email, headline with the problems of each; nothing is written."""
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = _read(csv.reader(io.StringIO(text), dialect))
    header = [h.strip().lower() for h in next(reader, [])]
    if "name" not in header or "email" not in header:
        raise RelbuildError("bad_header", "The first line must name the columns: name,email (and headline if you "
                            "have it).", "file")
    column = {name: header.index(name) for name in ("name", "email", "headline") if name in header}
    rows, seen = [], {}
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise RelbuildError("too_many_rows", f"Import at most {MAX_ROWS:,} people at a time.", "file")

        def cell(name):
            index = column.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        name, raw_email, headline = " ".join(cell("name").split()), cell("email"), cell("headline")
        problems = []
        if not name:
            problems.append("missing name")
        elif len(name) > 80:
            problems.append("name longer than 80 characters")
        email = _email(raw_email) if raw_email else None
        if not raw_email:
            problems.append("missing email")
        elif email is None:
            problems.append(f"“{raw_email[:60]}” is not an email address")
        elif email in seen:
            problems.append(f"duplicate of line {seen[email]}")
        else:
            seen[email] = line
        rows.append({"line": line, "name": name, "email": email or raw_email[:254], "headline": headline[:120],
                     "problems": problems})
    if not rows:
        raise RelbuildError("empty", "The file has no attendees under its header line.", "file")
    return rows


def _existing(emails: list[str]) -> dict[str, User]:
    found = {}
    for start in range(0, len(emails), CHUNK):
        chunk = emails[start:start + CHUNK]
        found.update({u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(chunk)))})
    return found


def _attending(event: Event, user_ids: list[int]) -> set[int]:
    ids = set()
    for start in range(0, len(user_ids), CHUNK):
        chunk = user_ids[start:start + CHUNK]
        ids.update(db.session.scalars(sa.select(EventAttendee.user_id).where(
            EventAttendee.event_id == event.id, EventAttendee.user_id.in_(chunk))))
    return ids


def preview(event: Event, uploader: User, data: bytes) -> AttendeeImport:
    """Check an upload and keep it for confirmation; each good row says what importing will do."""
    rows = parse_rows(data)
    good = [r for r in rows if not r["problems"]]
    existing = _existing([r["email"] for r in good])
    attending = _attending(event, [u.id for u in existing.values()])
    for row in good:
        user = existing.get(row["email"])
        row["status"] = "new" if user is None else ("already" if user.id in attending else "existing")
    batch = AttendeeImport(event_id=event.id, uploaded_by=uploader.id, rows=rows)
    db.session.add(batch)
    db.session.commit()
    return batch


def summary_of(rows: list[dict]) -> dict:
    counts = {"new": 0, "existing": 0, "already": 0, "bad": 0}
    for row in rows:
        counts["bad" if row["problems"] else row["status"]] += 1
    return counts


def confirm(batch: AttendeeImport) -> dict:
    """Write the import in one transaction (once): new accounts with invitations, existing ones added."""
    if batch.finished_at is not None:
        return batch.summary
    event = db.session.get(Event, batch.event_id)
    good = [r for r in batch.rows if not r["problems"]]
    existing = _existing([r["email"] for r in good])  # checked again: someone may have signed up since
    created = []
    for row in good:
        if row["email"] not in existing:
            user = create_invited(row["name"], row["email"], row["headline"])
            created.append(user)
            existing[row["email"]] = user
    db.session.flush()
    issue_badges([user.id for user in created])
    attending = _attending(event, [u.id for u in existing.values()])
    added = [u for u in existing.values() if u.id not in attending]
    now = utcnow()
    db.session.add_all(EventAttendee(event_id=event.id, user_id=u.id, joined_at=now, imported=True) for u in added)
    db.session.add_all(Prompt(user_id=u.id, event_id=event.id, kind=INVITATION, due_at=now, next_attempt_at=now)
                       for u in created)
    summary = {"created": len(created), "added": len(added) - len(created),
               "already": len(good) - len(added), "bad": len(batch.rows) - len(good)}
    batch.finished_at, batch.summary = now, summary
    db.session.commit()
    return summary


def import_for(event: Event, import_id: str) -> AttendeeImport:
    batch = db.session.get(AttendeeImport, import_id) if len(import_id) <= 36 else None
    if batch is None or batch.event_id != event.id:
        raise RelbuildError("import_unknown", "That import is not here any more. Upload the file again.", status=404)
    return batch

