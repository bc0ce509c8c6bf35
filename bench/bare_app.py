"""A bare Flask app: the baseline the note-writing and load benchmarks compare against (`bare_app:app`).

It answers every path and method with a plain "ok", so the load generator can send exactly
the same requests (same path, cookie and form body) it sends to the real app.
"""
from flask import Flask

app = Flask(__name__)


@app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT"])
@app.route("/<path:path>", methods=["GET", "POST", "PUT"])
def ok(path: str):
    return "ok"
