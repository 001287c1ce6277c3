"""Backing up the database while the app runs.

SQLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies
every page in one step under a single read transaction, so the copy is the
database as of one instant, committed transactions only (including those
still in the WAL file), while the app goes on writing (WAL readers don't
block the writer). A plain file copy can catch a transaction half-written or
miss what is still in the WAL. The copy is written next to its target and
renamed into place, so a failed backup never leaves a half-written file under
the target's name.

PostgreSQL: ``pg_dump`` does this properly (and must match the server's
version), so we don't wrap it; :func:`pg_dump_command` says what to run.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url

from webapp.services import DomainError

BUSY_TIMEOUT_SECONDS = 15


class BackupRefused(DomainError):
    code = "backup_refused"


class UsePgDump(DomainError):
    code = "use_pg_dump"


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int  # bytes


def pg_dump_command(database_url: str | URL, target: str | Path) -> str:
    """The ``pg_dump`` command line for ``database_url`` writing ``target``,
    without the password (give it in ``PGPASSWORD`` or ``~/.pgpass``)."""
    given = make_url(database_url)
    # A new URL rather than URL.set(password=None), which leaves the password as it was.
    url = URL.create("postgresql", username=given.username, host=given.host, port=given.port,
                     database=given.database, query=given.query)
    dsn = url.render_as_string(hide_password=False)
    return f"pg_dump --format=custom --file={shlex.quote(str(target))} {shlex.quote(dsn)}"


def backup(database_url: str | URL, target: Path, *, force: bool = False) -> Backup:
    """Back up the database at ``database_url`` to the file ``target``: a
    SQLite copy, or :class:`UsePgDump` naming the command for PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        raise UsePgDump(f"flask backup copies SQLite databases only; on PostgreSQL use pg_dump: "
                        f"{pg_dump_command(url, target)}")
    if url.get_backend_name() != "sqlite":
        raise BackupRefused(f"Can't back up a {url.get_backend_name()} database.")
    if not url.database or url.database == ":memory:":
        raise BackupRefused("The database is in memory: there is no file to back up.")
    return backup_sqlite(Path(url.database), target, force=force)


def backup_sqlite(source: Path, target: Path, *, force: bool = False) -> Backup:
    """Copy the SQLite database ``source`` to ``target`` (see the module
    docstring). Refuses to replace an existing ``target`` unless ``force``;
    never writes over the source or its WAL."""
    source, target = source.resolve(), target.resolve()
    if not source.is_file():
        raise BackupRefused(f"No database file at {source}.")
    if target in {source, Path(f"{source}-wal"), Path(f"{source}-shm"), Path(f"{source}-journal")}:
        raise BackupRefused("The backup can't be written over the database itself: choose another path.")
    if target.is_dir():
        raise BackupRefused(f"{target} is a folder: give the backup a file name.")
    if not target.parent.is_dir():
        raise BackupRefused(f"No folder {target.parent}: create it first.")
    if target.exists() and not force:
        raise BackupRefused(f"{target} already exists: choose another path, or add --force to replace it.")
    partial = target.with_name(f".{target.name}.partial")
    try:
        _copy(source, partial)
        if target.exists() and not force:  # appeared while we copied
            raise BackupRefused(f"{target} already exists: choose another path, or add --force to replace it.")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(target, target.stat().st_size)


def _copy(source: Path, partial: Path) -> None:
    partial.unlink(missing_ok=True)
    # mode=rw: never create an empty database where the real one was expected.
    uri = f"file:{quote(str(source))}?mode=rw"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS)) as src, \
            contextlib.closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)  # all pages in one step: one consistent snapshot
        # A single self-contained file (the copy would otherwise keep WAL mode from the source's header).
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.commit()
    with open(partial, "rb") as written:
        os.fsync(written.fileno())
