"""Outgoing mail: building messages and sending them over SMTP, or into instance/outbox/."""
from __future__ import annotations

import binascii
import random
import re
import smtplib
import queue
import ssl
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email import quoprimime
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from pathlib import Path

from flask import current_app

CRLF = "\r\n"


@dataclass(frozen=True)
class OutgoingMail:
    """A message ready for the wire: its envelope and its bytes."""

    sender: str  # the envelope sender (MAIL FROM)
    to: str
    message_id: str
    data: bytes


def _header(name: str, value: str) -> str:
    """'Name: value'. User text (names) never breaks a header onto a new line; non-ASCII becomes RFC 2047 words,
    each at most 75 characters (RFC 2047) on folded lines of at most 76, counting the header's name."""
    value = " ".join(value.split())
    if not value.isascii():
        value = Header(value, "utf-8", maxlinelen=76, header_name=name).encode(linesep=CRLF)
    return f"{name}: {value}"


def _quoted_printable(text: str) -> str:
    """The body as quoted-printable lines of at most 76 characters ending in CRLF.

    binascii's encoder is C (quoprimime's pure Python took 8% of a follow-up pass); it picks CRLF for its
    soft breaks from the first line ending, so every line gets one. In the rare case where it wrote a line of
    77 (an encoded space at the very end of a full line), quoprimime does the body instead.
    """
    encoded = binascii.b2a_qp(b"\r\n".join(text.encode("utf-8").splitlines()) + b"\r\n", istext=True)
    if max(map(len, encoded.split(b"\r\n"))) > 76:
        # quoprimime works on one character per byte: hand it the UTF-8 bytes as latin-1.
        return quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), maxlinelen=76, eol=CRLF)
    return encoded.decode("ascii") if text.endswith(("\n", "\r")) else encoded[:-2].decode("ascii")


def build_message(*, to: str, subject: str, text: str, html: str, message_id: str,
                  headers: dict[str, str] | None = None) -> OutgoingMail:
    """A multipart text + HTML message (UTF-8, quoted-printable), written out directly.

    Python's email package parsed and folded every header of every message again while
    flattening: half of a follow-up pass's CPU. These headers are made here, so they are
    written as they are (long ones, like unsubscribe links, stay on one line).
    """
    sender, address = _sender(current_app.config["MAIL_FROM"])
    # "=_" never starts a quoted-printable line, so never in a body: the rest needs no secret randomness (the
    # OS's would release the GIL for every message, and the pass then waits behind the sending threads for it).
    boundary = f"=_{random.getrandbits(96):024x}"
    lines = [sender, f"To: {to}",
             _header("Subject", subject), f"Date: {formatdate(localtime=False)}",
             f"Message-ID: {message_id}", "Auto-Submitted: auto-generated",
             *(_header(key, value) for key, value in (headers or {}).items()),
             "MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
    for subtype, body in (("plain", text), ("html", html)):
        lines += [f"--{boundary}", f'Content-Type: text/{subtype}; charset="utf-8"',
                  "Content-Transfer-Encoding: quoted-printable", "", _quoted_printable(body)]
    lines += [f"--{boundary}--", ""]
    # UTF-8 only where an address itself is international (SMTPUTF8); everything else is ASCII by now.
    return OutgoingMail(sender=address, to=to, message_id=message_id, data=CRLF.join(lines).encode("utf-8"))


@lru_cache(maxsize=4)
def _sender(mail_from: str) -> tuple[str, str]:
    """MAIL_FROM as a From: header line, and its address (parsed once, not for every message)."""
    name, address = parseaddr(mail_from)
    return f"From: {formataddr((name, address), charset='utf-8')}", address


def mail_domain() -> str:
    """The domain used in Message-IDs: the host of BASE_URL."""
    return re.sub(r"^https?://", "", current_app.config["BASE_URL"]).split("/")[0].split(":")[0] or "localhost"


class OutboxFolder:
    """Without SMTP_HOST, each message is written as an .eml file a newcomer can open."""

    def __init__(self, folder: str):
        self.folder = Path(folder)

    def __enter__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc):
        return False

    def send(self, message: OutgoingMail) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", message.message_id.strip("<>"))
        (self.folder / f"{name}.eml").write_bytes(message.data)

    def reset(self) -> None:
        pass


class SMTPConnection:
    """One SMTP connection for a whole pass, opened on the first message, reopened once if it drops."""

    def __init__(self, config):
        self.host, self.port = config["SMTP_HOST"], config["SMTP_PORT"]
        self.security = config["SMTP_SECURITY"]
        self.username, self.password = config["SMTP_USERNAME"], config["SMTP_PASSWORD"]
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port or 465, timeout=30, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(self.host, self.port or (587 if self.security == "starttls" else 25), timeout=30)
            if self.security == "starttls":  # the system's certificates are read only when they are used
                smtp.starttls(context=ssl.create_default_context())
        if self.username:
            smtp.login(self.username, self.password)
        return smtp

    def open(self) -> None:
        if self.smtp is None:
            self.smtp = self._connect()

    def send(self, message: OutgoingMail) -> None:
        self.open()
        try:
            self.smtp.sendmail(message.sender, [message.to], message.data)
        except smtplib.SMTPServerDisconnected:
            self.smtp = self._connect()
            self.smtp.sendmail(message.sender, [message.to], message.data)

    def reset(self) -> None:
        """Forget a broken connection so the next message opens a new one."""
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.smtp = None


class RateLimit:
    """At most `per_second` starts a second, spread evenly (None: no cap); shared by every sending thread."""

    def __init__(self, per_second: float | None):
        self.interval = 1.0 / per_second if per_second else 0.0
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        """Return when the next message may start: `interval` after the previous one actually started.

        Measured from the real start, never from a schedule, so a thread that woke late is not made up
        for by a burst after it.
        """
        if not self.interval:
            return
        with self.lock:  # waiters queue here, one start at a time
            delay = self.next_slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.next_slot = time.monotonic() + self.interval


class SMTPPool:
    """Up to SMTP_CONNECTIONS SMTP connections sending at once, at most SMTP_MAX_PER_SECOND messages a second.

    A provider answers each message in tens of milliseconds; one connection then sends ~20 a second
    whatever the sender's CPU. `submit` hands a message to a sending thread and returns a Future
    (its result: None once the server accepted it; its exception: why not); the caller records the
    outcome in the database, from its own thread.
    """

    def __init__(self, config, connections: int | None = None):
        self.size = max(1, connections or config["SMTP_CONNECTIONS"])
        self.idle: queue.SimpleQueue[SMTPConnection] = queue.SimpleQueue()
        self.connections = [SMTPConnection(config) for _ in range(self.size)]
        for connection in self.connections:
            self.idle.put(connection)
        self.rate = RateLimit(config["SMTP_MAX_PER_SECOND"])
        self.executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="smtp")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.executor.shutdown(wait=True)
        for connection in self.connections:
            connection.close()
        return False

    def _send(self, message: OutgoingMail) -> None:
        connection = self.idle.get()
        try:
            connection.open()  # connecting is not sending: the cap counts messages started
            self.rate.wait()
            connection.send(message)
        except BaseException:
            connection.reset()  # the next message on it opens a new connection
            raise
        finally:
            self.idle.put(connection)

    def submit(self, message: OutgoingMail) -> Future:
        return self.executor.submit(self._send, message)


class OutboxWriter(OutboxFolder):
    """The outbox folder behind the same `submit` as SMTPPool (written at once, in the caller's thread)."""

    size = 1

    def submit(self, message: OutgoingMail) -> Future:
        future: Future = Future()
        try:
            self.send(message)
        except Exception as error:  # noqa: BLE001 -- reported through the future, as SMTPPool does
            future.set_exception(error)
        else:
            future.set_result(None)
        return future


def open_transport():
    """SMTP when SMTP_HOST is set (a pool of connections), otherwise the outbox folder."""
    config = current_app.config
    return SMTPPool(config) if config["SMTP_HOST"] else OutboxWriter(config["OUTBOX_DIR"])
