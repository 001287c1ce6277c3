"""Outbox rows as the bytes that go on the wire: what a mail client parses back
is exactly what was rendered, whatever the bodies hold."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from webapp.email import render_message

SENDER = "MeetLoop Événements <no-reply@meetloop.example>"
UNSUBSCRIBE = "<https://meetloop.example/unsubscribe/" + "t" * 300 + ">"


def row(text: str, html: str, subject: str = "Your recap", **fields) -> SimpleNamespace:
    values = {"id": 7, "recipient": "ana@example.com", "subject": subject, "text_body": text, "html_body": html,
              "extra_headers": f"List-Unsubscribe: {UNSUBSCRIBE}\nList-Unsubscribe-Post: List-Unsubscribe=One-Click"}
    return SimpleNamespace(**{**values, **fields})


BODIES = {
    "ascii": ("Hi Ana,\n\nGreat to meet you.\n", "<p>Hi Ana,</p>\n<p>Great to meet you.</p>\n"),
    "accents and scripts": ("Olá Zoë, Ïris, Дмитрий, 李明\n", "<p>Olá Zoë — Дмитрий 李明</p>\n"),
    "a line longer than SMTP allows": ("short\n" + "é" * 700 + "\nend\n", "<p>" + "x" * 2500 + "</p>\n"),
    "lines starting with dots and dashes": (".\n..hidden\n--=_not a boundary\nFrom here\n", ".<br>\n-- \n"),
    "windows and old mac line ends": ("one\r\ntwo\rthree\n", "<p>a</p>\r\n<p>b</p>"),
    "no final line break": ("no newline at the end", "<b>x</b>"),
}


@pytest.mark.parametrize("text,html", BODIES.values(), ids=BODIES.keys())
def test_a_mail_client_reads_back_exactly_the_rendered_bodies(text, html):
    message = render_message(row(text, html), SENDER, "https://meetloop.example")
    lines = message.data.split(b"\r\n")
    assert max(map(len, lines)) <= 998 and b"\n" not in message.data.replace(b"\r\n", b"")
    parsed = message.parsed()
    assert parsed.get_content_type() == "multipart/alternative"
    plain, rich = parsed.iter_parts()
    normalise = lambda body: body.replace("\r\n", "\n").replace("\r", "\n")  # noqa: E731
    assert (plain.get_content_type(), plain.get_content()) == ("text/plain", normalise(text))
    assert (rich.get_content_type(), rich.get_content()) == ("text/html", normalise(html))
    assert {plain.get_content_charset(), rich.get_content_charset()} == {"utf-8"}


def test_headers_are_encoded_where_needed_and_list_unsubscribe_stays_one_line():
    message = render_message(row("x", "<p>x</p>", subject="Zoë, you met 3 people"), SENDER, "https://meetloop.example")
    parsed = message.parsed()
    assert parsed["Subject"] == "Zoë, you met 3 people" and parsed["From"] == SENDER
    assert parsed["To"] == "ana@example.com"
    assert parsed["Message-ID"] == message.message_id == "<outbox-7@meetloop.example>"
    assert f"List-Unsubscribe: {UNSUBSCRIBE}\r\n".encode() in message.data  # RFC 8058: not folded, not encoded
    assert message.data.isascii()  # non-ASCII only in 8bit bodies here: none in these
    assert (message.sender, message.recipients) == ("no-reply@meetloop.example", ["ana@example.com"])


def test_a_header_with_a_line_break_is_refused():
    with pytest.raises(ValueError, match="line break"):
        render_message(row("x", "x", subject="Hi\r\nBcc: victim@example.com"), SENDER, "https://meetloop.example")
