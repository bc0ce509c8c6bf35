"""What organizers see after an event: aggregates only, never a note, never who met whom."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..extensions import db
from ..models import Event, EventAttendee, Note, User
from .collation import sorted_by_name
from .events import local

MIN_GROUP = 5  # fewer active people than this: no breakdowns, so no one can be singled out
QUARTER = 15 * 60  # seconds


@dataclass
class Outcomes:
    joined: int
    active: int
    notes: int
    with_offer: int
    followed_up: int
    hours: list[tuple[str, int]] = field(default_factory=list)

    @property
    def broken_out(self) -> bool:
        return self.active >= MIN_GROUP

    def share(self, part: int) -> str:
        return f"{round(100 * part / self.notes)}%" if self.notes else "–"


def outcomes(event: Event) -> Outcomes:
    """Counts for the dashboard, computed in the database."""
    joined = db.session.scalar(sa.select(sa.func.count()).where(EventAttendee.event_id == event.id))
    row = db.session.execute(
        sa.select(sa.func.count(sa.distinct(Note.author_id)), sa.func.count(),
                  sa.func.count().filter(Note.offer != ""), sa.func.count().filter(Note.followed_up_at.is_not(None)))
        .where(Note.event_id == event.id)
    ).one()
    result = Outcomes(joined=joined, active=row[0], notes=row[1], with_offer=row[2], followed_up=row[3])
    if result.broken_out:
        result.hours = notes_per_hour(event)
    return result


def _epoch_seconds(moment):
    """Seconds since 1970 of a stored (naive UTC) time, in SQL."""
    if db.engine.dialect.name == "sqlite":
        # From the text's whole seconds: SQLite's strftime would round 09:59:59.9996 up to 10:00.
        return sa.cast(sa.func.strftime("%s", sa.func.substr(moment, 1, 19)), sa.BigInteger)
    # date_part is a double (floored to whole seconds, as above): twice as fast to group as extract's numeric.
    return sa.cast(sa.func.floor(sa.func.date_part("epoch", moment)), sa.BigInteger)


def notes_per_hour(event: Event) -> list[tuple[str, int]]:
    """Notes written in each hour of the event, in the event's time zone."""
    tz = ZoneInfo(event.timezone)
    start = local(event, event.starts_at).replace(minute=0, second=0, microsecond=0)
    end = local(event, event.ends_at)
    slots: dict[datetime, int] = {}
    slot = start
    while slot < end and len(slots) < 24 * 14:
        slots[slot] = 0
        slot = (slot.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(tz)
    # The database counts notes per quarter hour from the first slot (zone offsets are whole quarter hours, so
    # a quarter never straddles two local hours); here each quarter goes to its hour. Python then does the same
    # work for 15,000 notes as for 15 (bench/scale.py).
    first = start.astimezone(timezone.utc).replace(tzinfo=None)
    offset = _epoch_seconds(Note.met_at) - sa.literal(int(start.timestamp()), sa.BigInteger)
    quarter = (offset - offset % QUARTER).label("quarter")
    counts = db.session.execute(sa.select(quarter, sa.func.count()).where(Note.event_id == event.id,
                                                                          Note.met_at >= first).group_by(quarter))
    for seconds, count in counts:
        moment = first + timedelta(seconds=int(seconds))
        hour = moment.replace(tzinfo=timezone.utc).astimezone(tz).replace(minute=0, second=0, microsecond=0)
        if hour in slots:
            slots[hour] += count
    one_day = (end - start) < timedelta(days=1)
    return [(f"{hour:%H}" if one_day else f"{hour:%a %H}", count) for hour, count in slots.items()]


def attendee_rows(event: Event) -> list[tuple[User, datetime, bool]]:
    """(person, joined at, wrote at least one note during the event), in collation order of names."""
    active = sa.select(Note.author_id).where(Note.event_id == event.id).distinct().scalar_subquery()
    stmt = (sa.select(User, EventAttendee.joined_at, User.id.in_(active))
            .join(EventAttendee, EventAttendee.user_id == User.id)
            .where(EventAttendee.event_id == event.id).order_by(User.id))
    return sorted_by_name((tuple(row) for row in db.session.execute(stmt)), lambda row: row[0].name)
