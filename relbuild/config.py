"""Settings from the environment (and a `.env` file); see CONTRACT.md."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _secret_key(instance_path: Path) -> str:
    """Return SECRET_KEY, or one generated on first start and kept in the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{instance_path / 'relbuild.db'}"
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants the driver named.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


SERVED_ORIGIN_FILE = "base_url"  # written by `make run` (scripts/serve.sh): the origin it serves


def _base_url(instance_path: Path) -> str:
    """BASE_URL, else the origin `make run` last served (so `flask …` by hand links there), else the default."""
    if os.environ.get("BASE_URL"):
        return os.environ["BASE_URL"].strip().rstrip("/")
    served = instance_path / SERVED_ORIGIN_FILE
    if served.exists() and served.read_text().strip():
        return served.read_text().strip().rstrip("/")
    return "http://127.0.0.1:5000"


def from_environment(instance_path: Path) -> dict:
    """Build the Flask config mapping from environment variables."""
    base_url = _base_url(instance_path)
    database_url = _database_url(instance_path)
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # A server connection can drop between requests; a local SQLite file cannot (and the ping costs a query).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": not database_url.startswith("sqlite")},
        "BASE_URL": base_url,
        "PREFERRED_URL_SCHEME": "https" if base_url.startswith("https://") else "http",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": base_url.startswith("https://"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": base_url.startswith("https://"),
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead; phones keep pages open for hours
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": int(os.environ.get("SMTP_PORT") or 0),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_SECURITY": os.environ.get("SMTP_SECURITY", "none").lower(),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Relbuild <relbuild@localhost>"),
        "OUTBOX_DIR": str(instance_path / "outbox"),
        "FOLLOWUP_LEASE_SECONDS": int(os.environ.get("FOLLOWUP_LEASE_SECONDS") or 300),
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL") or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "SEND_FILE_MAX_AGE_DEFAULT": 365 * 24 * 3600,  # static URLs carry a content hash (pwa.static_url)
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,  # a phone photo of a badge, or an attendee CSV
        "COMPRESS_MIMETYPES": ["text/html", "text/css", "application/javascript", "application/json",
                               "application/manifest+json", "image/svg+xml", "text/plain"],
        "PROXY_FIX_HOPS": int(os.environ.get("PROXY_FIX_HOPS") or 0),
    }
