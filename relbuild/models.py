"""Database models. Invariants the database can hold live here as constraints.

All datetimes are stored as naive UTC.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


def utcnow() -> datetime:
    """Current time as naive UTC, the form stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_uuid() -> str:
    return str(uuid.uuid4())


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=lambda: uuid.uuid4().hex)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(80))
    headline: Mapped[str] = mapped_column(sa.String(120), default="")
    values: Mapped[list] = mapped_column(sa.JSON, default=list)
    can_help_with: Mapped[str] = mapped_column(sa.String(300), default="")
    looking_for: Mapped[str] = mapped_column(sa.String(300), default="")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    share_email: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    badges: Mapped[list["Badge"]] = relationship(back_populates="user", cascade="all, delete-orphan")

    # Flask-Login: the id kept in the cookie is the server-side session id, not the user id,
    # so that logging out (deleting that row) really ends the session.
    session_id = None
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str | None:
        return self.session_id

    @property
    def current_badge(self) -> "Badge | None":
        return next((b for b in self.badges if b.replaced_at is None), None)


class LoginSession(db.Model):
    """One signed-in browser. Deleting the row signs that browser out."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class Badge(db.Model):
    """A personal QR badge. Replaced badges are kept so old links can say so."""

    __tablename__ = "badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    short_code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    replaced_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(back_populates="badges")


class Note(db.Model):
    """The one note an author keeps about one person."""

    __tablename__ = "notes"
    __table_args__ = (
        sa.UniqueConstraint("author_id", "subject_id", name="uq_note_author_subject"),
        sa.Index("ix_notes_author_met", "author_id", "met_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_uuid)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(sa.Text)
    offer: Mapped[str] = mapped_column(sa.Text, default="")
    met_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    subject: Mapped[User] = relationship(foreign_keys=[subject_id])
