"""A smoke run of the scale benchmark (bench/scale.py --smoke): it completes and its query plans use indexes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


def test_scale_benchmark_smoke_run_uses_indexes(tmp_path):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("the scale benchmark needs PostgreSQL: set DATABASE_URL to a postgresql:// URL")
    # Its own scratch database, next to the suite's; the script creates and drops it.
    scratch = make_url(url).set(database="relbuild_scale_smoke").render_as_string(hide_password=False)
    report = tmp_path / "scale.json"
    done = subprocess.run([sys.executable, "bench/scale.py", "--smoke", "--database-url", scratch,
                           "--json", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(report.read_text())
    assert results["times"]["follow-up pass"]["sent"] == results["size"]["due"] == results["received"]
    assert {plan["for"] for plan in results["plans"]} == {"/people", "/people?q=", "dashboard", "follow-up pass"}
    assert not [plan["sql"] for plan in results["plans"] if plan["seq_scans"]]
    assert all(plan["indexes"] for plan in results["plans"])
