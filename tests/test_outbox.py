"""The outbox: compose → record (in the caller's transaction) → commit → deliver."""

from __future__ import annotations

import contextlib
import threading

from sqlalchemy import func, insert, select

from tests.factories import make_user
from webapp.extensions import db
from webapp.hooks import wake_mail_worker
from webapp.jobs import deliver_outbox, run_due_work
from webapp.models import OutboxMessage, SuppressedAddress, User
from webapp.services import mail
from webapp.services import outbox as delivery


def queue_verify(user: User, key: str, **extra) -> OutboxMessage:
    return mail.queue(template="verify_email", to=user.email, user=user, dedupe_key=key,
                      link="http://meetloop.test/verify/abc", hours=48, **extra)


def rows() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_queueing_one_dedupe_key_twice_records_one_row(app, ctx, outbox):
    user = db.session.get(User, make_user(app, "ada@example.com", name="Ada").id)
    first = queue_verify(user, "verify:ada")
    second = queue_verify(user, "verify:ada")
    db.session.commit()
    third = queue_verify(user, "verify:ada")  # a later transaction
    db.session.commit()

    assert first.id == second.id == third.id
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert delivery.deliver_due().sent == 1
    assert len(outbox) == 1


def test_a_key_queued_by_a_concurrent_transaction_is_not_queued_again(app, ctx):
    user = db.session.get(User, make_user(app, "ada@example.com", name="Ada").id)
    db.session.commit()
    other = db.engine.connect()  # another request or worker
    other_tx = other.begin()
    other.execute(insert(OutboxMessage).values(
        dedupe_key="verify:ada", kind="verify_email", recipient="ada@example.com",
        subject="From the other transaction", text_body="t", html_body="h", extra_headers="",
    ))
    # The other transaction commits while ours is checking/inserting the same key
    # (PostgreSQL: our INSERT waits on the unique index; SQLite: our BEGIN waits).
    committer = threading.Timer(0.3, lambda: (other_tx.commit(), other.close()))
    committer.start()
    try:
        row = queue_verify(user, "verify:ada")
        db.session.commit()
    finally:
        committer.join()

    assert row.subject == "From the other transaction"
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_rows_rolled_back_with_their_transaction_send_nothing(app, ctx, outbox):
    user = db.session.get(User, make_user(app, "ada@example.com").id)
    queue_verify(user, "verify:ada")
    db.session.rollback()

    wake_mail_worker()
    report = delivery.deliver_due()

    assert rows() == []
    assert report.sent == 0
    assert len(outbox) == 0


def test_a_queued_row_is_sent_only_after_the_commit(app, ctx, outbox):
    user = db.session.get(User, make_user(app, "ada@example.com").id)
    row = queue_verify(user, "verify:ada")
    wake_mail_worker()  # before the commit: nothing to wake for yet
    assert len(outbox) == 0
    assert row.status == "pending"

    db.session.commit()
    wake_mail_worker()  # what the app runs after a request that committed mail

    assert [m["To"] for m in outbox.messages] == ["ada@example.com"]
    db.session.expire_all()
    assert rows()[0].status == "sent"
    assert rows()[0].sent_at is not None


def test_signing_up_delivers_the_verification_email_after_the_request_commits(app, client, outbox):
    response = client.post("/signup", data={"name": "Grace", "email": "grace@example.com", "password": ""})

    assert response.status_code == 200
    assert [m["To"] for m in outbox.messages] == ["grace@example.com"]
    with app.app_context():
        (row,) = rows()
        assert (row.kind, row.status, row.attempts) == ("verify_email", "sent", 0)
        assert "Grace" in row.text_body and "Grace" in row.html_body


def test_a_suppressed_address_gets_a_failed_row_and_nothing_is_sent(app, ctx, outbox):
    user = db.session.get(User, make_user(app, "bounced@example.com").id)
    db.session.add(SuppressedAddress(email="bounced@example.com", reason="550 No such user"))
    db.session.commit()

    row = mail.queue(template="verify_email", to="Bounced@Example.com", user=user, dedupe_key="verify:b",
                     link="http://meetloop.test/verify/abc", hours=48)
    db.session.commit()
    report = delivery.deliver_due()

    assert row.status == "failed"
    assert "suppressed" in row.last_error
    assert report.sent == 0
    assert len(outbox) == 0


def test_queue_renders_subject_text_and_html_from_the_template_pair(app, ctx):
    user = db.session.get(User, make_user(app, "ada@example.com", name="Ada <Admin>").id)
    row = queue_verify(user, "verify:ada", headers={"List-Unsubscribe": "<http://meetloop.test/u/1>"})

    assert row.subject == "Confirm your email for MeetLoop"
    assert not row.text_body.startswith("Subject:")
    assert "Hi Ada <Admin>," in row.text_body  # plain text is not HTML-escaped
    assert "Ada &lt;Admin&gt;" in row.html_body  # HTML is
    assert 'href="http://meetloop.test/verify/abc"' in row.html_body
    assert row.extra_headers == "List-Unsubscribe: <http://meetloop.test/u/1>\n"


def test_the_worker_tasks_deliver_the_outbox(app, ctx, outbox):
    user = db.session.get(User, make_user(app, "ada@example.com").id)
    queue_verify(user, "verify:1")
    db.session.commit()
    assert deliver_outbox.call_local() == {"sent": 1, "retrying": 0, "failed": 0}

    queue_verify(user, "verify:2")
    db.session.commit()
    counts = run_due_work.call_local()
    assert counts["sent"] == 1
    assert len(outbox) == 2


def test_a_message_that_cannot_be_built_fails_without_holding_up_its_batch(app, ctx, outbox):
    user = db.session.get(User, make_user(app, "ada@example.com").id)
    bad = queue_verify(user, "verify:bad", headers={"Message-ID": "<a-second-one@example.com>"})
    good = queue_verify(user, "verify:good")
    db.session.commit()

    report = delivery.deliver_due()

    assert (report.sent, report.failed) == (1, 1)
    db.session.expire_all()
    assert db.session.get(OutboxMessage, bad.id).status == "failed"
    assert db.session.get(OutboxMessage, good.id).status == "sent"
    assert [m["Message-ID"] for m in outbox.messages] == [f"<outbox-{good.id}@meetloop.test>"]


def test_delivery_leaves_the_pooled_connections_as_durable_as_it_found_them(app, ctx, outbox):
    """Outcome commits may skip PostgreSQL's WAL flush; the connection goes
    back to the pool with the server's default, so requests' commits stay durable."""
    postgres = db.engine.dialect.name == "postgresql"
    setting = "SHOW synchronous_commit" if postgres else "PRAGMA synchronous"

    def settings() -> set[str]:
        # The connections the pool holds, checked out at once so none is reused
        # (on SQLite one: more would wait on the test session's lock).
        with contextlib.ExitStack() as stack:
            conns = [stack.enter_context(db.engine.connect()) for _ in range(3 if postgres else 1)]
            return {str(conn.exec_driver_sql(setting).scalar()) for conn in conns}

    before = settings()
    user = db.session.get(User, make_user(app, "ada@example.com").id)
    for n in range(3):
        queue_verify(user, f"verify:{n}")
    db.session.commit()
    assert delivery.deliver_due().sent == 3 and len(outbox) == 3
    db.session.remove()
    assert settings() == before and before <= {"on", "1"}  # on; SQLite's NORMAL is 1
