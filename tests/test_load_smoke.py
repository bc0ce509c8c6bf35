"""A smoke run of the load benchmark (bench/load_fair.py): a small fair loses no notes and fails no request.

It runs on a scratch SQLite file, or, when DATABASE_URL names PostgreSQL, on a scratch database of
its own on that server (the suite's database is left alone).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


def test_a_small_fair_fails_nothing_and_loses_no_notes(tmp_path):
    command = [sys.executable, "bench/load_fair.py", "--smoke", "--json", str(tmp_path / "load.json")]
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql")):
        scratch = make_url(url.replace("postgres://", "postgresql://", 1))
        scratch = scratch.set(database=f"relbuild_load_smoke_{os.getpid()}")
        command += ["--database-url", scratch.render_as_string(hide_password=False)]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

    results = json.loads((tmp_path / "load.json").read_text())
    assert results["notes"]["notes_saved"] > 0
    assert results["notes"] == {**results["notes"], "lost": 0, "stale": 0, "unexpected": 0}
    for run in results["runs"]:
        assert run["errors"] == {}
        assert run["endpoints"]["POST /c/<token>"]["requests"] > 0
        assert run["endpoints"]["PUT /api/notes/<uuid>"]["requests"] > 0
