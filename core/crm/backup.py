"""``crm db backup FILE`` and ``crm db restore FILE``: the whole database (the core's and every
plugin's tables, their migration versions, the sequences of document numbers) and the job
queue's pending work, in one file.

The file is a gzip'd tar archive:

* ``manifest.json``: what it holds (the database's kind, the migration revisions, when, how many
  queued tasks);
* ``database.sqlite`` (SQLite: a copy made with SQLite's online backup API, consistent while
  the server and workers write) or ``database.pgdump`` (PostgreSQL: ``pg_dump`` in its custom
  format, one consistent snapshot);
* ``queue.json``: the tasks waiting in the job queue (the SQLite file in the instance folder,
  or Redis with ``CRM_REDIS_URL``), scheduled ones included, as the queue stores them.

The queue is read before the database, so that a task queued meanwhile has its records in the
copy (a run started meanwhile is then in the copy as queued, and run once after a restore; a
task the worker took meanwhile finds its run already done and does nothing).

A restore replaces what the database holds with the backup (SQLite: page by page through the
backup API; PostgreSQL: ``pg_restore --clean`` in one transaction) and the queue's pending
tasks with the backup's. Stop the web server and the workers first. Restoring needs the same
kind of database as the backup's; a backup of older code is brought up to date afterwards
with ``crm db upgrade``.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import make_url

from crm import __version__
from crm.db import db
from crm.errors import CRMError

FORMAT = "crm-backup"
FORMAT_VERSION = 1
MANIFEST, QUEUE = "manifest.json", "queue.json"
DATABASE_FILE = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}


class BackupError(CRMError):
    code = "backup_failed"


@dataclass(frozen=True)
class Summary:
    """What a backup holds (its manifest)."""

    database: str
    created_at: str
    revisions: dict
    queued_tasks: int

    @classmethod
    def of(cls, manifest: dict) -> "Summary":
        return cls(manifest["database"], manifest["created_at"], manifest["revisions"], manifest["queued_tasks"])


def _kind(app: Flask) -> str:
    backend = make_url(app.config["DATABASE_URL"]).get_backend_name()
    if backend not in DATABASE_FILE:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {backend}")
    return backend


# --- backup -----------------------------------------------------------------------------------

def backup(app: Flask, target: str | os.PathLike) -> Summary:
    """Write a backup of ``app``'s database and queue to ``target`` (replaced only once the new
    backup is complete)."""
    from crm import migrate
    kind = _kind(app)
    target = Path(target)
    if target.is_dir():
        raise BackupError(f"{target} is a folder: name the backup file to write")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} does not exist: create the folder first")
    with db.engine(app).connect():  # unreachable: DatabaseUnavailable, before anything is written
        pass
    revisions = migrate.current_revisions(app)
    tasks = pending_tasks(app)  # before the database: see the module's docstring
    with tempfile.TemporaryDirectory(prefix="crm-backup-") as work:
        database = Path(work) / DATABASE_FILE[kind]
        (_sqlite_backup if kind == "sqlite" else _pg_dump)(app, database)
        manifest = {"format": FORMAT, "version": FORMAT_VERSION, "crm_version": __version__, "database": kind,
                    "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "revisions": revisions, "queued_tasks": len(tasks)}
        partial = target.with_name(target.name + ".partial")
        try:
            with tarfile.open(partial, "w:gz") as archive:
                _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode())
                archive.add(database, DATABASE_FILE[kind])
                _add_bytes(archive, QUEUE, json.dumps(tasks).encode())
            os.chmod(partial, 0o600)  # it holds everything: password hashes, the sync's secrets
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return Summary.of(manifest)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    import io
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(dt.datetime.now().timestamp())
    archive.addfile(info, io.BytesIO(data))


def _sqlite_backup(app: Flask, destination: Path) -> None:
    """SQLite's online backup API: a consistent copy while others write."""
    source = db.engine(app).raw_connection()
    try:
        copy = sqlite3.connect(destination)
        try:
            source.driver_connection.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()


def pending_tasks(app: Flask) -> list[dict]:
    """The queue's waiting tasks (queued, then scheduled), as stored, base64-encoded."""
    from crm.worker import queue
    storage = queue(app).storage
    try:
        items = [*storage.enqueued_items(), *storage.scheduled_items()]
    except Exception as exc:  # noqa: BLE001  Redis down, the queue file unreadable
        raise BackupError(f"the job queue cannot be read: {exc}") from exc
    return [{"data": base64.b64encode(item).decode("ascii")} for item in items]


# --- PostgreSQL tools -------------------------------------------------------------------------

def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed: install PostgreSQL's client tools (Debian: apt-get install "
                          f"postgresql-client), of the server's version or newer")
    return path


def _libpq(app: Flask) -> tuple[str, dict]:
    """The database URL as libpq takes it, and the environment carrying its password (kept off
    the command line, which other users of the machine can read)."""
    url = make_url(app.config["DATABASE_URL"])
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict, what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(f"{what} failed: {lines[0] if lines else f'exit status {done.returncode}'}")


def _pg_dump(app: Flask, destination: Path) -> None:
    url, env = _libpq(app)
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={destination}",
          f"--dbname={url}"], env, "pg_dump")


# --- restore ----------------------------------------------------------------------------------

def read_summary(source: str | os.PathLike) -> Summary:
    """What the backup at ``source`` holds; a clear error when it is not one."""
    with _open(source) as archive:
        return Summary.of(_manifest(archive))


def _open(source) -> tarfile.TarFile:
    path = Path(source)
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    try:
        return tarfile.open(path, "r:gz")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{path} is not a backup of this CRM (crm db backup makes them): {exc}") from exc


def _manifest(archive: tarfile.TarFile) -> dict:
    try:
        manifest = json.load(archive.extractfile(MANIFEST))
    except (KeyError, ValueError, tarfile.TarError) as exc:
        raise BackupError("not a backup of this CRM (crm db backup makes them): no manifest") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise BackupError(f"not a backup this version can restore (format {manifest.get('format')!r}, "
                          f"version {manifest.get('version')!r})")
    return manifest


def restore(app: Flask, source: str | os.PathLike) -> Summary:
    """Replace ``app``'s database and the queue's pending tasks with the backup's."""
    kind = _kind(app)
    with db.engine(app).connect():  # unreachable: DatabaseUnavailable, before anything is read
        pass
    with _open(source) as archive, tempfile.TemporaryDirectory(prefix="crm-restore-") as work:
        manifest = _manifest(archive)
        if manifest["database"] != kind:
            raise BackupError(f"this is a backup of a {manifest['database']} database; the database to restore "
                              f"into is {kind} (restore into the same kind)")
        database = Path(work) / DATABASE_FILE[kind]
        try:
            with archive.extractfile(DATABASE_FILE[kind]) as member, database.open("wb") as out:
                shutil.copyfileobj(member, out)
            tasks = json.load(archive.extractfile(QUEUE))
        except (KeyError, ValueError, tarfile.TarError, OSError) as exc:
            raise BackupError(f"the backup is incomplete or damaged: {exc}") from exc
        db.engine(app).dispose()  # no connection of ours keeps the old database's state
        (_sqlite_restore if kind == "sqlite" else _pg_restore)(app, database)
        db.engine(app).dispose()
    _restore_tasks(app, tasks)
    return Summary.of(manifest)


def _sqlite_restore(app: Flask, source: Path) -> None:
    """Copy the backup's pages over the database, through the backup API (the WAL and the
    connections of the database are kept right; a file copy would not)."""
    backup_copy = sqlite3.connect(source)
    try:
        if backup_copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the backup's database is damaged (SQLite's integrity check failed)")
        target = db.engine(app).raw_connection()
        try:
            backup_copy.backup(target.driver_connection)
        finally:
            target.close()
    finally:
        backup_copy.close()


def _pg_restore(app: Flask, source: Path) -> None:
    url, env = _libpq(app)
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={url}", str(source)], env, "pg_restore")


def _restore_tasks(app: Flask, tasks: list[dict]) -> None:
    """The queue's pending tasks become the backup's (a scheduled one waits for its time again
    once a worker takes it)."""
    from crm.worker import queue
    storage = queue(app).storage
    try:
        storage.flush_queue()
        storage.flush_schedule()
        for task in tasks:
            storage.enqueue(base64.b64decode(task["data"]))
    except Exception as exc:  # noqa: BLE001
        raise BackupError(f"the database is restored, but the job queue cannot be written: {exc}") from exc
