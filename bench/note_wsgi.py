"""The Relbuild app as gunicorn serves it for the note-writing and load benchmarks (`note_wsgi:app`).

Identical to `app.py` except that rate limits are off: every benchmark client comes from
127.0.0.1, and the per-IP limit on POST /c/<token> (120/minute) would otherwise refuse most
of the load after the first second.
"""
from relbuild import create_app

app = create_app({"RATELIMIT_ENABLED": False})
