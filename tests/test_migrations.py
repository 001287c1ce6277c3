"""Migrations build the whole schema from nothing, match the models exactly
(``flask db check``), and name every constraint by the convention, on SQLite
and on PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select, table

from webapp.config import normalise_database_url

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
SETTINGS = ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "SECRET_KEY", "MEETLOOP_ENV", "BASE_URL", "PORT",
            "MEETLOOP_INSTANCE", "FLASK_APP", "FLASK_DEBUG")
NO_DRIFT = "No new upgrade operations detected"
SQLITE_AUTOINCREMENT = {"user", "event", "contact"}


def flask_db(command: str, database_url: str, instance: Path, *args: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    environ.update(DATABASE_URL=database_url, MEETLOOP_INSTANCE=str(instance))
    return subprocess.run(
        [str(FLASK), "--app", "wsgi", "db", command, *args], cwd=ROOT, env=environ, capture_output=True, text=True,
        timeout=120, check=False,
    )


def upgrade_then_check(database_url: str, instance: Path) -> None:
    upgraded = flask_db("upgrade", database_url, instance)
    assert upgraded.returncode == 0, upgraded.stderr
    checked = flask_db("check", database_url, instance)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert NO_DRIFT in checked.stdout + checked.stderr


def naming_problems(database_url: str) -> list[str]:
    """Every constraint and index whose name doesn't follow the convention
    (pk_<table>, uq_<table>_<columns>, fk_<table>_<column>_<referred table>,
    ck_<table>_<name>, ix_<table>_<...>); fails if reflection finds none of a kind."""
    engine = create_engine(normalise_database_url(database_url))
    problems: list[str] = []
    seen = {"pk": 0, "uq": 0, "fk": 0, "ck": 0, "ix": 0}
    try:
        inspector = inspect(engine)
        tables = [t for t in inspector.get_table_names() if t != "alembic_version"]
        assert tables, "no tables after the upgrade"
        for table in tables:
            expected: list[tuple[str, str | None, str]] = []  # (kind, actual, rule)
            pk = inspector.get_pk_constraint(table)
            # SQLite's AUTOINCREMENT needs the primary key inline, where it can't be named.
            inline = engine.dialect.name == "sqlite" and table in SQLITE_AUTOINCREMENT and pk.get("name") is None
            if pk["constrained_columns"] and not inline:
                expected.append(("pk", pk.get("name"), f"pk_{table}"))
            for uq in inspector.get_unique_constraints(table):
                expected.append(("uq", uq.get("name"), f"uq_{table}_{'_'.join(uq['column_names'])}"))
            for fk in inspector.get_foreign_keys(table):
                rule = f"fk_{table}_{fk['constrained_columns'][0]}_{fk['referred_table']}"
                expected.append(("fk", fk.get("name"), rule))
            for ck in inspector.get_check_constraints(table):
                expected.append(("ck", ck.get("name"), rf"ck_{table}_\w+"))
            for ix in inspector.get_indexes(table):
                if ix.get("duplicates_constraint"):
                    continue
                expected.append(("ix", ix.get("name"), rf"ix_{table}_\w+"))
            for kind, actual, rule in expected:
                seen[kind] += 1
                if actual is None or not re.fullmatch(rule, actual):
                    problems.append(f"{table}: {kind} named {actual!r}, expected {rule}")
    finally:
        engine.dispose()
    missing = [kind for kind, count in seen.items() if count == 0]
    assert not missing, f"reflection found no constraints of kind {missing}: the check would prove nothing"
    return problems


def test_sqlite_upgrade_from_empty_matches_the_models_and_names_every_constraint(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade_then_check(database_url, tmp_path / "instance")
    assert naming_problems(database_url) == []

    # And back down to nothing: every revision can be undone.
    downgraded = flask_db("downgrade", database_url, tmp_path / "instance", "base")
    assert downgraded.returncode == 0, downgraded.stderr
    engine = create_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_postgresql_upgrade_from_empty_matches_the_models_and_names_every_constraint(fresh_postgres_database, tmp_path):
    upgrade_then_check(fresh_postgres_database, tmp_path / "instance")
    assert naming_problems(fresh_postgres_database) == []


def test_only_migrations_create_the_schema():
    """No ``create_all`` in the app, scripts or entry points (tests build it with migrations too)."""
    offenders = []
    for path in [ROOT / "wsgi.py", *(ROOT / "webapp").rglob("*.py"), *(ROOT / "scripts").rglob("*.py")]:
        if "create_all" in path.read_text(encoding="utf-8"):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_sqlite_tables_rebuilt_by_a_migration_keep_their_rows_and_never_reuse_ids(tmp_path):
    """The AUTOINCREMENT rebuild (0009) runs on a database with demo data: with
    foreign keys on, dropping the old ``user`` table would have cascaded into
    every child table. Afterwards a deleted user's id is never handed out again.
    (The demo is seeded by today's code at the head, then taken down to 0008.)"""
    database_url = f"sqlite:///{tmp_path / 'data.db'}"
    instance = tmp_path / "instance"
    assert flask_db("upgrade", database_url, instance).returncode == 0
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    environ.update(DATABASE_URL=database_url, MEETLOOP_INSTANCE=str(instance))
    seeded = subprocess.run([str(FLASK), "--app", "wsgi", "demo"], cwd=ROOT, env=environ, capture_output=True,
                            text=True, timeout=120, check=False)
    assert seeded.returncode == 0, seeded.stderr
    downgraded = flask_db("downgrade", database_url, instance, "0008")
    assert downgraded.returncode == 0, downgraded.stderr
    tables = ("user", "event", "contact", "scan", "attendance", "interaction", "contact_tag")
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            before = {t: connection.scalar(select(func.count()).select_from(table(t))) for t in tables}
        assert all(before.values()), before

        upgrade_then_check(database_url, instance)

        with engine.begin() as connection:
            after = {t: connection.scalar(select(func.count()).select_from(table(t))) for t in tables}
            highest = connection.exec_driver_sql('SELECT max(id) FROM "user"').scalar()
            connection.exec_driver_sql('DELETE FROM "attendance" WHERE user_id = ?', (highest,))
            connection.exec_driver_sql('DELETE FROM "user" WHERE id = ?', (highest,))
            connection.exec_driver_sql(
                "INSERT INTO \"user\" (email, email_verified, role, is_disabled, session_version, name, headline, "
                "company, looking_for, linkedin_url, phone, timezone, photo_version, share_email, share_phone, "
                "share_linkedin, created_at, digest_weekday) VALUES ('new@example.com', 1, 'attendee', 0, 1, 'New', "
                "'', '', '', '', '', 'UTC', 0, 1, 0, 1, '2026-11-25 12:00:00', 0)")
            newest = connection.exec_driver_sql("SELECT id FROM \"user\" WHERE email = 'new@example.com'").scalar()
    finally:
        engine.dispose()
    assert after == before
    assert newest == highest + 1


def test_postgresql_downgrades_to_nothing_and_upgrades_again(fresh_postgres_database, tmp_path):
    """Every revision undoes itself on PostgreSQL too (0012 leaves pg_trgm installed: see its docstring)."""
    instance = tmp_path / "instance"
    assert flask_db("upgrade", fresh_postgres_database, instance).returncode == 0
    downgraded = flask_db("downgrade", fresh_postgres_database, instance, "base")
    assert downgraded.returncode == 0, downgraded.stderr
    engine = create_engine(normalise_database_url(fresh_postgres_database))
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    upgrade_then_check(fresh_postgres_database, instance)


def test_postgresql_searches_people_and_address_books_through_trigram_indexes(fresh_postgres_database, tmp_path):
    """The GIN indexes exist, take new entries straight in (no pending list a
    search would read through until the next vacuum), and the searches' own
    expression is the one indexed, so the planner can use them."""
    upgrade_then_check(fresh_postgres_database, tmp_path / "instance")
    engine = create_engine(normalise_database_url(fresh_postgres_database))
    try:
        with engine.connect() as connection:
            found = dict(connection.exec_driver_sql(
                "SELECT c.relname, pg_get_indexdef(c.oid) || ' ' || coalesce(array_to_string(c.reloptions, ','), '') "
                "FROM pg_class c WHERE c.relname IN ('ix_user_search', 'ix_contact_search')").all())
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(row[0] for row in connection.exec_driver_sql(
                "EXPLAIN SELECT id FROM \"user\" WHERE lower(((((name || E'\\n') || headline) || E'\\n') || company) "
                "|| E'\\n' || email) LIKE '%%ana%%'"))
    finally:
        engine.dispose()
    assert set(found) == {"ix_user_search", "ix_contact_search"}
    assert all("USING gin" in text and "gin_trgm_ops" in text and "fastupdate=off" in text for text in found.values())
    assert "ix_user_search" in plan
