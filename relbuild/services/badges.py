"""Personal QR badges: unguessable tokens, hand-typable short codes, QR renderings."""
from __future__ import annotations

import io
import re
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
import zxingcpp
from flask import current_app
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Badge, User, utcnow
from .errors import RelbuildError
from ..i18n import gettext as _, lazy_gettext as _l

# No 0/O, 1/I/L or U/V pairs: safe to read off a badge and type by hand.
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_CODE_LENGTH = 8
TOKEN_BYTES = 24  # 192 bits
OFFLINE_GRACE = timedelta(days=14)  # how long after a replacement a phone may still sync a note met before it


def badge_url(token: str) -> str:
    """The public link a badge's QR code encodes."""
    return f"{current_app.config['BASE_URL']}/c/{token}"


def new_code() -> str:
    """A random code people can read off paper and type: badge short codes and event join codes."""
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


def format_short_code(code: str) -> str:
    """Show a short code in two groups of four, e.g. 'K7QM-3XPA'."""
    return f"{code[:4]}-{code[4:]}"


def normalize_short_code(raw: str) -> str:
    """Strip spaces and dashes and upper-case: codes are case-insensitive."""
    return re.sub(r"[\s\-_.]", "", raw or "").upper()


def issue_badge(user: User) -> Badge:
    """Give the user a fresh current badge (the caller commits)."""
    for _attempt in range(5):
        short_code = new_code()
        taken = db.session.scalar(sa.select(Badge.id).where(Badge.short_code == short_code))
        if taken is None:
            break
    badge = Badge(user=user, token=secrets.token_urlsafe(TOKEN_BYTES), short_code=short_code)
    db.session.add(badge)
    return badge


def replace_badge(user: User) -> Badge:
    """Retire the user's current badge and issue a new token and short code."""
    now = utcnow()
    db.session.execute(
        sa.update(Badge).where(Badge.user_id == user.id, Badge.replaced_at.is_(None)).values(replaced_at=now)
    )
    db.session.expire(user, ["badges"])
    badge = issue_badge(user)
    db.session.commit()
    return badge


def badge_by_token(token: str, *, met_before: datetime | None = None, now: datetime | None = None) -> Badge:
    """Return the current badge for a token; RelbuildError 'badge_replaced' (410) or 'badge_unknown' (404).

    `met_before`: a note written offline says when its author met the owner. A retired badge still
    takes it when that was before the badge was replaced and the phone sends it within
    OFFLINE_GRACE of the replacement; nothing else gets past a retired badge.
    """
    badge = db.session.scalar(sa.select(Badge).options(joinedload(Badge.user)).where(Badge.token == token)) \
        if len(token) <= 64 else None
    refuse_unusable(badge, met_before, now)
    return badge


def refuse_unusable(badge, met_before: datetime | None = None, now: datetime | None = None) -> None:
    """badge_by_token's refusals for a badge (or a row with its `replaced_at`) as read: None when unknown."""
    if badge is None:
        raise RelbuildError("badge_unknown", _("There is no badge with this link."), status=404)
    if badge.replaced_at is not None:
        now = now or utcnow()
        offline = met_before is not None and met_before < badge.replaced_at <= now <= badge.replaced_at + OFFLINE_GRACE
        if not offline:
            raise RelbuildError("badge_replaced", _("This badge was replaced by its owner."), status=410)


NEVER_USED = _l("0, O, 1, I, L and U")


def code_problem(code: str, what: str = "badge") -> str | None:
    """Why a normalised code cannot be one, in words that say how to fix it (None when it could be)."""
    strange = sorted({c for c in code if c not in SHORT_CODE_ALPHABET})
    if strange:
        shown = ", ".join(f"“{c}”" for c in strange)
        if what == "event":
            return _("Codes never use %(never)s (they look too alike), so %(shown)s cannot be in an event code. "
                     "Check the code against the poster: a letter that looks like one of these is another character.",
                     never=NEVER_USED, shown=shown)
        return _("Codes never use %(never)s (they look too alike), so %(shown)s cannot be in a badge code. "
                 "Check the code against the badge: a letter that looks like one of these is another character.",
                 never=NEVER_USED, shown=shown)
    if len(code) != SHORT_CODE_LENGTH:
        if what == "event":
            return _("An event code has %(length)s letters and digits, like K7QM-3XPA; this one has %(count)s.",
                     length=SHORT_CODE_LENGTH, count=len(code))
        return _("A badge code has %(length)s letters and digits, like K7QM-3XPA; this one has %(count)s.",
                 length=SHORT_CODE_LENGTH, count=len(code))
    return None


def badge_by_short_code(raw: str) -> Badge:
    """Return the current badge for a typed short code, or raise RelbuildError on the 'code' field."""
    code = normalize_short_code(raw)
    problem = code_problem(code)
    if problem:
        raise RelbuildError("bad_code", problem, "code")
    badge = db.session.scalar(sa.select(Badge).where(Badge.short_code == code, Badge.replaced_at.is_(None)))
    if badge is None:
        raise RelbuildError("code_unknown", _("No badge has this code. Check it against the badge and try again."),
                            "code", status=404)
    return badge


@lru_cache(maxsize=4096)
def qr_matrix(data: str) -> tuple[tuple[bool, ...], ...]:
    """The QR modules of `data` (error correction M), quiet zone of 4 modules included.

    zxing-cpp's encoder picks the version and the mask itself (it scores all eight masks, as the
    standard says): a fixed mask left some codes hard for some decoders. It does so in 0.5 ms a
    code, where scoring masks in pure Python took 10 ms.
    """
    image = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(add_quiet_zones=True)
    height, width = image.shape
    pixels = bytes(memoryview(image))
    return tuple(tuple(pixels[y * width + x] < 128 for x in range(width)) for y in range(height))


def qr_runs(data: str) -> tuple[int, list[tuple[int, int, int]]]:
    """(size, dark runs as (x, y, length) row by row from the top): what the SVG and PDF draw."""
    matrix = qr_matrix(data)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append((start, y, x - start))
            else:
                x += 1
    return len(matrix), runs


def qr_svg(data: str) -> str:
    """A crisp, high-contrast QR code as SVG: black modules on white, with the quiet zone."""
    size, runs = qr_runs(data)
    path = "".join(f"M{x} {y}h{length}v1h-{length}z" for x, y, length in runs)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges" role="img" aria-label="QR code">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>'
    )


def qr_png(data: str, scale: int = 12) -> bytes:
    """The same QR code as a PNG, `scale` pixels per module."""
    from PIL import Image

    matrix = qr_matrix(data)
    size = len(matrix)
    image = Image.new("1", (size, size), 1)
    image.putdata([0 if cell else 1 for row in matrix for cell in row])
    out = io.BytesIO()
    image.resize((size * scale, size * scale), Image.NEAREST).save(out, format="PNG", optimize=True)
    return out.getvalue()
