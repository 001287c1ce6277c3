"""Mail transport: turn a rendered outbox row into a message and hand it over.

Three transports share one small interface (``open()`` gives a context
manager whose ``send(message)`` delivers one :class:`Outgoing`):

* ``smtp``   — a real server from the ``MAIL_*`` settings, one connection per batch;
* ``file``   — ``.eml`` files in ``instance/mail/`` (the default without ``MAIL_SERVER``);
* ``memory`` — a list of parsed :class:`EmailMessage` on the app, for tests.

Messages are built once, as the bytes that go on the wire: the headers by
the stdlib's generator with its compat32 policy, the two body parts as
encoded bytes (see :func:`_text_part`). The ``EmailMessage`` API parses and
refolds every header on the way in and out, which made building a 48 KB recap
cost about 3.5 ms, more than sending it (0.15 ms this way). Addresses that
need SMTPUTF8 keep that API, which handles them.
"""

from __future__ import annotations

import binascii
import contextlib
import functools
import secrets
import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, formataddr, parseaddr
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

from webapp.models import OutboxMessage, utcnow

MEMORY_KEY = "meetloop.mail_memory"
# Lines up to RFC 5322's 998: long headers such as List-Unsubscribe must go
# out as plain text (RFC 8058), not folded into RFC 2047 encoded words.
MESSAGE_POLICY = policy.default.clone(max_line_length=998)


class _WirePolicy(policy.Compat32):
    """compat32, writing a short ASCII header as it is: what its folding would
    produce anyway, without building an RFC 2047 ``Header`` for each one."""

    def fold_binary(self, name: str, value: str) -> bytes:
        if (isinstance(value, str) and value.isascii() and len(name) + len(value) + 2 <= self.max_line_length
                and "\n" not in value and "\r" not in value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_WIRE = _WirePolicy(linesep="\r\n", max_line_length=998, mangle_from_=False)
_MAX_LINE = 998
# Headers a message has once (as the EmailMessage API enforces): a row's extra
# headers may not add a second one.
_UNIQUE = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender", "subject", "date", "message-id",
                     "mime-version", "content-type", "content-transfer-encoding", "content-disposition"})


@dataclass(frozen=True)
class Outgoing:
    """One message as it goes on the wire: the envelope and its bytes (CRLF line ends)."""

    sender: str  # the envelope's MAIL FROM address
    recipients: list[str]
    message_id: str
    data: bytes
    international: bool = False  # an address needs SMTPUTF8

    def parsed(self) -> EmailMessage:
        """The message as a mail client reads it (line ends as in the row)."""
        return BytesParser(policy=policy.default).parsebytes(self.data.replace(b"\r\n", b"\n"))


def _headers(row: OutboxMessage, sender: str, base_url: str) -> list[tuple[str, str]]:
    # Stable per row, so a receiver can spot a redelivery after a crash.
    domain = base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "meetloop.local"
    headers = [("From", sender), ("To", row.recipient), ("Subject", row.subject),
               ("Date", format_datetime(utcnow())), ("Message-ID", f"<outbox-{row.id}@{domain}>"),
               ("Auto-Submitted", "auto-generated")]
    for line in row.extra_headers.splitlines():
        name, _, value = line.partition(":")
        if name.strip() and value.strip():
            headers.append((name.strip(), value.strip()))
    seen: set[str] = set()
    for name, value in headers:
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} contains a line break")
        if name.lower() in _UNIQUE and name.lower() in seen:
            raise ValueError(f"there may be only one {name} header")
        seen.add(name.lower())
    return headers


def _text_part(body: str, subtype: str) -> bytes:
    """A ``text/<subtype>`` UTF-8 body part as wire bytes: 7bit or 8bit as
    written, or quoted-printable (binascii's C encoder) when a line is longer
    than SMTP allows. (The email package's generator writes a body one line
    at a time, which for a 48 KB recap cost more than all the rest.)"""
    data = body.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    if max(map(len, data.split(b"\n"))) > _MAX_LINE:
        encoding, data = "quoted-printable", binascii.b2a_qp(data, istext=True)
    else:
        encoding = "7bit" if data.isascii() else "8bit"
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n'
            .encode("ascii") + data.replace(b"\n", b"\r\n"))


@functools.lru_cache(maxsize=32)
def _address(value: str) -> str:
    """``Name <address>`` with only the name RFC 2047-encoded (when it needs to be)."""
    name, address = parseaddr(value)
    return formataddr((name, address), "utf-8") if address else value


def render_message(row: OutboxMessage, sender: str, base_url: str) -> Outgoing:
    """A multipart/alternative (text + HTML) message from an outbox row."""
    headers = _headers(row, sender, base_url)
    envelope_from, to = parseaddr(sender)[1], row.recipient
    if not (envelope_from.isascii() and to.isascii()):
        return _render_international(row, headers, envelope_from)
    # A random boundary the bodies cannot contain ("=_" never occurs in
    # quoted-printable, and a line of 8bit text starting with "--=_" and
    # these 32 random hex digits is not going to happen).
    boundary = f"=_{secrets.token_hex(16)}"
    headers += [("MIME-Version", "1.0"), ("Content-Type", f'multipart/alternative; boundary="{boundary}"')]
    out = BytesIO()
    for name, value in headers:  # as the generator writes them
        out.write(_WIRE.fold_binary(name, _address(value) if name in ("From", "To") else value))
    out.write(b"\r\n")
    delimiter = f"--{boundary}\r\n".encode("ascii")
    for part in (_text_part(row.text_body, "plain"), _text_part(row.html_body, "html")):
        out.write(delimiter)
        out.write(part)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode("ascii"))
    return Outgoing(envelope_from, [to], dict(headers)["Message-ID"], out.getvalue())


def _render_international(row: OutboxMessage, headers: list[tuple[str, str]], envelope_from: str) -> Outgoing:
    message = EmailMessage(policy=MESSAGE_POLICY)
    for name, value in headers:
        message[name] = value
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    data = message.as_bytes(policy=MESSAGE_POLICY.clone(utf8=True, linesep="\r\n"))
    return Outgoing(envelope_from, [row.recipient], message["Message-ID"], data, international=True)


class Connection(Protocol):
    def send(self, message: Outgoing) -> None: ...


class Transport(Protocol):
    def open(self) -> contextlib.AbstractContextManager[Connection]: ...


class MemoryTransport:
    def __init__(self, store: list[EmailMessage]) -> None:
        self.store = store

    @contextlib.contextmanager
    def open(self) -> Iterator[Connection]:
        yield self

    def send(self, message: Outgoing) -> None:
        self.store.append(message.parsed())


class FileTransport:
    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    @contextlib.contextmanager
    def open(self) -> Iterator[Connection]:
        self.directory.mkdir(parents=True, exist_ok=True)
        yield self

    def send(self, message: Outgoing) -> None:
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        ident = message.message_id.strip("<>").split("@")[0]
        path = self.directory / f"{stamp}-{ident}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(message.data.replace(b"\r\n", b"\n"))  # local files: the platform's line ends
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

    def send(self, message: Outgoing) -> None:
        options: tuple[str, ...] = ()
        if message.international:  # what smtplib's send_message does for such addresses
            self.smtp.ehlo_or_helo_if_needed()
            if not self.smtp.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError("an address needs SMTPUTF8, which the server does not offer")
            options = ("SMTPUTF8", "BODY=8BITMIME")
        self.smtp.sendmail(message.sender, message.recipients, message.data, options)


def transport_for(config: dict[str, Any], extensions: dict[str, Any]) -> Transport:
    kind = config["MAIL_TRANSPORT"]
    if kind == "memory":
        return MemoryTransport(extensions.setdefault(MEMORY_KEY, []))
    if kind == "file":
        return FileTransport(config["MAIL_DIR"])
    if kind == "smtp":
        return SmtpTransport(config)
    raise ValueError(f"MAIL_TRANSPORT must be smtp, file or memory (got {kind!r})")
