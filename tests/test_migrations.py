"""Migrations build exactly the schema the models describe."""
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from relbuild.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def test_db_upgrade_on_a_fresh_sqlite_file_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "SECRET_KEY": "x", "FLASK_APP": "app"}
    result = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == [], diff
