"""`flask send-due`: run everything due once, deliver the outbox synchronously, exit."""

from __future__ import annotations

import re

from tests.factories import make_user
from webapp.extensions import db
from webapp.models import OutboxMessage, User
from webapp.services import mail


def queue(app, email: str) -> int:
    user = make_user(app, email, password=None)
    with app.app_context():
        row = mail.queue(template="verify_email", to=email, user=db.session.get(User, user.id),
                         dedupe_key=f"verify:{email}", link="http://meetloop.test/verify/tok", hours=48)
        db.session.commit()
        return row.id


def counts(output: str) -> dict[str, int]:
    return {key: int(value) for key, value in re.findall(r"\b(\w+)=(\d+)\b", output)}


def test_send_due_delivers_pending_mail_and_prints_the_counts(app, runner, smtp):
    delivered = [queue(app, "ada@example.com"), queue(app, "grace@example.com")]
    busy = queue(app, "busy@example.com")
    smtp.refuse("450 4.2.1 Try again later", "busy@example.com")

    result = runner.invoke(args=["send-due"])

    assert result.exit_code == 0, result.output
    assert {k: v for k, v in counts(result.output).items() if k in ("sent", "retrying", "failed")} == {
        "sent": 2, "retrying": 1, "failed": 0}
    assert sorted(smtp.message_ids()) == sorted(f"<outbox-{i}@meetloop.test>" for i in delivered)
    with app.app_context():
        assert db.session.get(OutboxMessage, busy).status == "pending"


def test_send_due_again_sends_nothing_new(app, runner, smtp):
    queue(app, "ada@example.com")
    assert runner.invoke(args=["send-due"]).exit_code == 0

    again = runner.invoke(args=["send-due"])

    assert again.exit_code == 0, again.output
    assert counts(again.output)["sent"] == 0
    assert len(smtp) == 1
