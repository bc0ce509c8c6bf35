"""Wrong-password limits per account address, counted in the database.

Every path that checks a password (log in, and re-entering it for a sensitive change) takes
one attempt from the same per-address allowance before it checks. The count lives in the
database, so it holds across web processes without Redis (`make run` starts two), and an
attempt is reserved before the check and given back only when the password was right, so
parallel guesses cannot slip past the limit either.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import PasswordFailures, utcnow
from .errors import RelbuildError
from ..i18n import gettext as _

MAX_FAILURES = 10
WINDOW = timedelta(minutes=5)


def _upsert(key: str, now: datetime, amount: int):
    insert = (postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert)(PasswordFailures)
    expired = PasswordFailures.window_start <= now - WINDOW
    return insert.values(key=key, window_start=now, failures=max(amount, 0)).on_conflict_do_update(
        index_elements=[PasswordFailures.key],
        set_={"failures": sa.case((expired, max(amount, 0)), else_=PasswordFailures.failures + amount),
              "window_start": sa.case((expired, now), else_=PasswordFailures.window_start)},
    )


def reserve_attempt(email: str, now: datetime | None = None) -> None:
    """Take one password attempt for this address, or raise RelbuildError 429 when none are left."""
    now = now or utcnow()
    key = f"email:{email.strip().lower()}"
    # The upsert locks the row (PostgreSQL) or the database (SQLite) until the commit: attempts are counted one at a time.
    db.session.execute(_upsert(key, now, 1))
    failures = db.session.scalar(sa.select(PasswordFailures.failures).where(PasswordFailures.key == key))
    db.session.commit()
    if failures > MAX_FAILURES:
        raise RelbuildError("too_many_attempts", _("Too many wrong passwords for this account. Wait five minutes, or reset your password."), status=429)


def release_attempt(email: str, now: datetime | None = None) -> None:
    """The password was right: the reserved attempt does not count as a failure."""
    key = f"email:{email.strip().lower()}"
    db.session.execute(sa.update(PasswordFailures).where(PasswordFailures.key == key, PasswordFailures.failures > 0)
                       .values(failures=PasswordFailures.failures - 1))
    db.session.commit()


def forget_old(now: datetime | None = None) -> None:
    """Drop counts whose window has passed (called now and then; they would be reset on next use anyway)."""
    now = now or utcnow()
    db.session.execute(sa.delete(PasswordFailures).where(PasswordFailures.window_start <= now - WINDOW))
    db.session.commit()
