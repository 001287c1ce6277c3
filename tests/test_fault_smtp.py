"""The mail server down, refusing for now, refusing for good, or dying mid-batch:
messages wait with backoff and nothing is lost; the worker's periodic run
delivers them by itself once the server is back (time is moved, not slept);
permanent refusals are failed and shown with their reason on the mail log.

(test_smtp_delivery.py covers one message through ``deliver_due``; these are
whole batches through the periodic entry point the worker runs every minute.)
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.factories import make_user
from webapp.extensions import db
from webapp.jobs import run_due_work
from webapp.models import OutboxMessage, SuppressedAddress, utcnow
from webapp.services import mail
from webapp.services.outbox import backoff


def queue(app, recipients: list[str]) -> dict[str, int]:
    """One message to each recipient; their row ids by recipient."""
    with app.app_context():
        mail.queue_many([
            {"dedupe_key": f"fault-smtp:{to}", "kind": "fault", "recipient": to, "subject": f"Hello {to}",
             "text_body": "Hello\n", "html_body": "<p>Hello</p>"}
            for to in recipients
        ])
        db.session.commit()
        return dict(db.session.execute(select(OutboxMessage.recipient, OutboxMessage.id)).all())


def periodic_run(app) -> dict[str, int]:
    """What the worker runs every minute (Huey's immediate mode doesn't run periodic tasks)."""
    with app.app_context():
        return run_due_work.call_local()


def rows(app) -> dict[int, OutboxMessage]:
    with app.app_context():
        found = db.session.scalars(select(OutboxMessage)).all()
        for row in found:
            db.session.expunge(row)
        return {row.id: row for row in found}


def move_clock_past_backoff(app) -> None:
    """Every waiting row becomes due, as if the backoff had run out."""
    with app.app_context():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.status == "pending")
                           .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def suppressed(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(SuppressedAddress.email)))


def message_id(row_id: int) -> str:
    return f"<outbox-{row_id}@meetloop.test>"


def refuse_everyone_after_data(sink) -> None:
    sink.data_reply = "451 4.3.0 Queue full, try later"


# outage: (what the rows' last_error says, start it, end it)
OUTAGES = {
    "connection refused": (("ConnectionRefusedError",), lambda sink: sink.stop(), lambda sink: sink.start()),
    "451 to RCPT": (("451", "Greylisted, try later"), lambda sink: sink.refuse("451 4.7.1 Greylisted, try later"),
                    lambda sink: sink.accept()),
    "451 after DATA": (("451", "Queue full, try later"), refuse_everyone_after_data, lambda sink: sink.accept()),
}


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_an_outage_holds_every_message_with_backoff_until_the_periodic_run_finds_the_server_back(
    app, smtp, outage
):
    reason, begin, end = OUTAGES[outage]
    app.config["OUTBOX_BATCH_SIZE"] = 10
    ids = queue(app, [f"guest{n}@example.com" for n in range(25)])
    begin(smtp)

    # Each run tries only what is due (and stops at a batch the server refused whole): a few runs try them all.
    runs = []
    while any(row.attempts == 0 for row in rows(app).values()) and len(runs) < 10:
        tried_before = {i for i, row in rows(app).items() if row.attempts}
        before = utcnow()
        runs.append(periodic_run(app))
        after = utcnow()
        for i, row in rows(app).items():
            if i in tried_before:
                assert row.attempts == 1  # waiting out its backoff: not tried again
            elif row.attempts:
                assert before + backoff(1) <= row.next_attempt_at <= after + backoff(1)
    assert all((run["sent"], run["failed"]) == (0, 0) for run in runs), runs
    assert sum(run["retrying"] for run in runs) == len(ids)  # each tried exactly once, none lost
    for row in rows(app).values():
        assert (row.status, row.attempts, row.claimed_by) == ("pending", 1, None)
        assert all(fragment in row.last_error for fragment in reason), row.last_error

    # Not due yet: the next run leaves them alone, even with the server back.
    assert periodic_run(app)["retrying"] == 0
    end(smtp)
    assert (periodic_run(app)["sent"], len(smtp)) == (0, 0)
    assert {row.attempts for row in rows(app).values()} == {1}

    move_clock_past_backoff(app)
    resumed = periodic_run(app)

    assert (resumed["sent"], resumed["retrying"], resumed["failed"]) == (len(ids), 0, 0)
    assert sorted(smtp.message_ids()) == sorted(message_id(i) for i in ids.values())  # each exactly once
    assert {(row.status, row.attempts) for row in rows(app).values()} == {("sent", 1)}
    assert suppressed(app) == []


def test_a_mixed_batch_through_an_outage_delivers_everything_deliverable_exactly_once(app, smtp, client, auth):
    ids = queue(app, ["gone@example.com", "busy@example.com", *(f"guest{n}@example.com" for n in range(8))])
    smtp.refuse("550 5.1.1 No such user here", "gone@example.com")
    smtp.refuse("451 4.2.0 Mailbox busy", "busy@example.com")

    first = periodic_run(app)
    assert (first["sent"], first["retrying"], first["failed"]) == (8, 1, 1)

    # The server goes away; time passes; the busy mailbox is tried again and waits again.
    smtp.stop()
    move_clock_past_backoff(app)
    during = periodic_run(app)
    assert (during["sent"], during["retrying"], during["failed"]) == (0, 1, 0)
    busy = rows(app)[ids["busy@example.com"]]
    assert (busy.status, busy.attempts) == ("pending", 2)
    assert "ConnectionRefusedError" in busy.last_error

    smtp.start()
    smtp.accept()
    move_clock_past_backoff(app)
    after = periodic_run(app)
    assert (after["sent"], after["retrying"], after["failed"]) == (1, 0, 0)

    final = rows(app)
    deliverable = [i for to, i in ids.items() if to != "gone@example.com"]
    assert sorted(smtp.message_ids()) == sorted(message_id(i) for i in deliverable)  # each exactly once
    assert {final[i].status for i in deliverable} == {"sent"}
    gone = final[ids["gone@example.com"]]
    assert (gone.status, gone.attempts) == ("failed", 1)
    assert suppressed(app) == ["gone@example.com"]

    auth.as_user(make_user(app, "root@example.com", role="admin", password=None))
    log = client.get("/admin/mail?status=failed").get_data(as_text=True)
    assert "gone@example.com" in log and "busy@example.com" not in log
    detail = client.get(f"/admin/mail/{gone.id}").get_data(as_text=True)
    assert "550 5.1.1 No such user here" in detail


def test_a_message_refused_after_data_is_failed_and_shown_with_the_reason_on_the_mail_log(app, smtp, client, auth):
    ids = queue(app, ["ada@example.com"])
    smtp.data_reply = "554 5.6.0 Message content rejected"

    report = periodic_run(app)

    assert (report["sent"], report["retrying"], report["failed"]) == (0, 0, 1)
    row = rows(app)[ids["ada@example.com"]]
    assert (row.status, row.attempts) == ("failed", 1)
    assert suppressed(app) == []  # the content was refused, not the address

    auth.as_user(make_user(app, "root@example.com", role="admin", password=None))
    log = client.get("/admin/mail?status=failed")
    assert log.status_code == 200
    listed = log.get_data(as_text=True)
    assert "ada@example.com" in listed and "status-failed" in listed
    detail = client.get(f"/admin/mail/{row.id}").get_data(as_text=True)
    assert "failed" in detail and "554 5.6.0 Message content rejected" in detail

    # Failed is final: the server taking mail again changes nothing.
    smtp.accept()
    move_clock_past_backoff(app)
    assert periodic_run(app)["sent"] == 0
    assert len(smtp) == 0


def test_a_server_dying_mid_batch_loses_nothing_and_the_rest_goes_when_it_is_back(app, smtp):
    app.config["MAIL_TIMEOUT"] = 5  # bounds the wait should a dying server leave the socket open
    ids = queue(app, [f"guest{n}@example.com" for n in range(40)])
    smtp.delay = 0.02  # so the server stops while the batch is still going out
    reports: list[dict[str, int]] = []
    delivering = threading.Thread(target=lambda: reports.append(periodic_run(app)))

    delivering.start()
    deadline = time.monotonic() + 30
    while len(smtp) < 5 and time.monotonic() < deadline:
        time.sleep(0.002)
    smtp.stop()
    delivering.join(timeout=60)

    assert not delivering.is_alive() and len(reports) == 1
    arrived = len(smtp)
    assert 5 <= arrived < len(ids)
    after_crash = rows(app)
    statuses = Counter(row.status for row in after_crash.values())
    assert set(statuses) == {"sent", "pending"}, statuses  # nothing left claimed, nothing failed
    assert statuses["sent"] == reports[0]["sent"] in (arrived, arrived - 1)
    waiting = [row for row in after_crash.values() if row.status == "pending"]
    # The message it died on, and the rest tried again on a new connection (refused): all wait their backoff.
    assert reports[0]["retrying"] == len(waiting)
    assert all(row.attempts == 1 and row.next_attempt_at > utcnow() for row in waiting)

    smtp.start()
    assert periodic_run(app)["sent"] == 0  # not before the backoff runs out
    move_clock_past_backoff(app)
    assert periodic_run(app)["sent"] == len(waiting)

    arrivals = Counter(smtp.message_ids())
    assert set(arrivals) == {message_id(i) for i in ids.values()}
    assert sum(n - 1 for n in arrivals.values()) <= 1  # only the message in flight may arrive twice
    assert {row.status for row in rows(app).values()} == {"sent"}
