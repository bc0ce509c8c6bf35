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
