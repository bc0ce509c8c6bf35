"""Migrations build exactly the schema the models describe."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from relbuild import models  # noqa: F401  (registers the tables on db.metadata)
from relbuild.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def upgrade_and_compare(url: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "SECRET_KEY": "x", "FLASK_APP": "app"}
    result = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == [], diff


def test_db_upgrade_on_a_fresh_sqlite_file_matches_the_models(tmp_path):
    upgrade_and_compare(f"sqlite:///{tmp_path / 'fresh.db'}")


def test_db_upgrade_on_a_fresh_postgresql_database_matches_the_models():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("DATABASE_URL is not PostgreSQL")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"relbuild_migrations_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        upgrade_and_compare(admin.url.set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_imported_attendances_become_pending_invitations(tmp_path):
    """People an import enrolled before consent existed are not attendees after the upgrade: they are invited."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "SECRET_KEY": "x", "FLASK_APP": "app"}

    def flask_db(*args):
        result = subprocess.run([sys.executable, "-m", "flask", "db", *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr

    flask_db("upgrade", "c3a9d1e0acc1")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for n, email in ((1, "imported@example.com"), (2, "joined@example.com")):
            connection.execute(sa.text(
                "INSERT INTO users (id, public_id, email, password_hash, name, headline, \"values\", can_help_with,"
                " looking_for, timezone, share_email, email_prompts, prompt_hour, created_at)"
                f" VALUES ({n}, 'p{n}', '{email}', 'x', 'Person {n}', 'Hi', '[]', '', '', 'UTC', 0, 1, 9,"
                " '2026-01-01 00:00:00')"))
        connection.execute(sa.text("INSERT INTO events (id, name, venue, description, starts_at, ends_at, timezone,"
                                   " join_code, created_at) VALUES (1, 'Fair', '', '', '2026-03-14 09:00:00',"
                                   " '2026-03-14 15:00:00', 'UTC', 'ABCDEFGH', '2026-01-01 00:00:00')"))
        connection.execute(sa.text("INSERT INTO event_attendees (event_id, user_id, joined_at, imported) VALUES"
                                   " (1, 1, '2026-02-01 00:00:00', 1), (1, 2, '2026-02-02 00:00:00', 0)"))
        connection.execute(sa.text("INSERT INTO login_sessions (id, user_id, created_at) VALUES"
                                   " ('s1', 2, '2026-02-03 00:00:00')"))
    flask_db("upgrade")
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT user_id FROM event_attendees")).scalars().all() == [2]
        assert connection.execute(sa.text("SELECT event_id, email, name, role, status FROM invitations")).all() == [
            (1, "imported@example.com", "Person 1", "attendee", "pending")]
        session = connection.execute(sa.text("SELECT public_id, last_seen_at FROM login_sessions")).one()
        assert len(session[0]) == 32 and str(session[1]).startswith("2026-02-03")
    flask_db("downgrade", "c3a9d1e0acc1")  # and back
    engine.dispose()
