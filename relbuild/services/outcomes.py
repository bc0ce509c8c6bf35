"""What organizers see after an event: a few noisy figures published three times, never live.

The rule (README, "What organizers see"): an organizer can control every attendee but one
(puppet accounts), so any exact figure would give away that one person's activity by
subtraction, and any figure that moves while they watch would give it away by difference.
So activity figures are

- published only at fixed stages: a day, a week and a month after the event ends, each computed
  once and kept (reloading shows the same numbers; nothing is live);
- bounded per person: one person's notes count at most CLIP times in any figure, and once per
  hour in the hourly chart;
- blurred by random noise of about that size (a two-sided geometric draw, the discrete Laplace
  mechanism of differential privacy), drawn once per figure per stage;
- withheld below MIN_GROUP active people.

Only the number of attendees is exact: attendance is not activity, and the organizer's
attendee list shows it anyway.
"""
from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Event, EventAttendee, EventOutcome, Note, User, utcnow
from .collation import sorted_by_name
from .events import local

MIN_GROUP = 10  # fewer active people than this (after noise): no figures at all
CLIP = 10  # one person's notes count at most this often in a figure
HOUR_SCALE = 2  # noise on each bar of the hourly chart, where one person counts at most once
STAGES = (("day", 1), ("week", 7), ("month", 30))  # published this many days after the event ends
QUARTER = 15 * 60  # seconds

Noise = Callable[[float], int]


def geometric_noise(scale: float) -> int:
    """A two-sided geometric draw (discrete Laplace) with the given scale, from the system's randomness."""
    rng = secrets.SystemRandom()
    p = 1 - math.exp(-1 / scale)

    def draw() -> int:
        return int(math.log(1 - rng.random()) / math.log(1 - p))  # failures before the first success

    return draw() - draw()


@dataclass
class Outcomes:
    joined: int
    stage: str | None = None  # the stage of the figures shown; None before the first
    next_at: datetime | None = None  # when the next stage is published
    figures: dict = field(default_factory=dict)

    @property
    def broken_out(self) -> bool:
        return bool(self.figures) and self.figures["active"] >= MIN_GROUP

    @property
    def hours(self) -> list[tuple[str, int]]:
        return [tuple(pair) for pair in self.figures.get("hours", [])]

    def share(self, part: str) -> str:
        notes = self.figures.get("notes", 0)
        from ..i18n import percent

        return percent(round(self.figures[part] / notes, 2)) if notes else "–"


def stage_times(event: Event) -> list[tuple[str, datetime]]:
    return [(name, event.ends_at + timedelta(days=days)) for name, days in STAGES]


def outcomes(event: Event, now: datetime | None = None, noise: Noise = geometric_noise) -> Outcomes:
    """The dashboard: attendees joined, and the latest published stage (publishing it if it is due)."""
    now = now or utcnow()
    joined = db.session.scalar(sa.select(sa.func.count()).where(EventAttendee.event_id == event.id))
    due = [(name, at) for name, at in stage_times(event) if at <= now]
    later = [at for _, at in stage_times(event) if at > now]
    result = Outcomes(joined=joined, next_at=later[0] if later else None)
    if due:
        result.stage = due[-1][0]
        result.figures = _published(event, result.stage, noise)
    return result


def _published(event: Event, stage: str, noise: Noise) -> dict:
    stored = db.session.get(EventOutcome, (event.id, stage))
    if stored is not None:
        return stored.figures
    figures = measure(event, noise)
    try:
        db.session.add(EventOutcome(event_id=event.id, stage=stage, figures=figures))
        db.session.commit()
    except IntegrityError:  # another request published this stage a moment ago: show that one
        db.session.rollback()
        figures = db.session.get(EventOutcome, (event.id, stage)).figures
    return figures


def measure(event: Event, noise: Noise = geometric_noise) -> dict:
    """The figures, each person's part bounded and each figure blurred once."""
    per_author = db.session.execute(
        sa.select(Note.author_id, sa.func.count(), sa.func.count().filter(Note.offer != ""),
                  sa.func.count().filter(Note.followed_up_at.is_not(None)))
        .where(Note.event_id == event.id).group_by(Note.author_id)).all()

    def blurred(total: int, scale: float) -> int:
        return max(0, total + noise(scale))

    active = blurred(len(per_author), 1)
    notes = blurred(sum(min(n, CLIP) for _, n, _, _ in per_author), CLIP)
    figures = {
        "active": active,
        "notes": notes,
        "with_offer": min(notes, blurred(sum(min(o, CLIP) for _, _, o, _ in per_author), CLIP)),
        "followed_up": min(notes, blurred(sum(min(f, CLIP) for _, _, _, f in per_author), CLIP)),
    }
    if active >= MIN_GROUP:
        figures["hours"] = [[label, blurred(count, HOUR_SCALE)] for label, count in people_per_hour(event)]
    return figures


def _epoch_seconds(moment):
    """Seconds since 1970 of a stored (naive UTC) time, in SQL."""
    if db.engine.dialect.name == "sqlite":
        # From the text's whole seconds: SQLite's strftime would round 09:59:59.9996 up to 10:00.
        return sa.cast(sa.func.strftime("%s", sa.func.substr(moment, 1, 19)), sa.BigInteger)
    # date_part is a double (floored to whole seconds, as above): twice as fast to group as extract's numeric.
    return sa.cast(sa.func.floor(sa.func.date_part("epoch", moment)), sa.BigInteger)


def people_per_hour(event: Event) -> list[tuple[str, int]]:
    """How many people wrote notes in each hour of the event (each counted once an hour), in its time zone."""
    tz = ZoneInfo(event.timezone)
    start = local(event, event.starts_at).replace(minute=0, second=0, microsecond=0)
    end = local(event, event.ends_at)
    slots: dict[datetime, set[int]] = {}
    slot = start
    while slot < end and len(slots) < 24 * 14:
        slots[slot] = set()
        slot = (slot.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(tz)
    # The database lists who wrote in each quarter hour from the first slot (zone offsets are whole quarter
    # hours, so a quarter never straddles two local hours); here each quarter goes to its hour.
    first = start.astimezone(timezone.utc).replace(tzinfo=None)
    offset = _epoch_seconds(Note.met_at) - sa.literal(int(start.timestamp()), sa.BigInteger)
    quarter = (offset - offset % QUARTER).label("quarter")
    rows = db.session.execute(sa.select(quarter, Note.author_id).where(Note.event_id == event.id,
                                                                       Note.met_at >= first).distinct())
    for seconds, author_id in rows:
        moment = first + timedelta(seconds=int(seconds))
        hour = moment.replace(tzinfo=timezone.utc).astimezone(tz).replace(minute=0, second=0, microsecond=0)
        if hour in slots:
            slots[hour].add(author_id)
    one_day = (end - start) < timedelta(days=1)
    from ..i18n import format_moment

    return [(format_moment(hour, "hour" if one_day else "weekday_hour"), len(people)) for hour, people in slots.items()]


def attendee_rows(event: Event) -> list[tuple[User, datetime]]:
    """(person, joined at) for the attendee list and its export, in collation order of names:
    who is there, never what they did."""
    stmt = (sa.select(User, EventAttendee.joined_at).join(EventAttendee, EventAttendee.user_id == User.id)
            .where(EventAttendee.event_id == event.id).order_by(User.id))
    return sorted_by_name((tuple(row) for row in db.session.execute(stmt)), lambda row: row[0].name)
