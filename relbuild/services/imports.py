"""Attendee import: check a CSV, show every row and problem, then send all its invitations in one transaction."""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from ..extensions import db
from ..models import AttendeeImport, Event, User, utcnow
from .errors import RelbuildError
from .invitations import ATTENDING, INVITE, INVITED, invite, plan
from ..i18n import gettext as _, number

MAX_ROWS = 20_000
PREVIEW_LIFETIME = timedelta(days=1)
PREVIEW_PAGE = 200  # rows on one page of the preview


def _decode(data: bytes) -> str:
    # Excel's "Unicode text" is UTF-16 with a byte order mark.
    utf16 = ("utf-16",) if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else ()
    for encoding in (*utf16, "utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.replace("\x00", "")  # never meant in a CSV, and PostgreSQL keeps no NUL in text
    raise RelbuildError("bad_encoding", _("Save the file as CSV (UTF-8) and upload it again."), "file")


def _read(reader) -> Iterator[list[str]]:
    """The reader's rows; a broken file is refused, never a 500."""
    try:
        yield from reader
    except csv.Error as error:  # e.g. a cell longer than the csv module allows
        raise RelbuildError("bad_csv", _("Line %(line_num)s could not be read (%(error)s). Save the file as CSV (UTF-8) and upload it again.", line_num=reader.line_num, error=error), "file")


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
        raise RelbuildError("bad_header", _("The first line must name the columns: name,email (and headline if you have it)."), "file")
    column = {name: header.index(name) for name in ("name", "email", "headline") if name in header}
    rows, seen = [], {}
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise RelbuildError("too_many_rows", _("Import at most %(max_rows)s people at a time.", max_rows=number(MAX_ROWS)), "file")

        def cell(name):
            index = column.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        name, raw_email, headline = " ".join(cell("name").split()), cell("email"), cell("headline")
        problems = []
        if not name:
            problems.append(_("missing name"))
        elif len(name) > 80:
            problems.append(_("name longer than 80 characters"))
        email = _email(raw_email) if raw_email else None
        if not raw_email:
            problems.append(_("missing email"))
        elif email is None:
            problems.append(_("“%(address)s” is not an email address", address=raw_email[:60]))
        elif email in seen:
            problems.append(_("duplicate of line %(line)s", line=seen[email]))
        else:
            seen[email] = line
        rows.append({"line": line, "name": name, "email": email or raw_email[:254], "headline": headline[:120],
                     "problems": problems})
    if not rows:
        raise RelbuildError("empty", _("The file has no attendees under its header line."), "file")
    return rows


def preview(event: Event, uploader: User, data: bytes, now: datetime | None = None) -> AttendeeImport:
    """Check an upload and keep it for confirmation; nothing is sent or joined until then.

    Each good row says what confirming will do: invite the address (the same words whether or not
    it has an account), or nothing because it was invited before or is already attending.
    """
    now = now or utcnow()
    rows = parse_rows(data)
    good = [r for r in rows if not r["problems"]]
    status = plan(event, [r["email"] for r in good])
    for row in good:
        row["status"] = status[row["email"]]
    # Previews never confirmed are dropped after a day (they hold people's addresses).
    db.session.execute(sa.delete(AttendeeImport).where(AttendeeImport.finished_at.is_(None),
                                                       AttendeeImport.created_at < now - PREVIEW_LIFETIME))
    batch = AttendeeImport(event_id=event.id, uploaded_by=uploader.id, rows=rows, created_at=now)
    db.session.add(batch)
    db.session.commit()
    return batch


def summary_of(rows: list[dict]) -> dict:
    counts = {INVITE: 0, INVITED: 0, ATTENDING: 0, "bad": 0}
    for row in rows:
        counts["bad" if row["problems"] else row["status"]] += 1
    return counts


def confirm(batch: AttendeeImport, organizer: User) -> dict:
    """Send the import's invitations in one transaction (once); RelbuildError when over the limits."""
    if batch.finished_at is not None:
        return batch.summary
    event = db.session.get(Event, batch.event_id)
    good = [r for r in batch.rows if not r["problems"]]
    invited = invite(event, organizer, good)  # checked again: someone may have joined since the preview
    summary = {"invited": invited, "already": len(good) - invited, "bad": len(batch.rows) - len(good)}
    # The addresses are not kept once the invitations exist.
    batch.finished_at, batch.summary, batch.rows = utcnow(), summary, []
    db.session.commit()
    return summary


def import_for(event: Event, import_id: str, now: datetime | None = None) -> AttendeeImport:
    now = now or utcnow()
    batch = db.session.get(AttendeeImport, import_id) if len(import_id) <= 36 else None
    if batch is None or batch.event_id != event.id:
        raise RelbuildError("import_unknown", _("That import is not here any more. Upload the file again."), status=404)
    if batch.finished_at is None and batch.created_at < now - PREVIEW_LIFETIME:
        raise RelbuildError("import_expired", _("This preview is more than a day old. Upload the file again."),
                            status=410)
    return batch


def forget_address(email: str) -> None:
    """Take an address out of every import still waiting for confirmation (its owner deleted their account)."""
    for batch in db.session.scalars(sa.select(AttendeeImport).where(AttendeeImport.finished_at.is_(None))):
        rows = [row for row in batch.rows if row.get("email") != email]
        if len(rows) != len(batch.rows):
            batch.rows = rows
