"""Organizer workloads: a 1,000-badge sheet and a 5,000-row attendee import.

    .venv/bin/python bench/events.py            # full size
    .venv/bin/python bench/events.py --quick    # a small smoke run

Badge sheet: time to render the PDF (8 badges a page, laid out by WeasyPrint), first and second
time (QR images are cached per link). Import: preview (parse and check) and confirm (one
transaction: accounts, badges, attendance, invitation rows) through the real routes on SQLite.
"""
from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 badges and 500 rows")
    args = parser.parse_args()
    badges, rows = (100, 500) if args.quick else (1000, 5000)

    work = Path(tempfile.mkdtemp(prefix="relbuild-events-"))
    os.environ.update(SECRET_KEY="bench", DATABASE_URL=f"sqlite:///{work / 'events.db'}",
                      BASE_URL="https://relbuild.example")
    from relbuild import create_app
    from relbuild.extensions import db, limiter
    from relbuild.services.printing import badge_sheet, qr_image

    app = create_app({"WTF_CSRF_ENABLED": False})
    limiter.enabled = False
    with app.test_request_context():
        db.create_all()
        sample = [(f"Attendee Number {n:04d}", "Looking for a summer internship in data journalism",
                   f"https://relbuild.example/c/{n:032d}", "ABCDEFGH") for n in range(badges)]
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            pdf = badge_sheet(sample, event_name="Spring Career Fair", size="a4")
            timings.append(time.perf_counter() - start)
        cached = qr_image.cache_info()

    client = app.test_client()
    client.post("/register", data={"name": "Olga Organizer", "email": "olga@example.com",
                                   "password": "violet harbour lantern"})
    created = client.post("/events/new", data={"name": "Fair", "venue": "Hall", "starts_at": "2026-03-14T10:00",
                                               "ends_at": "2026-03-14T16:00", "timezone": "UTC"})
    event_url = created.headers["Location"]
    csv = "name,email,headline\n" + "".join(f"Person {n},person{n}@example.org,Student\n" for n in range(rows))
    start = time.perf_counter()
    preview = client.post(f"{event_url}/import", data={"file": (io.BytesIO(csv.encode()), "list.csv")},
                          content_type="multipart/form-data")
    preview_s = time.perf_counter() - start
    confirm_url = re.search(r'action="(/events/\d+/import/[0-9a-f-]+)"', preview.data.decode()).group(1)
    start = time.perf_counter()
    done = client.post(confirm_url)
    confirm_s = time.perf_counter() - start
    assert f"{rows} new accounts" in done.data.decode(), done.data[:500]

    pages = (badges + 7) // 8
    print(f"Organizer workloads on {machine()}, SQLite")
    print(f"badge sheet, {badges} badges ({pages} A4 pages, {len(pdf) / 1024:.0f} KB): "
          f"{timings[0]:.2f} s first, {timings[1]:.2f} s again (QR cache {cached.hits} hits)")
    print(f"attendee import, {rows} rows: preview {preview_s:.2f} s, confirm {confirm_s:.2f} s")


if __name__ == "__main__":
    main()
