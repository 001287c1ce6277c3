"""Real SMTP delivery to an aiosmtpd server (the ``smtp`` fixture)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from datetime import timedelta
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

import pytest
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select, update

from tests.factories import make_user
from webapp.extensions import db
from webapp.models import OutboxMessage, SuppressedAddress, User, utcnow
from webapp.services import mail
from webapp.services import outbox as delivery
from webapp.services.outbox import backoff


def queue(app, email: str, *, key: str | None = None, name: str = "Ada Lovelace", **extra) -> int:
    """Queue the verification email for a (new) user at ``email``; return the row id."""
    user = make_user(app, email, name=name, password=None)
    with app.app_context():
        row = mail.queue(template="verify_email", to=email, user=db.session.get(User, user.id),
                         dedupe_key=key or f"verify:{email}", link="http://meetloop.test/verify/tok", hours=48,
                         **extra)
        db.session.commit()
        return row.id


def deliver(app) -> delivery.DeliveryReport:
    with app.app_context():
        return delivery.deliver_due()


def row(app, row_id: int) -> OutboxMessage:
    with app.app_context():
        found = db.session.get(OutboxMessage, row_id)
        db.session.expunge(found)
        return found


def make_due(app, row_id: int) -> None:
    """Let the backoff run out (the clock moving on)."""
    with app.app_context():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                           .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def suppressed(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(SuppressedAddress.email)))


def test_a_message_arrives_as_multipart_text_and_html_with_its_headers(app, smtp):
    row_id = queue(app, "zoe@example.com", name="Zoë Ñúñez",
                   headers={"List-Unsubscribe": "<http://meetloop.test/unsubscribe/x>",
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})

    assert deliver(app).sent == 1

    (received,) = smtp.received
    message, stored = received.message, row(app, row_id)
    assert received.mail_from == "no-reply@meetloop.local"
    assert received.rcpt_tos == ["zoe@example.com"]
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert getaddresses([str(message["From"])]) == [parseaddr(app.config["MAIL_DEFAULT_SENDER"])]
    assert str(message["To"]) == "zoe@example.com"
    assert str(message["Subject"]) == stored.subject == "Confirm your email for MeetLoop"
    assert parsedate_to_datetime(str(message["Date"])).tzinfo is not None
    assert message["Message-ID"] == f"<outbox-{row_id}@meetloop.test>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hi Zoë Ñúñez," in text and "http://meetloop.test/verify/tok" in text
    assert "Zoë Ñúñez" in html and 'href="http://meetloop.test/verify/tok"' in html
    assert (stored.status, stored.attempts, stored.last_error) == ("sent", 0, None)
    assert stored.sent_at is not None


@pytest.mark.parametrize("outage", ["450 reply to RCPT", "connection refused"])
def test_a_temporary_failure_keeps_the_row_pending_with_growing_backoff_until_the_server_accepts(
    app, smtp, outage
):
    row_id = queue(app, "ada@example.com")
    if outage == "connection refused":
        smtp.stop()
        expected_error = "ConnectionRefusedError"
    else:
        smtp.refuse("450 4.2.1 Mailbox busy, try later")
        expected_error = "450"

    waits = []
    for attempt in (1, 2, 3):
        before = utcnow()
        report = deliver(app)
        after = utcnow()
        stored = row(app, row_id)
        assert (report.retrying, report.sent, stored.status, stored.attempts) == (1, 0, "pending", attempt)
        assert stored.claimed_by is None
        assert before + backoff(attempt) <= stored.next_attempt_at <= after + backoff(attempt)
        waits.append(stored.next_attempt_at - before)
        assert expected_error in stored.last_error
        # Not due yet: another run leaves it alone.
        assert deliver(app).retrying == 0
        assert row(app, row_id).attempts == attempt
        make_due(app, row_id)
    assert waits[0] < waits[1] < waits[2]

    if outage == "connection refused":
        smtp.start()
    smtp.accept()
    assert deliver(app).sent == 1

    stored = row(app, row_id)
    assert (stored.status, stored.attempts) == ("sent", 3)
    assert smtp.message_ids() == [f"<outbox-{row_id}@meetloop.test>"]
    assert suppressed(app) == []


def test_one_recipient_refused_for_now_does_not_hold_up_the_others(app, smtp):
    busy = queue(app, "busy@example.com")  # first in the batch
    others = [queue(app, f"guest{n}@example.com") for n in range(3)]
    smtp.refuse("451 4.3.0 Greylisted", "busy@example.com")

    report = deliver(app)

    assert (report.sent, report.retrying) == (3, 1)
    assert sorted(smtp.message_ids()) == sorted(f"<outbox-{i}@meetloop.test>" for i in others)
    assert row(app, busy).status == "pending"


def test_a_server_closing_the_connection_mid_batch_delays_only_the_message_it_refused(app, smtp):
    first = queue(app, "first@example.com")
    closed_on = queue(app, "closing@example.com")
    rest = [queue(app, f"guest{n}@example.com") for n in range(2)]
    smtp.refuse("421 4.3.2 Service shutting down, closing channel", "closing@example.com")

    report = deliver(app)

    assert (report.sent, report.retrying) == (3, 1)
    assert sorted(smtp.message_ids()) == sorted(f"<outbox-{i}@meetloop.test>" for i in [first, *rest])
    assert (row(app, closed_on).status, row(app, closed_on).attempts) == ("pending", 1)
    assert [row(app, i).attempts for i in rest] == [0, 0]  # sent on a new connection, never counted as failed


def test_retries_stop_after_the_attempt_limit(app, smtp):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    row_id = queue(app, "ada@example.com")
    smtp.stop()

    deliver(app)
    make_due(app, row_id)
    report = deliver(app)

    stored = row(app, row_id)
    assert (report.failed, stored.status, stored.attempts) == (1, "failed", 2)
    assert suppressed(app) == []  # the server was down; the address is fine


def test_a_permanent_recipient_refusal_fails_the_row_and_suppresses_the_address(app, smtp, client, auth):
    gone = queue(app, "gone@example.com")
    fine = queue(app, "fine@example.com")
    smtp.refuse("550 5.1.1 No such user here", "gone@example.com")

    report = deliver(app)

    assert (report.sent, report.failed, report.retrying) == (1, 1, 0)
    stored = row(app, gone)
    assert (stored.status, stored.attempts) == ("failed", 1)
    assert "550" in stored.last_error
    assert suppressed(app) == ["gone@example.com"]
    assert [m["To"] for m in smtp.messages] == ["fine@example.com"]
    assert row(app, fine).status == "sent"

    # Nothing more is sent there, even once the server would take it.
    smtp.accept()
    with app.app_context():
        later = mail.queue(template="verify_email", to="gone@example.com", dedupe_key="later",
                           user=None, link="x", hours=1)
        db.session.commit()
        later_id = later.id
    deliver(app)
    assert row(app, later_id).status == "failed"
    assert len(smtp) == 1

    # The site admin sees it in the mail log.
    auth.as_user(make_user(app, "root@example.com", role="admin", password=None))
    page = client.get("/admin/mail?status=failed").get_data(as_text=True)
    assert "gone@example.com" in page and "fine@example.com" not in page
    detail = client.get(f"/admin/mail/{gone}").get_data(as_text=True)
    assert "failed" in detail and "550 5.1.1 No such user here" in detail


def test_a_message_refused_after_data_fails_without_suppressing_the_address(app, smtp):
    row_id = queue(app, "ada@example.com")
    smtp.data_reply = "554 5.6.0 Message content rejected"

    report = deliver(app)

    assert report.failed == 1
    assert row(app, row_id).status == "failed"
    assert suppressed(app) == []


# --- Encrypted connections ---------------------------------------------------------------


@pytest.fixture
def tls(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1 that the app's default SSL context trusts."""
    if shutil.which("openssl") is None:
        pytest.skip("STARTTLS/SSL not tested: the openssl command is not installed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    # ssl.create_default_context() reads SSL_CERT_FILE when it loads the trust store.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _check_password(server, session, envelope, mechanism, auth_data):
    if auth_data.login == b"mailer" and auth_data.password == b"s3cret":
        return AuthResult(success=True, auth_data="mailer")
    return AuthResult(success=False, handled=False)  # the server answers 535


def test_starttls_with_login_delivers_over_an_encrypted_connection(app, smtp, tls):
    smtp.restart(tls_context=tls, require_starttls=True, authenticator=_check_password, auth_require_tls=True)
    app.config.update(MAIL_USE_TLS=True, MAIL_USERNAME="mailer", MAIL_PASSWORD="s3cret")
    row_id = queue(app, "ada@example.com")

    assert deliver(app).sent == 1

    (received,) = smtp.received
    assert (received.tls, received.login) == (True, "mailer")
    assert received.message["Message-ID"] == f"<outbox-{row_id}@meetloop.test>"


def test_a_server_that_requires_starttls_is_retried_not_failed_when_tls_is_off(app, smtp, tls):
    smtp.restart(tls_context=tls, require_starttls=True)
    row_id = queue(app, "ada@example.com")

    deliver(app)

    stored = row(app, row_id)
    assert (stored.status, stored.attempts) == ("pending", 1)  # a setting to fix, not a bad message
    assert len(smtp) == 0


def test_a_wrong_password_is_retried_not_failed(app, smtp, tls):
    smtp.restart(tls_context=tls, require_starttls=True, authenticator=_check_password, auth_require_tls=True)
    app.config.update(MAIL_USE_TLS=True, MAIL_USERNAME="mailer", MAIL_PASSWORD="wrong")
    row_id = queue(app, "ada@example.com")

    deliver(app)

    stored = row(app, row_id)
    assert (stored.status, stored.attempts) == ("pending", 1)
    assert "Authentication" in stored.last_error
    assert len(smtp) == 0


def test_implicit_ssl_delivers(app, smtp, tls):
    smtp.restart(ssl_context=tls)
    app.config.update(MAIL_USE_SSL=True)
    queue(app, "ada@example.com")

    assert deliver(app).sent == 1
    assert smtp.received[0].tls is True

