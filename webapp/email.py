"""Mail transport: turn a rendered outbox row into a message and hand it over.

Three transports share one small interface (``open()`` gives a context
manager whose ``send(message)`` delivers one :class:`EmailMessage`):

* ``smtp``   — a real server from the ``MAIL_*`` settings, one connection per batch;
* ``file``   — ``.eml`` files in ``instance/mail/`` (the default without ``MAIL_SERVER``);
* ``memory`` — a list on the app, for tests.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

from webapp.models import OutboxMessage, utcnow

MEMORY_KEY = "meetloop.mail_memory"
MESSAGE_POLICY = policy.default.clone(max_line_length=998)


def build_message(row: OutboxMessage, sender: str, base_url: str) -> EmailMessage:
    """A multipart/alternative (text + HTML) message from an outbox row."""
    # Lines up to RFC 5322's 998: long headers such as List-Unsubscribe must go
    # out as plain text (RFC 8058), not folded into RFC 2047 encoded words.
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(utcnow())
    # Stable per row, so a receiver can spot a redelivery after a crash.
    domain = base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "meetloop.local"
    message["Message-ID"] = f"<outbox-{row.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    for line in row.extra_headers.splitlines():
        name, _, value = line.partition(":")
        if name.strip() and value.strip():
            message[name.strip()] = value.strip()
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message


class Connection(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class Transport(Protocol):
    def open(self) -> contextlib.AbstractContextManager[Connection]: ...


class MemoryTransport:
    def __init__(self, store: list[EmailMessage]) -> None:
        self.store = store

    @contextlib.contextmanager
    def open(self) -> Iterator[Connection]:
        yield self

    def send(self, message: EmailMessage) -> None:
        self.store.append(message)


class FileTransport:
    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    @contextlib.contextmanager
    def open(self) -> Iterator[Connection]:
        self.directory.mkdir(parents=True, exist_ok=True)
        yield self

    def send(self, message: EmailMessage) -> None:
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        ident = message["Message-ID"].strip("<>").split("@")[0]
        path = self.directory / f"{stamp}-{ident}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(message.as_bytes())
        tmp.replace(path)


class SmtpTransport:
    def __init__(self, config: dict[str, Any]) -> None:
        self.host = config["MAIL_SERVER"]
        self.port = config["MAIL_PORT"]
        self.use_ssl = config["MAIL_USE_SSL"]
        self.use_tls = config["MAIL_USE_TLS"]
        self.username = config["MAIL_USERNAME"]
        self.password = config["MAIL_PASSWORD"]
        self.timeout = config["MAIL_TIMEOUT"]

    @contextlib.contextmanager
    def open(self) -> Iterator[Connection]:
        # Loading the trust store takes a while: only when it is needed.
        context = ssl.create_default_context() if self.use_ssl or self.use_tls else None
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.use_tls and not self.use_ssl:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            yield _SmtpConnection(smtp)
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()


class _SmtpConnection:
    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp

    def send(self, message: EmailMessage) -> None:
        self.smtp.send_message(message)


def transport_for(config: dict[str, Any], extensions: dict[str, Any]) -> Transport:
    kind = config["MAIL_TRANSPORT"]
    if kind == "memory":
        return MemoryTransport(extensions.setdefault(MEMORY_KEY, []))
    if kind == "file":
        return FileTransport(config["MAIL_DIR"])
    if kind == "smtp":
        return SmtpTransport(config)
    raise ValueError(f"MAIL_TRANSPORT must be smtp, file or memory (got {kind!r})")
