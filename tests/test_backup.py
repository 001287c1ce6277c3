"""``flask backup PATH``: an online, consistent copy of a SQLite database (a
restore of it has every row the source had), never over an existing file
without ``--force``; on PostgreSQL, the ``pg_dump`` command to run instead.

Each test backs up a SQLite file of its own, whichever database the suite
runs on; the pg_dump test runs against a fresh database on the shared
PostgreSQL server (skipped, with the reason printed, when there is none)."""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select, table, text
from sqlalchemy.engine import make_url

from webapp import create_app
from webapp.config import normalise_database_url
from webapp.extensions import db
from webapp.models import Base
from webapp.services import backup as service
from webapp.services import demo


@contextlib.contextmanager
def sqlite_app(path: Path) -> Iterator[Flask]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "backup-test",
                      "MAIL_TRANSPORT": "memory", "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                      "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"})
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def table_names() -> list[str]:
    return ["alembic_version", *(t.name for t in Base.metadata.sorted_tables)]


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {name: db.session.scalar(select(func.count()).select_from(table(name))) for name in table_names()}


CHECKSUMMED = ("user", "event", "attendance", "scan", "contact", "interaction", "outbox_message")


def checksums(app: Flask) -> dict[str, str]:
    """A SHA-256 of every row of a few tables, in primary-key order."""
    sums = {}
    with app.app_context():
        for name in CHECKSUMMED:
            model = Base.metadata.tables[name]
            digest = hashlib.sha256()
            for row in db.session.execute(select(model).order_by(*model.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
            sums[name] = digest.hexdigest()
    return sums


@pytest.fixture
def seeded(tmp_path) -> Iterator[tuple[Flask, Path]]:
    """A migrated SQLite database with the demo in it, and its app (still connected, as a running app is)."""
    path = tmp_path / "live.db"
    with sqlite_app(path) as app:
        with app.app_context():
            upgrade()
            assert demo.seed()
            db.session.commit()
        yield app, path


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_a_restored_backup_has_every_row_of_the_source(seeded, tmp_path):
    app, _ = seeded
    copy = tmp_path / "backups" / "meetloop.db"
    copy.parent.mkdir()
    result = app.test_cli_runner().invoke(args=["backup", str(copy)])
    assert result.exit_code == 0, result.output
    assert str(copy) in result.output and f"{copy.stat().st_size} bytes" in result.output
    assert not Path(f"{copy}-wal").exists()  # one self-contained file

    source_counts, source_sums = counts(app), checksums(app)
    assert source_counts["user"] and source_counts["scan"] and source_counts["contact"]
    with sqlite_app(copy) as restored:
        assert counts(restored) == source_counts
        assert checksums(restored) == source_sums
        with restored.app_context():
            assert db.session.scalar(text("PRAGMA integrity_check")) == "ok"
        # The restored database serves the app: the demo admin signs in.
        client = restored.test_client()
        signed_in = client.post("/login", data={"email": demo.LOGINS[0].email, "password": demo.LOGINS[0].password})
        assert signed_in.status_code == 302 and urlsplit(signed_in.headers["Location"]).path == "/"
        assert client.get("/admin/health").status_code == 200


def make_source(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE batch_row (batch INTEGER NOT NULL, n INTEGER NOT NULL, pad TEXT NOT NULL)")
    return conn


def write_batch(conn: sqlite3.Connection, batch: int, rows: int = 50) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO batch_row VALUES (?, ?, ?)", [(batch, n, "x" * 200) for n in range(rows)])
    conn.execute("COMMIT")


def test_a_backup_has_what_is_committed_in_the_wal_and_nothing_uncommitted(tmp_path):
    """Committed rows still in the WAL file are in the copy (a file copy of the
    database alone would miss them); a transaction open during the backup is not."""
    source = tmp_path / "source.db"
    committer = make_source(source)
    committer.execute("PRAGMA wal_autocheckpoint=0")  # keep what is committed in the WAL
    for batch in range(3):
        write_batch(committer, batch)
    assert Path(f"{source}-wal").stat().st_size > 0
    writer = sqlite3.connect(source, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO batch_row VALUES (99, 0, 'uncommitted')")  # holds the write lock throughout
    try:
        done = service.backup(f"sqlite:///{source}", tmp_path / "copy.db")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        committer.close()
    with contextlib.closing(sqlite3.connect(done.path)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT batch, count(*) FROM batch_row GROUP BY batch ORDER BY batch").fetchall() == [
            (0, 50), (1, 50), (2, 50)]
    assert done.size == done.path.stat().st_size


def test_a_backup_taken_while_another_connection_writes_is_a_valid_database(tmp_path):
    source = tmp_path / "busy.db"
    setup = make_source(source)
    setup.close()
    started, stop = threading.Event(), threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def keep_writing() -> None:
        try:
            with contextlib.closing(sqlite3.connect(source, isolation_level=None, timeout=15)) as conn:
                while not stop.is_set():
                    write_batch(conn, len(written))
                    written.append(len(written))
                    started.set()
        except BaseException as error:
            errors.append(error)
            started.set()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        assert started.wait(timeout=30)
        done = service.backup(f"sqlite:///{source}", tmp_path / "copy.db")
        committed_by_then = len(written)  # at least this many batches were committed when the backup ended
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    with contextlib.closing(sqlite3.connect(done.path)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        batches = copy.execute("SELECT batch, count(*) FROM batch_row GROUP BY batch ORDER BY batch").fetchall()
    # Whole transactions only, in order, none missing: the database as of one instant.
    assert batches == [(batch, 50) for batch in range(len(batches))]
    assert 1 <= len(batches) <= committed_by_then + 1


def test_an_existing_file_is_kept_unless_forced(seeded, tmp_path):
    app, _ = seeded
    target = tmp_path / "existing.db"
    target.write_text("keep me")
    runner = app.test_cli_runner()

    refused = runner.invoke(args=["backup", str(target)])
    assert refused.exit_code == 2
    assert "--force" in one_line_error(refused) and str(target) in refused.stderr
    assert target.read_text() == "keep me"

    forced = runner.invoke(args=["backup", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    with contextlib.closing(sqlite3.connect(target)) as copy:
        assert copy.execute('SELECT count(*) FROM "user"').fetchone()[0] == counts(app)["user"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


@pytest.mark.parametrize(("where", "phrase"), [
    ("missing-folder/x.db", "create it first"),
    ("live.db", "over the database itself"),
    ("live.db-wal", "over the database itself"),
    (".", "is a folder"),
])
def test_a_backup_that_cannot_be_written_says_why_in_one_line(seeded, tmp_path, where, phrase):
    app, live = seeded
    before = live.read_bytes()
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / where)])
    assert result.exit_code == 2
    assert phrase in one_line_error(result)
    assert live.read_bytes() == before


def test_on_postgresql_backup_prints_the_pg_dump_command_without_the_password_and_it_works(
        fresh_postgres_database, tmp_path):
    # The server trusts local connections: pg_dump gets in without the password it never sees.
    with_password = make_url(fresh_postgres_database).set(password="not-the-password")
    with contextlib.closing(psycopg.connect(fresh_postgres_database, autocommit=True)) as conn:
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY)")
        conn.execute("INSERT INTO kept VALUES (1), (2)")
    url = normalise_database_url(with_password.render_as_string(hide_password=False))
    # RATELIMIT_ENABLED off: Flask-Limiter is one object, and a second app's setting would carry into later tests.
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "backup-test", "RATELIMIT_ENABLED": False})
    dump = tmp_path / "my backups" / "meetloop.dump"
    dump.parent.mkdir()
    try:
        result = app.test_cli_runner().invoke(args=["backup", str(dump)])
    finally:
        with app.app_context():
            db.engine.dispose()
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "pg_dump" in line and "not-the-password" not in line
    assert not dump.exists()  # nothing was run

    command = shlex.split(line.split("use pg_dump: ", 1)[1])
    assert command[0] == "pg_dump"
    ran = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True, timeout=60,
                             check=False)
    assert listing.returncode == 0 and "TABLE DATA public kept" in listing.stdout
