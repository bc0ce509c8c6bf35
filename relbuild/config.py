"""Settings from the environment (and a `.env` file); see CONTRACT.md."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
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


VAPID_KEY_FILE = "vapid_private_key.pem"


def _vapid_private_key(instance_path: Path) -> str:
    """VAPID_PRIVATE_KEY (PEM, or the base64url key `vapid --gen` prints), else a P-256 key made once.

    The key made here is written with O_EXCL, so two processes starting together keep one key: a
    browser's push subscription is tied to the public half, and a new key would orphan every device.
    """
    if os.environ.get("VAPID_PRIVATE_KEY", "").strip():
        return os.environ["VAPID_PRIVATE_KEY"].strip().replace("\\n", "\n")
    key_file = instance_path / VAPID_KEY_FILE
    if not key_file.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    return key_file.read_text().strip()


def _vapid_subject(mail_from: str) -> str:
    if os.environ.get("VAPID_SUBJECT", "").strip():
        return os.environ["VAPID_SUBJECT"].strip()
    from email.utils import parseaddr

    return "mailto:" + (parseaddr(mail_from)[1] or "relbuild@localhost")


def _origins(value: str) -> tuple[str, ...]:
    """`http://127.0.0.1:8765, https://push.example.org/` → the origins, lower-cased, without a trailing slash."""
    return tuple(part.strip().rstrip("/").lower() for part in value.split(",") if part.strip())


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
    idle_days = int(os.environ.get("SESSION_IDLE_DAYS") or 14)
    max_days = int(os.environ.get("SESSION_MAX_DAYS") or 30)
    mail_from = os.environ.get("MAIL_FROM", "Relbuild <relbuild@localhost>")
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
        # Messages in flight at once on separate connections, and a cap on messages a second (providers
        # impose one, e.g. 14/s on a new Amazon SES account; unset: none).
        "SMTP_CONNECTIONS": max(1, int(os.environ.get("SMTP_CONNECTIONS") or 16)),
        "SMTP_MAX_PER_SECOND": float(os.environ.get("SMTP_MAX_PER_SECOND") or 0) or None,
        "MAIL_FROM": mail_from,
        # Web Push: the key that signs pushes (its public half is what browsers subscribe with), who we are
        # to push services, and the origins a subscription endpoint may use besides the known push services.
        "VAPID_PRIVATE_KEY": _vapid_private_key(instance_path),
        "VAPID_SUBJECT": _vapid_subject(mail_from),
        "PUSH_ALLOWED_ORIGINS": _origins(os.environ.get("PUSH_ALLOWED_ORIGINS", "")),
        "OUTBOX_DIR": str(instance_path / "outbox"),
        "FOLLOWUP_LEASE_SECONDS": int(os.environ.get("FOLLOWUP_LEASE_SECONDS") or 300),
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL") or "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,  # a phone photo of a badge, or an attendee CSV
        # Static scripts and styles are compressed by `make` (assets.py); these are compressed on the fly.
        "COMPRESS_MIMETYPES": ["text/html", "text/css", "text/javascript", "application/javascript",
                               "application/json", "application/manifest+json", "image/svg+xml", "text/plain"],
        "PROXY_FIX_HOPS": int(os.environ.get("PROXY_FIX_HOPS") or 0),
        # Sign-in sessions end after this many days unused, and this many days after signing in at the latest.
        "SESSION_IDLE_DAYS": idle_days,
        "SESSION_MAX_DAYS": max_days,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=max_days),  # the cookie lasts as long as the session can
        # ...from signing in: the server-side row keeps the idle limit, so the cookie is not signed again and
        # sent back on every request (only when what it holds changes).
        "SESSION_REFRESH_EACH_REQUEST": False,
        # Invitations (attendee imports, co-organizers): per organizer in any 24 hours, and per event.
        "INVITES_PER_ORGANIZER_DAY": int(os.environ.get("INVITES_PER_ORGANIZER_DAY") or 5000),
        "INVITES_PER_EVENT": int(os.environ.get("INVITES_PER_EVENT") or 10000),
        # /healthz gives details (backlog, worker) to this token or to the machine itself; "ok" to everyone.
        "HEALTHZ_TOKEN": os.environ.get("HEALTHZ_TOKEN", ""),
    }
