"""Outgoing mail: building messages and sending them over SMTP, or into instance/outbox/."""
from __future__ import annotations

import re
import smtplib
import ssl
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate
from pathlib import Path

from flask import current_app

UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP
# Long header values (unsubscribe links) stay on one line: some clients misread folded ones.
POLICY = compat32.clone(max_line_length=998)


def build_message(*, to: str, subject: str, text: str, html: str, message_id: str,
                  headers: dict[str, str] | None = None) -> Message:
    """A multipart text + HTML message (UTF-8, quoted-printable).

    Built with the compat32 classes: the default policy's header parsing was a third of a
    follow-up pass's time, and these headers are made here, not parsed from anywhere.
    """
    message = MIMEMultipart("alternative", policy=POLICY)
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    subject = " ".join(subject.split())  # user text (names) never breaks a header onto a new line
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        message[name] = value
    message.attach(MIMEText(text, "plain", UTF8_QP, policy=POLICY))
    message.attach(MIMEText(html, "html", UTF8_QP, policy=POLICY))
    return message


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

    def send(self, message: Message) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", message["Message-ID"].strip("<>"))
        (self.folder / f"{name}.eml").write_bytes(message.as_bytes())

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
        context = ssl.create_default_context()
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port or 465, timeout=30, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port or (587 if self.security == "starttls" else 25), timeout=30)
            if self.security == "starttls":
                smtp.starttls(context=context)
        if self.username:
            smtp.login(self.username, self.password)
        return smtp

    def send(self, message: Message) -> None:
        if self.smtp is None:
            self.smtp = self._connect()
        try:
            self.smtp.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self.smtp = self._connect()
            self.smtp.send_message(message)

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


def open_transport():
    """SMTP when SMTP_HOST is set, otherwise the outbox folder."""
    config = current_app.config
    return SMTPConnection(config) if config["SMTP_HOST"] else OutboxFolder(config["OUTBOX_DIR"])
