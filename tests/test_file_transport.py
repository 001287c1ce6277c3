"""Without MAIL_SERVER, mail is written as .eml files to MAIL_DIR."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from sqlalchemy import select

from tests.factories import make_user
from webapp import config
from webapp.extensions import db
from webapp.models import OutboxMessage, User
from webapp.services import mail
from webapp.services import outbox as delivery


def test_without_a_mail_server_the_settings_choose_files_in_the_instance_folder(tmp_path):
    settings = config.load({"MEETLOOP_INSTANCE": str(tmp_path)})
    assert (settings["MAIL_TRANSPORT"], settings["MAIL_DIR"]) == ("file", str(tmp_path / "mail"))

    with_server = config.load({"MEETLOOP_INSTANCE": str(tmp_path), "MAIL_SERVER": "smtp.example.com"})
    assert with_server["MAIL_TRANSPORT"] == "smtp"


def test_delivered_mail_is_written_as_eml_files_that_parse_back(app, ctx, tmp_path):
    mail_dir = tmp_path / "outgoing"  # does not exist yet
    app.config.update(MAIL_TRANSPORT="file", MAIL_DIR=str(mail_dir))
    users = [make_user(app, email, name=name, password=None)
             for email, name in [("ada@example.com", "Ada"), ("zoe@example.com", "Zoë")]]
    for made in users:
        user = db.session.get(User, made.id)
        email = user.email
        mail.queue(template="verify_email", to=email, user=user, dedupe_key=f"verify:{email}",
                   link="http://meetloop.test/verify/tok", hours=48)
    db.session.commit()

    assert delivery.deliver_due().sent == 2

    rows = {r.id: r for r in db.session.scalars(select(OutboxMessage))}
    assert {r.status for r in rows.values()} == {"sent"}
    assert sorted(p.suffix for p in mail_dir.iterdir()) == [".eml", ".eml"]  # no half-written files left
    parsed = [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in mail_dir.glob("*.eml")]
    by_id = {m["Message-ID"]: m for m in parsed}
    assert set(by_id) == {f"<outbox-{i}@meetloop.test>" for i in rows}
    for row_id, row in rows.items():
        message = by_id[f"<outbox-{row_id}@meetloop.test>"]
        assert message.get_content_type() == "multipart/alternative"
        assert (message["To"], message["Subject"]) == (row.recipient, row.subject)
        assert message["From"] == app.config["MAIL_DEFAULT_SENDER"]
        assert message.get_body(("plain",)).get_content() == row.text_body
        assert message.get_body(("html",)).get_content().strip() == row.html_body.strip()
    assert "Hi Zoë," in by_id[f"<outbox-{max(rows)}@meetloop.test>"].get_body(("plain",)).get_content()
